//! Choosing where tensors live: a [`DeviceRequest`] (`--device auto|cpu|cuda`) resolved to a libtorch
//! device.

pub use crate::run::config::DeviceRequest;
pub use tch::Device;

/// CUDA was asked for but libtorch sees no GPU.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--device cuda: no CUDA device is available to libtorch (allowed here: auto, cpu)")]
pub struct NoCuda;

/// Resolves a request to a libtorch device.
pub fn resolve(request: DeviceRequest) -> Result<tch::Device, NoCuda> {
    match request {
        DeviceRequest::Cpu => Ok(tch::Device::Cpu),
        DeviceRequest::Auto => Ok(tch::Device::cuda_if_available()),
        DeviceRequest::Cuda if tch::Cuda::is_available() => Ok(tch::Device::Cuda(0)),
        DeviceRequest::Cuda => Err(NoCuda),
    }
}

/// One libtorch intra-op thread on this thread and on every rayon worker, as in training: on a busy
/// two-core machine libtorch's own threads would fight the environment for the cores (15-60x slower).
/// The setting is per thread, and evaluation episodes are played on rayon's workers, whose matrix
/// products go through libtorch's BLAS (OpenMP).
pub fn one_intra_op_thread_everywhere() {
    tch::set_num_threads(1);
    rayon::broadcast(|_| tch::set_num_threads(1));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Links and runs libtorch: a small matrix product on the resolved device.
    #[test]
    fn libtorch_computes_on_the_resolved_device() {
        let device = resolve(DeviceRequest::Auto).unwrap();
        let a = tch::Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0])
            .reshape([2, 2])
            .to_device(device);
        let b = a.matmul(&a).to_device(tch::Device::Cpu);
        let v: Vec<f32> = Vec::<f32>::try_from(b.reshape([4])).unwrap();
        assert_eq!(v, [7.0, 10.0, 15.0, 22.0]);
        assert_eq!(resolve(DeviceRequest::Cpu).unwrap(), tch::Device::Cpu);
        if !tch::Cuda::is_available() {
            assert_eq!(resolve(DeviceRequest::Cuda), Err(NoCuda));
        }
    }
}
