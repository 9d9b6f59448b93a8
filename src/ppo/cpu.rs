//! The CPU path of the actor-critic: forward pass, PPO loss with its hand-derived gradient, gradient
//! clipping and Adam, in Rust loops over the flat parameter tensor's memory, with matrix products from
//! the BLAS inside libtorch (`sgemm_`, found at run time) or, without one, the `matrixmultiply` crate.
//!
//! Why: the networks are small (two hidden layers of 64) and a minibatch is a few hundred rows, so
//! libtorch spends most of its time dispatching ~200 tiny operations and building the autograd graph,
//! and its tanh (MKL's high-accuracy mode) costs more than the matrix products. Here a minibatch step is
//! eleven matrix products and a few vectorised loops. The result is the same function as
//! [`super::net::ActorCritic::evaluate`] + [`super::loss::ppo_loss`] + backward + [`super::adam`]
//! (tested against them to float rounding); the libtorch path remains for CUDA.
//!
//! Gradient of the loss (per minibatch of `n`; `p`, `lp` a head's masked probabilities and
//! log-probabilities, `H_h` its entropy, `a_h` the chosen bin):
//!
//! ```text
//! ∂L/∂logπ  = (1/n) · (−Â·r) · (w₁ + w₂·[1−c ≤ r ≤ 1+c])      w = which side of the max is active (½, ½ on ties)
//! ∂L/∂l_k   = ∂L/∂logπ · (1[k = a_h] − p_k) + (ent_coef/n) · p_k · (lp_k + H_h)   (allowed bins; 0 if masked)
//! ∂L/∂V     = (vf_coef/n) · (w₁·(V − R) + w₂·(V_clip − R)·[|V − V_old| ≤ c])     (clip_vloss; else (vf_coef/n)·(V − R))
//! ```

use std::sync::OnceLock;

use super::loss::LossCoefs;

/// Where each parameter block of the flat layout starts (see [`super::net`]), and the sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Observation length.
    pub i: usize,
    /// Hidden width.
    pub h: usize,
    /// Logits (Σ nvec).
    pub m: usize,
    /// `[2h, i]`: actor then critic first-layer weights.
    pub w0: usize,
    /// `[2h]`.
    pub b0: usize,
    /// `[2, h, h]`.
    pub w1: usize,
    /// `[2, h]`.
    pub b1: usize,
    /// `[m, h]`.
    pub w2a: usize,
    /// `[m]`.
    pub b2a: usize,
    /// `[h]`.
    pub w2c: usize,
    /// `[1]`.
    pub b2c: usize,
    /// Number of parameters.
    pub len: usize,
}

impl Layout {
    /// The layout of [`super::net::ActorCritic`] for these sizes, read from the network's own slot list
    /// ([`super::net::slots`]); None if that list lacks a block the CPU path needs or does not place
    /// the critic's first two layers right after the actor's (the fused layout).
    pub fn new(i: usize, h: usize, m: usize) -> Option<Self> {
        use super::net::{offset_of, slots, total_len};
        let s = slots(i, h, m);
        let at = |name: &str| offset_of(&s, name);
        let lay = Layout {
            i,
            h,
            m,
            w0: at("actor0.weight")?,
            b0: at("actor0.bias")?,
            w1: at("actor1.weight")?,
            b1: at("actor1.bias")?,
            w2a: at("actor2.weight")?,
            b2a: at("actor2.bias")?,
            w2c: at("critic2.weight")?,
            b2c: at("critic2.bias")?,
            len: total_len(&s),
        };
        // The fused blocks: `[2h, i]`, `[2h]`, `[2, h, h]`, `[2, h]` with the critic's half second.
        let fused = at("critic0.weight")? == lay.w0 + h * i
            && at("critic0.bias")? == lay.b0 + h
            && at("critic1.weight")? == lay.w1 + h * h
            && at("critic1.bias")? == lay.b1 + h;
        fused.then_some(lay)
    }
}

/// The memory of a contiguous `f32` tensor on the CPU, or `None` for any other tensor.
///
/// # Safety
/// A tch `Tensor` is a handle: other tensors (views, shallow clones, autograd's saved tensors) can
/// share its storage without borrowing it. The caller guarantees that no tensor sharing `t`'s storage
/// is read or written while the slice lives. The owners of the tensors this is used on state how
/// they keep that rule: [`super::net::ActorCritic::cpu_params_mut`] and
/// [`super::adam::Adam::cpu_moments_mut`].
pub(crate) unsafe fn slice_mut(t: &mut tch::Tensor) -> Option<&mut [f32]> {
    if t.device() != tch::Device::Cpu || t.kind() != tch::Kind::Float || !t.is_contiguous() {
        return None;
    }
    let n = t.numel();
    // SAFETY: a contiguous CPU float tensor holds `numel` f32 at `data_ptr`; exclusive use of that
    // memory is the caller's promise (above).
    Some(unsafe { std::slice::from_raw_parts_mut(t.data_ptr() as *mut f32, n) })
}

/// Read-only [`slice_mut`]: the shared borrow lets others read, and writers go through `slice_mut`,
/// whose callers exclude readers.
pub fn slice(t: &tch::Tensor) -> Option<&[f32]> {
    if t.device() != tch::Device::Cpu || t.kind() != tch::Kind::Float || !t.is_contiguous() {
        return None;
    }
    // SAFETY: as in `slice_mut`; the shared borrow keeps writers away.
    Some(unsafe { std::slice::from_raw_parts(t.data_ptr() as *const f32, t.numel()) })
}

