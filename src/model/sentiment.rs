//! Sentiment updates (docs/reference-model.md §4.19).

/// Author of a proposal that became active: `s ← min(1, s + bonus)`.
#[inline]
pub fn on_activation(sentiment: f64, bonus: f64) -> f64 {
    let s = sentiment + bonus;
    if s > 1.0 {
        1.0
    } else {
        s
    }
}

/// Author or staker of a proposal that completed/failed: `s ← clip(s + affinity·delta, 0, 1)`.
#[inline]
pub fn on_resolution(sentiment: f64, affinity: f64, delta: f64) -> f64 {
    (sentiment + affinity * delta).clamp(0.0, 1.0)
}

/// Daily decay: `s ← max(0, s − decay)`.
#[inline]
pub fn decay(sentiment: f64, decay: f64) -> f64 {
    let s = sentiment - decay;
    if s < 0.0 {
        0.0
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/reference-model.md §9, "Sentiment".
    #[test]
    fn sentiment_vectors() {
        assert_eq!(on_activation(0.4, 0.5), 0.9);
        assert_eq!(on_activation(0.6, 0.5), 1.0);
        assert!((on_resolution(0.5, 1.0, -0.1) - 0.4).abs() < 1e-15);
        assert!((on_resolution(0.5, 0.8, -0.1) - 0.42).abs() < 1e-15);
        assert!((on_resolution(0.5, 0.8, 0.3) - 0.74).abs() < 1e-15);
        assert_eq!(on_resolution(0.95, 1.0, 0.3), 1.0);
        assert_eq!(on_resolution(0.05, 1.0, -0.1), 0.0);
        assert_eq!(decay(0.003, 0.005), 0.0);
    }
}
