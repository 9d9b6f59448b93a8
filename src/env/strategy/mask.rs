//! The static mask analysis of strategies: a rule whose bin the mask forbids whenever the rule's
//! conditions hold can never act, and is refused when the file is read. What each bin's mask needs of
//! the observation comes from the action table ([`crate::env::actions::MaskRule::observed`]).

use super::{Condition, Rule};
use crate::env::observation;

/// Whether the rule's bin is masked whenever its conditions hold (a rule that can never act): the
/// message, or None.
pub(super) fn masked_whenever(h: usize, r: &Rule) -> Option<String> {
    // What the bin's mask rule needs of the observation (from the action table).
    let b = crate::env::actions::table()
        .get(h)?
        .bins
        .get(r.then as usize)?;
    let need = b.mask.observed(&b.label)?;
    let f = observation::names()
        .iter()
        .position(|n| *n == need.feature)?;
    let conds: Vec<&Condition> = r.when.iter().filter(|c| c.feature == f).collect();
    if conds.is_empty() {
        return None;
    }
    // Probe the feature's range at its bounds and around every number the conditions name.
    let spec = observation::observation_spec();
    let (lo, hi) = (spec.low[f], spec.high[f]);
    let mut probes = vec![lo, hi];
    probes.extend(conds.iter().map(|c| c.value.clamp(lo, hi)));
    probes.sort_by(f32::total_cmp);
    let mids: Vec<f32> = probes
        .windows(2)
        .map(|w| w[0] + (w[1] - w[0]) / 2.0)
        .collect();
    probes.extend(mids);
    let feasible = probes
        .iter()
        .any(|&x| conds.iter().all(|c| c.op.holds(x, c.value)) && (need.allowed)(x));
    (!feasible).then(|| {
        format!(
            "`{}` is masked whenever this rule's conditions hold: {}",
            b.label, need.why
        )
    })
}