// ---- matrix products ----

type Sgemm = unsafe extern "C" fn(
    *const u8,
    *const u8,
    *const i32,
    *const i32,
    *const i32,
    *const f32,
    *const f32,
    *const i32,
    *const f32,
    *const i32,
    *const f32,
    *mut f32,
    *const i32,
);

/// The Fortran `sgemm_` of the BLAS libtorch was built with (MKL in PyTorch's x86 wheels), if the
/// process has one and it passes [`blas_probe`] (else the products use `matrixmultiply`).
fn blas() -> Option<Sgemm> {
    static BLAS: OnceLock<Option<Sgemm>> = OnceLock::new();
    *BLAS.get_or_init(|| {
        if std::env::var_os("COMMONS_RL_NO_BLAS").is_some() {
            return None;
        }
        // SAFETY: dlsym with a valid C string; a non-null result is the symbol's address. Its
        // signature is the reference BLAS `sgemm_`; the integer width is made harmless by
        // [`BlasInt`] and the answer checked by the probe before the function is used.
        let f = unsafe {
            let f = libc::dlsym(libc::RTLD_DEFAULT, c"sgemm_".as_ptr());
            (!f.is_null()).then(|| std::mem::transmute::<*mut libc::c_void, Sgemm>(f))
        }?;
        if blas_probe(f) {
            Some(f)
        } else {
            eprintln!("warning: libtorch's BLAS (sgemm_) failed a 2x2 check against a known product; using matrixmultiply instead");
            None
        }
    })
}

/// An integer argument of `sgemm_`, zero-extended to 64 bits: an LP64 BLAS (32-bit integers) reads
/// the low half, which on a little-endian machine is the value, and an ILP64 BLAS (64-bit integers)
/// reads all of it, the same value. So the call is right under either width, and a library that
/// reads it otherwise (a big-endian LP64 one, say) fails [`blas_probe`] instead of reading past a
/// matrix.
#[derive(Clone, Copy)]
struct BlasInt(i64);

impl BlasInt {
    fn ptr(&self) -> *const i32 {
        &self.0 as *const i64 as *const i32
    }
}

/// Whether `f` computes known products: `[[1,2],[3,4]]·[[5,6],[7,8]] = [[19,22],[43,50]]`, the same
/// with the first factor transposed (`[[26,30],[38,44]]`), and `α·A·B + β·C` with α = 2, β = −1.
/// Run once, at the first lookup, before any other product uses `f`.
fn blas_probe(f: Sgemm) -> bool {
    let a = [1.0f32, 2.0, 3.0, 4.0];
    let b = [5.0f32, 6.0, 7.0, 8.0];
    let cases: [(bool, f32, f32, [f32; 4]); 3] = [
        (false, 1.0, 0.0, [19.0, 22.0, 43.0, 50.0]),
        (true, 1.0, 0.0, [26.0, 30.0, 38.0, 44.0]),
        (false, 2.0, -1.0, [37.0, 43.0, 85.0, 99.0]),
    ];
    cases.iter().all(|&(ta, alpha, beta, want)| {
        let mut c = [1.0f32; 4];
        gemm_with(
            Some(f),
            ta,
            false,
            2,
            2,
            2,
            alpha,
            &a,
            2,
            &b,
            2,
            beta,
            &mut c,
            2,
        );
        c == want
    })
}

/// Whether the matrix products use libtorch's BLAS (else `matrixmultiply`).
pub fn uses_blas() -> bool {
    blas().is_some()
}

/// Row-major `C[m×n] = α·op(A)·op(B) + β·C`, `op(X) = Xᵀ` when `t_x`; `ld*` are row strides.
#[allow(clippy::too_many_arguments)]
fn gemm(
    ta: bool,
    tb: bool,
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) {
    gemm_with(blas(), ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

/// [`gemm`] with the BLAS `f`, or `matrixmultiply` for `None`.
#[allow(clippy::too_many_arguments)]
fn gemm_with(
    f: Option<Sgemm>,
    ta: bool,
    tb: bool,
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    // The last element each matrix is read or written at must be inside its slice.
    let (ar, ac) = if ta { (k, m) } else { (m, k) };
    let (br, bc) = if tb { (n, k) } else { (k, n) };
    assert!(
        ar == 0 || a.len() >= (ar - 1) * lda + ac,
        "gemm: A too short"
    );
    assert!(
        br == 0 || b.len() >= (br - 1) * ldb + bc,
        "gemm: B too short"
    );
    assert!(c.len() >= (m - 1) * ldc + n, "gemm: C too short");
    assert!(
        lda >= ac && ldb >= bc && ldc >= n,
        "gemm: a row stride below its row length"
    );
    if let Some(f) = f {
        // Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ with the same strides.
        let flag = |t: bool| if t { b"T".as_ptr() } else { b"N".as_ptr() };
        let int = |x: usize| {
            BlasInt(i32::try_from(x).expect("gemm: a size beyond BLAS's 32-bit integers") as i64)
        };
        let (m_, n_, k_) = (int(n), int(m), int(k));
        let (lda_, ldb_, ldc_) = (int(lda), int(ldb), int(ldc));
        // SAFETY: sizes and strides describe sub-slices checked above; BLAS reads A and B and writes
        // C; each integer is an 8-byte slot ([`BlasInt`]), right for 32- and 64-bit integers alike.
        unsafe {
            f(
                flag(tb),
                flag(ta),
                m_.ptr(),
                n_.ptr(),
                k_.ptr(),
                &alpha,
                b.as_ptr(),
                ldb_.ptr(),
                a.as_ptr(),
                lda_.ptr(),
                &beta,
                c.as_mut_ptr(),
                ldc_.ptr(),
            );
        }
        return;
    }
    let (rsa, csa) = if ta { (1, lda) } else { (lda, 1) };
    let (rsb, csb) = if tb { (1, ldb) } else { (ldb, 1) };
    // SAFETY: as above; matrixmultiply takes element strides.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            alpha,
            a.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            beta,
            c.as_mut_ptr(),
            ldc as isize,
            1,
        );
    }
}

