//! Summation and median exactly as numpy computes them (reference-model.md Appendix A).

/// numpy's pairwise summation (`np.sum` of a float64 array).
///
/// Fewer than 8 terms: sequential. 8 to 128 terms: eight accumulators over whole blocks of 8, combined as
/// `((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7))`, then the leftover `n mod 8` terms one by one. More than 128:
/// split at `n2 = ⌊n/2⌋ − (⌊n/2⌋ mod 8)` and add the two halves' sums.
pub fn pairwise_sum(x: &[f64]) -> f64 {
    let n = x.len();
    if n < 8 {
        let mut res = 0.0;
        for &v in x {
            res += v;
        }
        res
    } else if n <= 128 {
        let mut r = [x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]];
        let whole = n - n % 8;
        let mut i = 8;
        while i < whole {
            for (j, acc) in r.iter_mut().enumerate() {
                *acc += x[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &x[whole..] {
            res += v;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_sum(&x[..n2]) + pairwise_sum(&x[n2..])
    }
}

/// Sequential left-to-right sum starting from 0.0 (Python's `sum`).
pub fn sequential_sum(x: impl IntoIterator<Item = f64>) -> f64 {
    x.into_iter().fold(0.0, |acc, v| acc + v)
}

/// Sample standard deviation (ddof = 1) as pandas computes it: `mean = Σx/n` and `Σ(mean − x)²/(n − 1)`,
/// both sums pairwise. NaN for fewer than two values.
pub fn sample_std(x: &[f64], scratch: &mut Vec<f64>) -> f64 {
    let n = x.len();
    if n < 2 {
        return f64::NAN;
    }
    let mean = pairwise_sum(x) / n as f64;
    scratch.clear();
    scratch.extend(x.iter().map(|&v| (mean - v) * (mean - v)));
    (pairwise_sum(scratch) / (n - 1) as f64).sqrt()
}

/// The running median of a multiset of non-negative floats, with insertions and removals in `O(log n)`.
///
/// The median of an even count is `(a + b)/2` of the two middle values, as `np.median` gives. Values are
/// kept as counts per IEEE bit pattern (which order like the values for non-negative floats) in a B-tree,
/// with a cursor on the lower-middle element that moves at most one step per operation.
#[derive(Clone, Debug, Default)]
pub struct MedianTracker {
    counts: std::collections::BTreeMap<u64, u32>,
    len: usize,
    /// The element at sorted position `cursor_pos`: (value bits, index among its duplicates).
    cursor: Option<(u64, u32)>,
    cursor_pos: usize,
}

impl MedianTracker {
    /// An empty tracker.
    pub fn new() -> Self {
        Self::default()
    }

    fn key(value: f64) -> u64 {
        debug_assert!(value >= 0.0, "median tracker holds non-negative values");
        // +0.0 and -0.0 compare equal: store both as +0.0.
        (value + 0.0).to_bits()
    }

    /// Number of values held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no value is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn next(&self, (k, i): (u64, u32)) -> Option<(u64, u32)> {
        if i + 1 < self.counts[&k] {
            return Some((k, i + 1));
        }
        use std::ops::Bound::{Excluded, Unbounded};
        self.counts
            .range((Excluded(k), Unbounded))
            .next()
            .map(|(&k2, _)| (k2, 0))
    }

    fn prev(&self, (k, i): (u64, u32)) -> Option<(u64, u32)> {
        if i > 0 {
            return Some((k, i - 1));
        }
        self.counts.range(..k).next_back().map(|(&k0, &c)| (k0, c - 1))
    }

    fn settle(&mut self) {
        if self.len == 0 {
            self.cursor = None;
            self.cursor_pos = 0;
            return;
        }
        let target = (self.len - 1) / 2;
        while self.cursor_pos < target {
            self.cursor = self.cursor.and_then(|c| self.next(c));
            self.cursor_pos += 1;
        }
        while self.cursor_pos > target {
            self.cursor = self.cursor.and_then(|c| self.prev(c));
            self.cursor_pos -= 1;
        }
    }

    /// Adds a value.
    pub fn insert(&mut self, value: f64) {
        let k = Self::key(value);
        let count = self.counts.entry(k).or_insert(0);
        *count += 1;
        self.len += 1;
        match self.cursor {
            None => {
                self.cursor = Some((k, 0));
                self.cursor_pos = 0;
            }
            // The new element goes after its duplicates, so it precedes the cursor only for a smaller value.
            Some((ck, _)) if k < ck => self.cursor_pos += 1,
            Some(_) => {}
        }
        self.settle();
    }

    /// Removes one occurrence of a value. Returns false (and changes nothing) if the value is not held.
    pub fn remove(&mut self, value: f64) -> bool {
        let k = Self::key(value);
        let Some(&count) = self.counts.get(&k) else {
            return false;
        };
        let removed = (k, count - 1);
        if let Some(cur) = self.cursor {
            if cur == removed {
                if let Some(p) = self.prev(cur) {
                    self.cursor = Some(p);
                    self.cursor_pos -= 1;
                } else {
                    // The first element: its successor takes position 0 once it is gone.
                    self.cursor = self.next(cur);
                }
            } else if k < cur.0 {
                self.cursor_pos -= 1;
            }
        }
        if count == 1 {
            self.counts.remove(&k);
        } else {
            self.counts.insert(k, count - 1);
        }
        self.len -= 1;
        self.settle();
        true
    }

    /// The median, or `None` when empty.
    pub fn median(&self) -> Option<f64> {
        let cur = self.cursor?;
        let lo = f64::from_bits(cur.0);
        if self.len % 2 == 1 {
            Some(lo)
        } else {
            let hi = f64::from_bits(self.next(cur)?.0);
            Some((lo + hi) / 2.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn pairwise_differs_from_sequential_like_numpy() {
        // 0.1 summed 10 times: numpy gives 0.9999999999999999 (sequential) vs pairwise 1.0? check both paths run
        let x = vec![0.1; 10];
        let s = pairwise_sum(&x);
        // r0..r7 = 0.1 + 0.1 (i = 8 is not < whole = 8, so no block added), leftovers 0.1, 0.1
        let r = 0.1f64;
        let expect = ((r + r) + (r + r)) + ((r + r) + (r + r)) + r + r;
        assert_eq!(s, expect);
        assert_eq!(pairwise_sum(&[]), 0.0);
        assert_eq!(pairwise_sum(&[1.5, 2.25]), 3.75);
    }

    #[test]
    fn pairwise_splits_above_128_at_a_multiple_of_8() {
        let x: Vec<f64> = (0..300).map(|i| 1.0 / (i as f64 + 1.0)).collect();
        // n2 = 150 - 150 % 8 = 144
        assert_eq!(pairwise_sum(&x), pairwise_sum(&x[..144]) + pairwise_sum(&x[144..]));
        assert!((pairwise_sum(&x) - x.iter().sum::<f64>()).abs() < 1e-12);
    }

    #[test]
    fn sample_std_matches_hand_computation() {
        let mut scratch = Vec::new();
        let s = sample_std(&[0.16, 0.18, 0.20, 0.17], &mut scratch);
        assert!((s - 0.017078251276599).abs() < 1e-12);
        assert!(sample_std(&[1.0], &mut scratch).is_nan());
    }

    fn naive_median(v: &[f64]) -> Option<f64> {
        if v.is_empty() {
            return None;
        }
        let mut s = v.to_vec();
        s.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let n = s.len();
        Some(if n % 2 == 1 { s[n / 2] } else { (s[n / 2 - 1] + s[n / 2]) / 2.0 })
    }

    proptest! {
        #[test]
        fn median_tracker_matches_sorting(ops in proptest::collection::vec((any::<bool>(), 0u8..20), 1..200)) {
            let mut t = MedianTracker::new();
            let mut held: Vec<f64> = Vec::new();
            for (insert, v) in ops {
                let v = v as f64 / 19.0;
                if insert || held.is_empty() {
                    t.insert(v);
                    held.push(v);
                } else {
                    let idx = (v * 19.0) as usize % held.len();
                    let x = held.swap_remove(idx);
                    t.remove(x);
                }
                prop_assert_eq!(t.len(), held.len());
                prop_assert_eq!(t.median(), naive_median(&held));
            }
        }
    }
}
