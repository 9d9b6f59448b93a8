//! Many comparisons at once: the Benjamini–Hochberg false-discovery-rate adjustment.

/// Benjamini–Hochberg adjusted p-values (the false-discovery-rate q-values) of `p`, in its order.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| p[i].total_cmp(&p[j]));
    let mut q = vec![1.0; m];
    let mut running = 1.0f64;
    for (rank, &i) in order.iter().enumerate().rev() {
        running = running.min(p[i] * m as f64 / (rank + 1) as f64);
        q[i] = running.min(1.0);
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn benjamini_hochberg_matches_a_worked_example() {
        // p = (0.01, 0.04, 0.03, 0.5) -> q = (0.04, 0.0533, 0.0533, 0.5).
        let q = benjamini_hochberg(&[0.01, 0.04, 0.03, 0.5]);
        let want = [0.04, 0.16 / 3.0, 0.16 / 3.0, 0.5];
        for (x, w) in q.iter().zip(want) {
            assert!((x - w).abs() < 1e-12, "{q:?}");
        }
    }
}