/// `tanh` by Eigen's rational approximation (13/6 degree, clamped at ±7.9; within 5e-7 of `f32::tanh`),
/// which vectorises, unlike libm's.
#[inline]
pub fn tanh(x: f32) -> f32 {
    const A: [f32; 7] = [
        4.893_524_6e-3,
        6.372_619_3e-4,
        1.485_722_4e-5,
        5.122_297e-8,
        -8.604_672e-11,
        2.000_188e-13,
        -2.760_768_5e-16,
    ];
    const B: [f32; 4] = [4.893_525e-3, 2.268_434_6e-3, 1.185_347_1e-4, 1.198_258_4e-6];
    let x = x.clamp(-7.905_311, 7.905_311);
    let x2 = x * x;
    let mut p = A[6];
    for &a in A[..6].iter().rev() {
        p = p * x2 + a;
    }
    let p = p * x;
    let q = ((B[3] * x2 + B[2]) * x2 + B[1]) * x2 + B[0];
    p / q
}

/// Adds `bias` to every row of `x` (`cols` wide, row stride `ld`) and applies [`tanh`].
fn bias_tanh(x: &mut [f32], rows: usize, cols: usize, ld: usize, bias: &[f32]) {
    for r in 0..rows {
        for (v, b) in x[r * ld..r * ld + cols].iter_mut().zip(bias) {
            *v = tanh(*v + b);
        }
    }
}

fn add_bias(x: &mut [f32], rows: usize, cols: usize, bias: &[f32]) {
    for row in x.chunks_mut(cols).take(rows) {
        for (v, b) in row.iter_mut().zip(bias) {
            *v += b;
        }
    }
}

/// Sums of the columns of `x` (`rows × cols`, row stride `ld`) into `out` (added to it).
fn col_sums(x: &[f32], rows: usize, cols: usize, ld: usize, out: &mut [f32]) {
    for r in 0..rows {
        for (o, v) in out.iter_mut().zip(&x[r * ld..r * ld + cols]) {
            *o += v;
        }
    }
}

/// The activations of one forward pass (kept for the backward pass).
#[derive(Clone, Debug, Default)]
pub struct Activations {
    /// Rows.
    pub n: usize,
    /// `[n, 2h]`: first hidden layer of actor (first `h`) and critic.
    h1: Vec<f32>,
    /// `[n, h]`.
    h2a: Vec<f32>,
    /// `[n, h]`.
    h2c: Vec<f32>,
    /// `[n, m]`.
    pub logits: Vec<f32>,
    /// `[n]`.
    pub values: Vec<f32>,
}

/// Logits and values of `x` (`n × i`, row-major) under `params` (the flat layout).
pub fn forward(params: &[f32], lay: &Layout, x: &[f32], n: usize, act: &mut Activations) {
    let Layout { i, h, m, .. } = *lay;
    act.n = n;
    act.h1.resize(n * 2 * h, 0.0);
    act.h2a.resize(n * h, 0.0);
    act.h2c.resize(n * h, 0.0);
    act.logits.resize(n * m, 0.0);
    act.values.resize(n, 0.0);
    if n == 0 {
        return;
    }
    let p = params;
    // Z1 = X·W0ᵀ (W0 is [2h, i]).
    gemm(
        false,
        true,
        n,
        2 * h,
        i,
        1.0,
        x,
        i,
        &p[lay.w0..],
        i,
        0.0,
        &mut act.h1,
        2 * h,
    );
    bias_tanh(&mut act.h1, n, 2 * h, 2 * h, &p[lay.b0..lay.b0 + 2 * h]);
    for (side, out) in [(0, &mut act.h2a), (1, &mut act.h2c)] {
        let w = &p[lay.w1 + side * h * h..];
        gemm(
            false,
            true,
            n,
            h,
            h,
            1.0,
            &act.h1[side * h..],
            2 * h,
            w,
            h,
            0.0,
            out,
            h,
        );
        bias_tanh(out, n, h, h, &p[lay.b1 + side * h..lay.b1 + (side + 1) * h]);
    }
    gemm(
        false,
        true,
        n,
        m,
        h,
        1.0,
        &act.h2a,
        h,
        &p[lay.w2a..],
        h,
        0.0,
        &mut act.logits,
        m,
    );
    add_bias(&mut act.logits, n, m, &p[lay.b2a..lay.b2a + m]);
    let (w2c, b2c) = (&p[lay.w2c..lay.w2c + h], p[lay.b2c]);
    for (v, row) in act.values.iter_mut().zip(act.h2c.chunks(h)) {
        *v = row.iter().zip(w2c).map(|(a, b)| a * b).sum::<f32>() + b2c;
    }
}

/// One minibatch, gathered into contiguous rows.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    /// Rows.
    pub n: usize,
    /// `[n, i]` normalised observations.
    pub obs: Vec<f32>,
    /// `[n, m]` masks.
    pub masks: Vec<bool>,
    /// `[n, heads]` chosen bins.
    pub actions: Vec<i64>,
    /// `[n]`.
    pub old_logp: Vec<f32>,
    /// `[n]`.
    pub old_values: Vec<f32>,
    /// `[n]`.
    pub advantages: Vec<f32>,
    /// `[n]`.
    pub returns: Vec<f32>,
}

