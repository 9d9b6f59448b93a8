//! Masked multi-discrete action sampling from logits, in Rust with the trainer's own seeded RNG (so a
//! seed fixes the run), and the matching log-probabilities.

use rand::Rng;

/// The largest of the allowed logits of one head (−∞ if none is allowed).
pub fn masked_max(l: &[f32], m: &[bool]) -> f32 {
    l.iter()
        .zip(m)
        .filter(|(_, &ok)| ok)
        .map(|(&x, _)| x)
        .fold(f32::NEG_INFINITY, f32::max)
}

/// `(max, Σ exp(l − max))` over the allowed bins of one head: the pieces of a masked softmax.
fn masked_normalizer(l: &[f32], m: &[bool]) -> (f32, f32) {
    let max = masked_max(l, m);
    let z = l
        .iter()
        .zip(m)
        .filter(|(_, &ok)| ok)
        .map(|(&x, _)| (x - max).exp())
        .sum();
    (max, z)
}

/// Samples one action per head from `logits` (heads concatenated, `nvec[h]` logits each), never picking
/// a masked bin; writes the bins into `actions` and returns the summed log-probability.
pub fn sample(
    logits: &[f32],
    mask: &[bool],
    nvec: &[usize],
    rng: &mut impl Rng,
    actions: &mut Vec<u32>,
) -> f32 {
    let mut offset = 0;
    let mut logp = 0.0;
    for &n in nvec {
        let l = &logits[offset..offset + n];
        let m = &mask[offset..offset + n];
        let (max, z) = masked_normalizer(l, m);
        let u: f32 = rng.random::<f32>() * z;
        let mut acc = 0.0;
        let mut pick = None;
        let mut last_allowed = 0;
        for (b, (&x, &ok)) in l.iter().zip(m).enumerate() {
            if !ok {
                continue;
            }
            last_allowed = b;
            acc += (x - max).exp();
            if u < acc {
                pick = Some(b);
                break;
            }
        }
        let b = pick.unwrap_or(last_allowed);
        logp += (l[b] - max) - z.ln();
        actions.push(b as u32);
        offset += n;
    }
    logp
}

/// Log-probability of given bins under masked logits (for tests and checks).
pub fn log_prob(logits: &[f32], mask: &[bool], nvec: &[usize], bins: &[u32]) -> f32 {
    let mut offset = 0;
    let mut logp = 0.0;
    for (h, &n) in nvec.iter().enumerate() {
        let l = &logits[offset..offset + n];
        let m = &mask[offset..offset + n];
        let (max, z) = masked_normalizer(l, m);
        let b = bins[h] as usize;
        logp += if m[b] {
            (l[b] - max) - z.ln()
        } else {
            f32::NEG_INFINITY
        };
        offset += n;
    }
    logp
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn never_samples_a_masked_bin_and_log_probs_match() {
        let mut rng = rand_pcg::Pcg32::seed_from_u64(1);
        let nvec = [3, 2];
        // Large logits on masked bins must not matter.
        let logits = [10.0, 0.0, 1.0, 5.0, -1.0];
        let mask = [false, true, true, false, true];
        let mut counts = [0usize; 5];
        for _ in 0..5000 {
            let mut a = Vec::new();
            let lp = sample(&logits, &mask, &nvec, &mut rng, &mut a);
            assert!(mask[a[0] as usize] && mask[3 + a[1] as usize]);
            assert!((lp - log_prob(&logits, &mask, &nvec, &a)).abs() < 1e-5);
            counts[a[0] as usize] += 1;
            counts[3 + a[1] as usize] += 1;
        }
        assert_eq!(counts[0] + counts[3], 0);
        // Head 0: bins 1 and 2 with p ∝ e^0, e^1: p(2) = e/(1+e) ≈ 0.731.
        let p2 = counts[2] as f64 / 5000.0;
        assert!((p2 - 0.731).abs() < 0.03, "{p2}");
        // The second head has one allowed bin: log-prob 0.
        assert!(
            (log_prob(&logits, &mask, &nvec, &[2, 1]) - (1.0f32 - (1.0f32.exp() + 1.0).ln())).abs()
                < 1e-5
        );
    }
}
