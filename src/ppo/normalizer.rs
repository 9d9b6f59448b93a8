//! Running observation normalisation: `(x − mean) / √(var + 1e-8)`, clipped to ±10, with mean and variance
//! updated from every observation seen during rollouts (parallel Welford / Chan et al.).

use serde::{Deserialize, Serialize};

/// Running mean and variance per observation entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunningNorm {
    /// Mean per entry.
    pub mean: Vec<f64>,
    /// Variance per entry.
    pub var: Vec<f64>,
    /// Number of observations seen (starts at 1e-4, as in Gymnasium's wrapper).
    pub count: f64,
    /// Whether normalisation is applied (else observations pass through).
    pub enabled: bool,
}

impl RunningNorm {
    /// Identity statistics for `len` entries.
    pub fn new(len: usize, enabled: bool) -> Self {
        RunningNorm {
            mean: vec![0.0; len],
            var: vec![1.0; len],
            count: 1e-4,
            enabled,
        }
    }

    /// Folds a batch of observations (`rows × len`, row-major) into the statistics.
    pub fn update(&mut self, batch: &[f32]) {
        if !self.enabled || batch.is_empty() {
            return;
        }
        let len = self.mean.len();
        let n = (batch.len() / len) as f64;
        for j in 0..len {
            let col = batch.iter().skip(j).step_by(len).map(|&x| x as f64);
            let mean_b = col.clone().sum::<f64>() / n;
            let var_b = col.map(|x| (x - mean_b) * (x - mean_b)).sum::<f64>() / n;
            let delta = mean_b - self.mean[j];
            let total = self.count + n;
            let m2 = self.var[j] * self.count + var_b * n + delta * delta * self.count * n / total;
            self.mean[j] += delta * n / total;
            self.var[j] = m2 / total;
        }
        self.count += n;
    }

    /// Normalises `row` in place.
    pub fn apply(&self, row: &mut [f32]) {
        if !self.enabled {
            return;
        }
        for (j, x) in row.iter_mut().enumerate() {
            let z = (*x as f64 - self.mean[j]) / (self.var[j] + 1e-8).sqrt();
            *x = z.clamp(-10.0, 10.0) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_batch_statistics() {
        let mut n = RunningNorm::new(2, true);
        let data: Vec<f32> = (0..100)
            .flat_map(|i| [i as f32, 2.0 * i as f32 + 1.0])
            .collect();
        n.update(&data[..60]);
        n.update(&data[60..]);
        assert!((n.mean[0] - 49.5).abs() < 1e-3 && (n.mean[1] - 100.0).abs() < 1e-3);
        assert!((n.var[0] - 833.25).abs() < 0.1);
        let mut row = [49.5f32, 100.0];
        n.apply(&mut row);
        assert!(row[0].abs() < 1e-3 && row[1].abs() < 1e-3);
    }
}