/// The loss of a minibatch and its parts (as in [`super::loss::Loss`], as numbers).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LossValues {
    /// `L`.
    pub total: f64,
    /// `L_pg`.
    pub policy: f64,
    /// `L_v`.
    pub value: f64,
    /// Mean entropy.
    pub entropy: f64,
    /// Approximate KL.
    pub approx_kl: f64,
    /// Share of clipped ratios.
    pub clipfrac: f64,
}

/// Scratch space of one half of a minibatch.
#[derive(Clone, Debug, Default)]
struct Half {
    act: Activations,
    dlogits: Vec<f32>,
    dvalues: Vec<f32>,
    dh2: Vec<f32>,
    dh1: Vec<f32>,
    lp: Vec<f32>,
    probs: Vec<f32>,
    grad: Vec<f32>,
}

/// Scratch space of [`loss_and_grad`].
#[derive(Clone, Debug, Default)]
pub struct Scratch {
    halves: [Half; 2],
}

/// Minibatches of at least this many rows are split into two halves computed on two threads (a fixed
/// split, so the sums, and the result, do not depend on the number of threads).
pub const SPLIT_ROWS: usize = 512;

/// Rows `[from, to)` of a [`Batch`].
#[derive(Clone, Copy)]
struct Rows<'a> {
    n: usize,
    obs: &'a [f32],
    masks: &'a [bool],
    actions: &'a [i64],
    old_logp: &'a [f32],
    old_values: &'a [f32],
    advantages: &'a [f32],
    returns: &'a [f32],
}

impl Batch {
    fn rows(&self, from: usize, to: usize, i: usize, m: usize, heads: usize) -> Rows<'_> {
        Rows {
            n: to - from,
            obs: &self.obs[from * i..to * i],
            masks: &self.masks[from * m..to * m],
            actions: &self.actions[from * heads..to * heads],
            old_logp: &self.old_logp[from..to],
            old_values: &self.old_values[from..to],
            advantages: &self.advantages[from..to],
            returns: &self.returns[from..to],
        }
    }
}

/// Weights of the two sides of `max(a, b)` in its gradient (libtorch's rule: all to the larger, half
/// each on a tie).
fn max_weights(a: f32, b: f32) -> (f32, f32) {
    if a > b {
        (1.0, 0.0)
    } else if b > a {
        (0.0, 1.0)
    } else {
        (0.5, 0.5)
    }
}

/// The PPO loss of `batch` and its gradient with respect to `params`, written into `grad` (see the
/// module doc). Minibatches of [`SPLIT_ROWS`] rows or more are computed as two halves in parallel.
#[allow(clippy::too_many_arguments)]
pub fn loss_and_grad(
    params: &[f32],
    lay: &Layout,
    nvec: &[usize],
    batch: &Batch,
    c: LossCoefs,
    s: &mut Scratch,
    grad: &mut [f32],
) -> LossValues {
    let n = batch.n;
    grad.fill(0.0);
    if n == 0 {
        return LossValues::default();
    }
    // Advantage normalisation over the whole minibatch (sample standard deviation, as torch's `std`).
    let adv_stats = if c.norm_adv && n > 1 {
        let mean = batch.advantages.iter().map(|&a| a as f64).sum::<f64>() / n as f64;
        let var = batch
            .advantages
            .iter()
            .map(|&a| (a as f64 - mean).powi(2))
            .sum::<f64>()
            / (n - 1) as f64;
        (mean as f32, var.sqrt() as f32)
    } else {
        (0.0, 1.0 - 1e-8)
    };
    let (i, m, heads) = (lay.i, lay.m, nvec.len());
    let [h0, h1] = &mut s.halves;
    let sums = if n >= SPLIT_ROWS {
        let mid = n / 2;
        let (first, second) = (
            batch.rows(0, mid, i, m, heads),
            batch.rows(mid, n, i, m, heads),
        );
        let (a, b) = rayon::join(
            || partial(params, lay, nvec, first, n, c, adv_stats, h0),
            || partial(params, lay, nvec, second, n, c, adv_stats, h1),
        );
        for ((g, x), y) in grad.iter_mut().zip(&h0.grad).zip(&h1.grad) {
            *g = x + y;
        }
        [
            a[0] + b[0],
            a[1] + b[1],
            a[2] + b[2],
            a[3] + b[3],
            a[4] + b[4],
        ]
    } else {
        let a = partial(
            params,
            lay,
            nvec,
            batch.rows(0, n, i, m, heads),
            n,
            c,
            adv_stats,
            h0,
        );
        grad.copy_from_slice(&h0.grad);
        a
    };
    let nf = n as f64;
    let mut out = LossValues {
        policy: sums[0] / nf,
        value: 0.5 * sums[1] / nf,
        entropy: sums[2] / nf,
        approx_kl: sums[3] / nf,
        clipfrac: sums[4] / nf,
        total: 0.0,
    };
    out.total = out.policy - c.ent_coef * out.entropy + c.vf_coef * out.value;
    out
}

