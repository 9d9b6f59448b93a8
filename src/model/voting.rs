//! How a participant splits its stake over candidate proposals (docs/reference-model.md §4.15).

use super::participant::Support;

/// The voting cutoff: `max(floor, multiplier · max affinity)`; candidates strictly above it are voted.
pub fn cutoff(max_affinity: f64, multiplier: f64, floor: f64) -> f64 {
    let c = multiplier * max_affinity;
    if c < floor {
        floor
    } else {
        c
    }
}

/// Re-stakes `total` tokens over the candidates whose affinity is strictly above the cutoff, in proportion
/// to affinity: sort the voted set by affinity ascending (stable), `A = Σ affinity` in that order, and
/// `tokens = total · (affinity / A)`. Edges outside the voted set keep their previous stake (Q7).
/// `scratch` is reused across calls (no allocation once warm).
pub fn stake_by_affinity(
    support: &mut [Support],
    total: f64,
    cutoff_multiplier: f64,
    cutoff_floor: f64,
    scratch: &mut Vec<(f64, usize)>,
) {
    let Some(max_affinity) = support.iter().map(|s| s.affinity).reduce(f64::max) else {
        return;
    };
    let cut = cutoff(max_affinity, cutoff_multiplier, cutoff_floor);
    scratch.clear();
    scratch.extend(
        support
            .iter()
            .enumerate()
            .filter(|(_, s)| s.affinity > cut)
            .map(|(k, s)| (s.affinity, k)),
    );
    if scratch.is_empty() {
        return;
    }
    scratch.sort_by(|a, b| a.0.total_cmp(&b.0));
    let affinity_total = scratch.iter().fold(0.0, |acc, &(a, _)| acc + a);
    for &(affinity, k) in scratch.iter() {
        support[k].tokens = total * (affinity / affinity_total);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn voted(affinities: &[f64]) -> Vec<f64> {
        let mut s: Vec<Support> = affinities.iter().map(|&a| Support::new(a)).collect();
        stake_by_affinity(&mut s, 1.0, 0.75, 0.5, &mut Vec::new());
        s.iter()
            .filter(|e| e.tokens > 0.0)
            .map(|e| e.affinity)
            .collect()
    }

    /// docs/reference-model.md §9, "Voting".
    #[test]
    fn voted_sets() {
        assert_eq!(voted(&[1.0, 0.9, 0.8, 0.4]), [1.0, 0.9, 0.8]);
        assert_eq!(voted(&[0.6, 0.55, 0.52]), [0.6, 0.55, 0.52]);
        assert!(voted(&[0.5, 0.3]).is_empty());
    }

    #[test]
    fn stake_split_vectors() {
        // The split itself (§9 vector): every edge voted, so no cutoff.
        let mut s: Vec<Support> = [0.9, 0.9, 0.8, 0.6]
            .iter()
            .map(|&a| Support::new(a))
            .collect();
        stake_by_affinity(&mut s, 1000.0, 0.0, 0.0, &mut Vec::new());
        let t: Vec<f64> = s.iter().map(|e| e.tokens).collect();
        assert_eq!(
            t,
            [
                281.25000000000006,
                281.25000000000006,
                250.00000000000006,
                187.5
            ]
        );
        let mut s: Vec<Support> = [0.7, 0.7].iter().map(|&a| Support::new(a)).collect();
        stake_by_affinity(&mut s, 1000.0, 0.75, 0.5, &mut Vec::new());
        assert_eq!((s[0].tokens, s[1].tokens), (500.0, 500.0));
    }

    #[test]
    fn unvoted_edges_keep_their_stale_stake() {
        let mut s = vec![
            Support::new(0.9),
            Support {
                tokens: 42.0,
                ..Support::new(0.1)
            },
        ];
        stake_by_affinity(&mut s, 10.0, 0.75, 0.5, &mut Vec::new());
        assert_eq!((s[0].tokens, s[1].tokens), (10.0, 42.0));
    }
}