/// Forward, loss and backward of `rows` (part of a minibatch of `n_total` rows, advantages normalised
/// with `(mean, std)`): the gradient into `s.grad`, and the sums over the rows of the policy loss, the
/// (unhalved) value loss, the entropy, the approximate KL and the clipped count.
#[allow(clippy::too_many_arguments)]
fn partial(
    params: &[f32],
    lay: &Layout,
    nvec: &[usize],
    rows: Rows,
    n_total: usize,
    c: LossCoefs,
    (mean_a, std_a): (f32, f32),
    s: &mut Half,
) -> [f64; 5] {
    let m = lay.m;
    let n = rows.n;
    let heads = nvec.len();
    forward(params, lay, rows.obs, n, &mut s.act);
    let inv_n = 1.0 / n_total as f32;
    // Masked entries of `lp` and `probs` are never read; `dlogits` must be 0 there.
    s.lp.resize(n * m, 0.0);
    s.probs.resize(m, 0.0);
    s.dlogits.clear();
    s.dlogits.resize(n * m, 0.0);
    s.dvalues.resize(n, 0.0);
    let clip = c.clip_coef as f32;
    let mut sums = [0.0f64; 5];
    let mut head_entropy = vec![0.0f32; heads];
    for j in 0..n {
        let l = &s.act.logits[j * m..(j + 1) * m];
        let mask = &rows.masks[j * m..(j + 1) * m];
        let lp = &mut s.lp[j * m..(j + 1) * m];
        let probs = &mut s.probs;
        let (mut logp, mut ent) = (0.0f32, 0.0f32);
        let mut o = 0;
        for (hd, &bins) in nvec.iter().enumerate() {
            let (lh, mh) = (&l[o..o + bins], &mask[o..o + bins]);
            let max = super::sampling::masked_max(lh, mh);
            // One exponential per bin: e_k = exp(l_k − max), p_k = e_k / z, lp_k = l_k − max − ln z.
            let mut z = 0.0f32;
            for k in 0..bins {
                if mh[k] {
                    let e = (lh[k] - max).exp();
                    probs[o + k] = e;
                    z += e;
                }
            }
            let (ln_z, inv_z) = (z.ln(), 1.0 / z);
            let mut hh = 0.0f32;
            for k in 0..bins {
                if mh[k] {
                    let v = lh[k] - max - ln_z;
                    lp[o + k] = v;
                    probs[o + k] *= inv_z;
                    hh -= probs[o + k] * v;
                }
            }
            head_entropy[hd] = hh;
            ent += hh;
            let a = rows.actions[j * heads + hd] as usize;
            logp += lp[o + a];
            o += bins;
        }
        let logratio = logp - rows.old_logp[j];
        let r = logratio.exp();
        sums[3] += ((r - 1.0) - logratio) as f64;
        sums[4] += ((r - 1.0).abs() > clip) as u8 as f64;
        let adv = (rows.advantages[j] - mean_a) / (std_a + 1e-8);
        let rc = r.clamp(1.0 - clip, 1.0 + clip);
        let (pg1, pg2) = (-adv * r, -adv * rc);
        sums[0] += pg1.max(pg2) as f64;
        let (w1, w2) = max_weights(pg1, pg2);
        let inside = (r >= 1.0 - clip && r <= 1.0 + clip) as u8 as f32;
        let g_logp = inv_n * (-adv * r) * (w1 + w2 * inside);
        sums[2] += ent as f64;
        let g_ent = -(c.ent_coef as f32) * inv_n;
        // Logits.
        let dl = &mut s.dlogits[j * m..(j + 1) * m];
        let mut o = 0;
        for (hd, &bins) in nvec.iter().enumerate() {
            let a = rows.actions[j * heads + hd] as usize;
            for k in 0..bins {
                if mask[o + k] {
                    let (lpk, pk) = (lp[o + k], probs[o + k]);
                    let onehot = (k == a) as u8 as f32;
                    // ∂H/∂l_k = −p_k (lp_k + H_h); L has −ent_coef·mean H.
                    dl[o + k] = g_logp * (onehot - pk) + g_ent * (-pk * (lpk + head_entropy[hd]));
                }
            }
            o += bins;
        }
        // Value.
        let (v, ov, ret) = (s.act.values[j], rows.old_values[j], rows.returns[j]);
        let vf = c.vf_coef as f32;
        let dv = if c.clip_vloss {
            let delta = (v - ov).clamp(-clip, clip);
            let vc = ov + delta;
            let (u, cl) = ((v - ret) * (v - ret), (vc - ret) * (vc - ret));
            sums[1] += u.max(cl) as f64;
            let (w1, w2) = max_weights(u, cl);
            let inside = ((v - ov) >= -clip && (v - ov) <= clip) as u8 as f32;
            inv_n * (w1 * (v - ret) + w2 * (vc - ret) * inside)
        } else {
            sums[1] += ((v - ret) * (v - ret)) as f64;
            inv_n * (v - ret)
        };
        s.dvalues[j] = vf * dv;
    }
    s.grad.resize(lay.len, 0.0);
    s.grad.fill(0.0);
    backward(params, lay, rows.obs, n, s);
    sums
}

/// Gradients of the parameters (into `s.grad`, zeroed) from `s.dlogits` and `s.dvalues` through the
/// activations of `s.act` for the `n` rows of `obs`.
fn backward(params: &[f32], lay: &Layout, obs: &[f32], n: usize, s: &mut Half) {
    let Layout { i, h, m, .. } = *lay;
    let act = &s.act;
    let g = &mut s.grad;
    // Actor head: gW2a = dlogitsᵀ·H2a, gb2a = Σ dlogits, dH2a = dlogits·W2a.
    gemm(
        true,
        false,
        m,
        h,
        n,
        1.0,
        &s.dlogits,
        m,
        &act.h2a,
        h,
        0.0,
        &mut g[lay.w2a..],
        h,
    );
    col_sums(&s.dlogits, n, m, m, &mut g[lay.b2a..lay.b2a + m]);
    // Every entry of these buffers is written below (matrix products with β = 0), so they are only
    // resized, never cleared.
    s.dh2.resize(2 * n * h, 0.0);
    let (dh2a, dh2c) = s.dh2.split_at_mut(n * h);
    gemm(
        false,
        false,
        n,
        h,
        m,
        1.0,
        &s.dlogits,
        m,
        &params[lay.w2a..],
        h,
        0.0,
        dh2a,
        h,
    );
    // Critic head: gw2c = H2cᵀ·dv, gb2c = Σ dv, dH2c = dv ⊗ w2c.
    let w2c = &params[lay.w2c..lay.w2c + h];
    for j in 0..n {
        let dv = s.dvalues[j];
        let row = &act.h2c[j * h..(j + 1) * h];
        for k in 0..h {
            g[lay.w2c + k] += row[k] * dv;
            dh2c[j * h + k] = dv * w2c[k];
        }
        g[lay.b2c] += dv;
    }
    // Through tanh: dZ = dH ⊙ (1 − H²).
    for (d, y) in dh2a.iter_mut().zip(&act.h2a) {
        *d *= 1.0 - y * y;
    }
    for (d, y) in dh2c.iter_mut().zip(&act.h2c) {
        *d *= 1.0 - y * y;
    }
    s.dh1.resize(n * 2 * h, 0.0);
    for (side, dz) in [(0, &*dh2a), (1, &*dh2c)] {
        let (w, b) = (lay.w1 + side * h * h, lay.b1 + side * h);
        // gW1 = dZ2ᵀ·H1(side), gb1 = Σ dZ2, dH1(side) = dZ2·W1.
        gemm(
            true,
            false,
            h,
            h,
            n,
            1.0,
            dz,
            h,
            &act.h1[side * h..],
            2 * h,
            0.0,
            &mut g[w..],
            h,
        );
        col_sums(dz, n, h, h, &mut g[b..b + h]);
        gemm(
            false,
            false,
            n,
            h,
            h,
            1.0,
            dz,
            h,
            &params[w..],
            h,
            0.0,
            &mut s.dh1[side * h..],
            2 * h,
        );
    }
    for (d, y) in s.dh1.iter_mut().zip(&act.h1) {
        *d *= 1.0 - y * y;
    }
    // gW0 = dZ1ᵀ·X, gb0 = Σ dZ1.
    gemm(
        true,
        false,
        2 * h,
        i,
        n,
        1.0,
        &s.dh1,
        2 * h,
        obs,
        i,
        0.0,
        &mut g[lay.w0..],
        i,
    );
    col_sums(&s.dh1, n, 2 * h, 2 * h, &mut g[lay.b0..lay.b0 + 2 * h]);
}

/// Scales `grad` so that its norm is at most `max` (factor `min(1, max / (‖g‖ + 1e-6))`).
pub fn clip_grad_norm(grad: &mut [f32], max: f64) {
    let norm = grad
        .iter()
        .map(|&g| (g as f64) * (g as f64))
        .sum::<f64>()
        .sqrt();
    let coef = (max / (norm + 1e-6)).min(1.0) as f32;
    if coef < 1.0 {
        for g in grad {
            *g *= coef;
        }
    }
}

/// One Adam step (the formula of [`super::adam`]) of `params` along `grad`; `steps` is the count after
/// this step.
#[allow(clippy::too_many_arguments)]
pub fn adam_step(
    params: &mut [f32],
    grad: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    steps: u64,
    lr: f64,
    (b1, b2): (f64, f64),
    eps: f64,
) {
    let t = steps as f64;
    let bias1 = 1.0 - b1.powf(t);
    let bias2_sqrt = (1.0 - b2.powf(t)).sqrt() as f32;
    let step = (-lr / bias1) as f32;
    let (b1f, b2f, eps) = (b1 as f32, b2 as f32, eps as f32);
    for (((p, &g), m), v) in params.iter_mut().zip(grad).zip(exp_avg).zip(exp_avg_sq) {
        *m = *m * b1f + g * (1.0 - b1f);
        *v = *v * b2f + (g * (1.0 - b2f)) * g;
        let denom = v.sqrt() / bias2_sqrt + eps;
        *p += (*m * step) / denom;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ppo::loss::{ppo_loss, Minibatch};
    use crate::ppo::net::ActorCritic;
    use rand::{Rng, SeedableRng};
    use tch::{Device, Kind, Tensor};

    /// A minibatch of `n` random rows for a network with heads `nvec`, some bins masked, actions
    /// allowed, and old log-probabilities around the current ones (so ratios fall on both sides of the
    /// clip range).
    fn random_batch(net: &ActorCritic, n: usize, seed: u64) -> Batch {
        let mut rng = rand_pcg::Pcg32::seed_from_u64(seed);
        let (i, m) = (net.obs_len, net.nvec.iter().sum::<usize>());
        let obs: Vec<f32> = (0..n * i).map(|_| rng.random_range(-2.0..2.0)).collect();
        let mut masks = vec![true; n * m];
        let mut actions = Vec::new();
        for j in 0..n {
            let mut o = 0;
            for &bins in &net.nvec {
                let keep = rng.random_range(0..bins);
                for k in 0..bins {
                    masks[j * m + o + k] = k == keep || rng.random_bool(0.6);
                }
                let allowed: Vec<usize> = (0..bins).filter(|&k| masks[j * m + o + k]).collect();
                actions.push(allowed[rng.random_range(0..allowed.len())] as i64);
                o += bins;
            }
        }
        let mut b = Batch {
            n,
            obs,
            masks,
            actions,
            ..Batch::default()
        };
        let (logp, _, values) = torch_eval(net, &b);
        b.old_logp = logp
            .iter()
            .map(|l| l - rng.random_range(-0.4..0.4))
            .collect();
        b.old_values = values
            .iter()
            .map(|v| v + rng.random_range(-0.5..0.5))
            .collect();
        b.advantages = (0..n).map(|_| rng.random_range(-2.0..2.0)).collect();
        b.returns = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
        b
    }

    fn tensors(net: &ActorCritic, b: &Batch) -> (Tensor, Tensor, Tensor) {
        let (n, i, m, h) = (
            b.n as i64,
            net.obs_len as i64,
            net.nvec.iter().sum::<usize>() as i64,
            net.nvec.len() as i64,
        );
        (
            Tensor::from_slice(&b.obs).reshape([n, i]),
            Tensor::from_slice(&b.masks).reshape([n, m]),
            Tensor::from_slice(&b.actions).reshape([n, h]),
        )
    }

    fn torch_eval(net: &ActorCritic, b: &Batch) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let (obs, masks, actions) = tensors(net, b);
        let (lp, ent, v) = tch::no_grad(|| net.evaluate(&obs, &masks, &actions));
        let v32 = |t: Tensor| Vec::<f32>::try_from(t).unwrap();
        (v32(lp), v32(ent), v32(v))
    }

    /// The hand-derived gradient equals libtorch's autograd of `evaluate` + `ppo_loss`, with and without
    /// value clipping and advantage normalisation, on networks with one head and with four.
    #[test]
    fn loss_and_gradient_match_libtorch_autograd() {
        // 600 rows: above SPLIT_ROWS, computed as two halves.
        for (obs_len, nvec, seed, rows) in [
            (4usize, vec![2usize], 1u64, 37usize),
            (13, vec![7, 8, 3, 2], 2, 37),
            (13, vec![7, 8, 3, 2], 3, 600),
        ] {
            tch::manual_seed(seed as i64);
            let net = ActorCritic::new(Device::Cpu, obs_len, &nvec, 16);
            let lay = net.cpu_layout().unwrap();
            let b = random_batch(&net, rows, seed);
            for (clip_vloss, norm_adv) in [(true, true), (false, false), (true, false)] {
                let c = LossCoefs {
                    clip_coef: 0.2,
                    clip_vloss,
                    norm_adv,
                    ent_coef: 0.05,
                    vf_coef: 0.5,
                };
                let mut grad = vec![0.0f32; lay.len];
                let ours = loss_and_grad(
                    net.cpu_params().unwrap(),
                    &lay,
                    &nvec,
                    &b,
                    c,
                    &mut Scratch::default(),
                    &mut grad,
                );
                let (obs, masks, actions) = tensors(&net, &b);
                let _ = net
                    .params()
                    .grad()
                    .defined()
                    .then(|| net.params().grad().zero_());
                let (lp, ent, v) = net.evaluate(&obs, &masks, &actions);
                let mb = Minibatch {
                    old_logp: Tensor::from_slice(&b.old_logp),
                    old_values: Tensor::from_slice(&b.old_values),
                    advantages: Tensor::from_slice(&b.advantages),
                    returns: Tensor::from_slice(&b.returns),
                };
                let theirs = ppo_loss(&mb, &lp, &ent, &v, c);
                theirs.total.backward();
                let close = |a: f64, b: f64, what: &str| {
                    assert!(
                        (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
                        "{what}: {a} vs {b} ({nvec:?}, {clip_vloss}, {norm_adv})"
                    )
                };
                close(ours.total, theirs.total.double_value(&[]), "total");
                close(ours.policy, theirs.policy.double_value(&[]), "policy");
                close(ours.value, theirs.value.double_value(&[]), "value");
                close(ours.entropy, theirs.entropy.double_value(&[]), "entropy");
                close(
                    ours.approx_kl,
                    theirs.approx_kl.double_value(&[]),
                    "approx_kl",
                );
                close(ours.clipfrac, theirs.clipfrac.double_value(&[]), "clipfrac");
                assert!(
                    ours.clipfrac > 0.0 && ours.clipfrac < 1.0,
                    "both sides of the clip: {}",
                    ours.clipfrac
                );
                let g: Vec<f32> = Vec::try_from(net.params().grad()).unwrap();
                let scale = g.iter().fold(0.0f32, |a, x| a.max(x.abs()));
                for (k, (a, t)) in grad.iter().zip(&g).enumerate() {
                    assert!(
                        (a - t).abs() <= 1e-4 * scale.max(1e-3),
                        "grad[{k}]: {a} vs {t} ({nvec:?}, {clip_vloss}, {norm_adv})"
                    );
                }
                let _ = net.params().grad().zero_();
            }
        }
    }

    /// The forward pass is libtorch's, and clipping plus Adam move the parameters as `super::adam` does.
    #[test]
    fn forward_clip_and_adam_match_libtorch() {
        tch::manual_seed(5);
        let mut net = ActorCritic::new(Device::Cpu, 6, &[3, 2], 8);
        let lay = net.cpu_layout().unwrap();
        let b = random_batch(&net, 9, 5);
        let (_, _, v) = torch_eval(&net, &b);
        let mut act = Activations::default();
        forward(net.cpu_params().unwrap(), &lay, &b.obs, b.n, &mut act);
        for (a, t) in act.values.iter().zip(&v) {
            assert!((a - t).abs() < 1e-5, "{a} vs {t}");
        }
        let grad: Vec<f32> = (0..lay.len).map(|k| ((k % 7) as f32 - 3.0) * 0.5).collect();
        let mut clipped = grad.clone();
        clip_grad_norm(&mut clipped, 0.5);
        let norm = clipped.iter().map(|g| g * g).sum::<f32>().sqrt();
        assert!((norm - 0.5).abs() < 1e-4, "{norm}");
        // The same step with the tensor implementation.
        let reference = net.params().detach().copy().set_requires_grad(true);
        let mut adam = crate::ppo::adam::Adam::new(&reference, 1e-2);
        (&reference * Tensor::from_slice(&clipped))
            .sum(Kind::Float)
            .backward();
        adam.step(&reference);
        let mut m1 = vec![0.0f32; lay.len];
        let mut m2 = vec![0.0f32; lay.len];
        adam_step(
            net.cpu_params_mut().unwrap(),
            &clipped,
            &mut m1,
            &mut m2,
            1,
            1e-2,
            (0.9, 0.999),
            1e-5,
        );
        let ours: Vec<f32> = Vec::try_from(net.params().detach()).unwrap();
        let theirs: Vec<f32> = Vec::try_from(reference.detach()).unwrap();
        for (a, t) in ours.iter().zip(&theirs) {
            assert!((a - t).abs() < 1e-6, "{a} vs {t}");
        }
    }

    #[test]
    fn the_rational_tanh_is_within_5e7_of_libms() {
        let mut worst = 0.0f32;
        for k in -20_000..=20_000 {
            let x = k as f32 * 1e-3;
            worst = worst.max((tanh(x) - x.tanh()).abs());
        }
        assert!(worst < 5e-7, "{worst}");
        assert_eq!(tanh(100.0), 1.0);
        assert_eq!(tanh(-100.0), -1.0);
    }

    /// A `sgemm_` that gets products wrong (here: it leaves C alone, as one that misreads its
    /// integer arguments as zero sizes would).
    unsafe extern "C" fn wrong_sgemm(
        _: *const u8,
        _: *const u8,
        _: *const i32,
        _: *const i32,
        _: *const i32,
        _: *const f32,
        _: *const f32,
        _: *const i32,
        _: *const f32,
        _: *const i32,
        _: *const f32,
        _: *mut f32,
        _: *const i32,
    ) {
    }

    /// The start-up probe accepts libtorch's BLAS here (where the process has one) and rejects a
    /// library that computes something else, which then falls back to `matrixmultiply`.
    #[test]
    fn the_blas_probe_accepts_a_right_product_and_rejects_a_wrong_one() {
        assert!(!blas_probe(wrong_sgemm));
        // SAFETY: as in `blas`.
        let found = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"sgemm_".as_ptr()) };
        if !found.is_null() && std::env::var_os("COMMONS_RL_NO_BLAS").is_none() {
            // SAFETY: as in `blas`.
            let f = unsafe { std::mem::transmute::<*mut libc::c_void, Sgemm>(found) };
            assert!(blas_probe(f), "libtorch's sgemm_ fails the probe");
            assert!(uses_blas());
        }
    }

    /// Both matrix-product back ends (libtorch's BLAS where it has one, and `matrixmultiply`) give the
    /// same products, with transposes and strides.
    #[test]
    fn gemm_handles_transposes_and_strides() {
        let backends: Vec<Option<Sgemm>> = vec![blas(), None];
        for f in backends {
            let gemm =
                |ta, tb, m, n, k, al, a: &[f32], lda, b: &[f32], ldb, be, c: &mut [f32], ldc| {
                    gemm_with(f, ta, tb, m, n, k, al, a, lda, b, ldb, be, c, ldc)
                };
            gemm_cases(gemm);
        }
    }

    #[allow(clippy::type_complexity)]
    fn gemm_cases(
        gemm: impl Fn(
            bool,
            bool,
            usize,
            usize,
            usize,
            f32,
            &[f32],
            usize,
            &[f32],
            usize,
            f32,
            &mut [f32],
            usize,
        ),
    ) {
        // A = [[1, 2, 3], [4, 5, 6]] (2×3), B = [[1, 0], [0, 1], [1, 1]] (3×2): A·B = [[4, 5], [10, 11]].
        let a = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let b = [1.0f32, 0.0, 0.0, 1.0, 1.0, 1.0];
        let mut c = [0.0f32; 4];
        gemm(false, false, 2, 2, 3, 1.0, &a, 3, &b, 2, 0.0, &mut c, 2);
        assert_eq!(c, [4.0, 5.0, 10.0, 11.0]);
        // Aᵀ·A (3×3), first row [17, 22, 27].
        let mut d = [0.0f32; 9];
        gemm(true, false, 3, 3, 2, 1.0, &a, 3, &a, 3, 0.0, &mut d, 3);
        assert_eq!(&d[..3], &[17.0, 22.0, 27.0]);
        // A·Aᵀ into a strided C (row stride 3): [[14, 32], [32, 77]].
        let mut e = [0.0f32; 6];
        gemm(false, true, 2, 2, 3, 1.0, &a, 3, &a, 3, 0.0, &mut e, 3);
        assert_eq!(e, [14.0, 32.0, 0.0, 32.0, 77.0, 0.0]);
    }
}
