//! The Commons agents' observation vector and action masks (layout documented in docs/environment.md).

use super::actions::{MASK_LEN, PROPOSE_BINS, SLOTS, SUPPORT_BINS, TRADE_BINS};
use super::personality::ObservationKind;
use crate::model::participant::Participant;
use crate::model::proposal::ProposalId;
use crate::model::Commons;

/// Entries describing the agent itself.
pub const OWN: [&str; 10] = [
    "own.sentiment",
    "own.wallet",
    "own.holdings_value",
    "own.spendable_share",
    "own.locked_share",
    "own.staked_share",
    "own.is_hatcher",
    "own.tenure",
    "own.net_worth",
    "own.candidates_authored",
];

/// Entries describing the Commons.
pub const COMMONS: [&str; 12] = [
    "commons.price",
    "commons.funding_pool",
    "commons.collateral_pool",
    "commons.token_supply",
    "commons.avg_sentiment",
    "commons.participants",
    "commons.candidates",
    "commons.actives",
    "commons.day",
    "commons.speculation",
    "commons.requested_share",
    "commons.median_affinity",
];

/// Entries of each candidate slot.
pub const SLOT: [&str; 7] = [
    "present",
    "affinity",
    "request_share",
    "conviction_progress",
    "own_stake_share",
    "is_author",
    "age",
];

/// Length of the observation vector.
pub const OBS_LEN: usize = OWN.len() + COMMONS.len() + SLOTS * SLOT.len();

/// Names of every entry, in order.
pub fn names() -> Vec<String> {
    let mut v: Vec<String> = OWN
        .iter()
        .chain(COMMONS.iter())
        .map(|s| s.to_string())
        .collect();
    for k in 0..SLOTS {
        for s in SLOT {
            v.push(format!("slot{k}.{s}"));
        }
    }
    v
}

/// `min(10, ln(1 + max(x, 0)))`: compresses money ratios that span orders of magnitude into O(1).
fn log1p(x: f64) -> f32 {
    x.max(0.0).ln_1p().min(10.0) as f32
}

/// Scale references fixed at reset.
#[derive(Clone, Copy, Debug, Default)]
pub struct References {
    /// Funding pool after the hatch.
    pub funding_pool: f64,
    /// Collateral pool after the hatch.
    pub collateral_pool: f64,
    /// Supply after the hatch.
    pub token_supply: f64,
    /// Spot price after the hatch.
    pub token_price: f64,
    /// Episode length in days.
    pub horizon: f64,
}

/// Per-candidate facts shared by all agents in one step.
#[derive(Clone, Copy, Debug, Default)]
pub struct CandidateFacts {
    /// The proposal.
    pub id: Option<ProposalId>,
    /// Requested funds / (β · funding pool).
    pub request_share: f32,
    /// Current total conviction / threshold at today's pool (0 if unreachable).
    pub progress: f32,
    /// Age in days.
    pub age: u32,
    /// Author.
    pub author: Option<crate::model::participant::ParticipantId>,
}

/// What selling all of a participant's tokens would return now, after the exit tribute.
pub fn sale_value(c: &Commons, tokens: f64) -> f64 {
    let pools = c.pools();
    let n = tokens.min(pools.token_supply).max(0.0);
    if n <= 0.0 {
        return 0.0;
    }
    let (dai, _) = pools
        .curve
        .withdraw(n, pools.collateral_pool, pools.token_supply);
    (1.0 - pools.exit_tribute) * dai.max(0.0)
}

/// Net worth: wallet + sale value of all tokens.
pub fn net_worth(c: &Commons, p: &Participant) -> f64 {
    p.wallet + sale_value(c, p.holdings.total())
}

/// Commons-level part of the observation, shared by all agents of a step.
pub fn commons_features(c: &mut Commons, r: &References, out: &mut [f32; 12]) {
    let m = *c.mirrors();
    let counts = c.counts();
    let day = c.day() as f64;
    let speculation = (day < c.speculation_days() as f64) as u8 as f32;
    let requested: f64 = c
        .candidates()
        .iter()
        .map(|id| c.proposals()[id.0 as usize].funds_requested)
        .sum();
    let pool = c.pools().funding_pool;
    let median = c.median_affinity().unwrap_or(0.0);
    let pools = c.pools();
    *out = [
        ((pools.token_price() / r.token_price.max(1e-12)) as f32).min(100.0),
        log1p(pool / r.funding_pool.max(1e-12)),
        log1p(pools.collateral_pool / r.collateral_pool.max(1e-12)),
        log1p(pools.token_supply / r.token_supply.max(1e-12)),
        m.sentiment as f32,
        (c.participants().len() as f64).ln_1p() as f32 / 5.0,
        (counts.candidate as f32 / (4.0 * SLOTS as f32)).min(1.0),
        (counts.active as f32 / 10.0).min(1.0),
        (day / r.horizon.max(1.0)) as f32,
        speculation,
        if pool > 0.0 {
            ((requested / pool) as f32).min(5.0) / 5.0
        } else {
            1.0
        },
        median as f32,
    ];
}

/// Fills one agent's observation (`out.len() == OBS_LEN`) and returns the proposals in its slots.
#[allow(clippy::too_many_arguments)]
pub fn encode(
    c: &Commons,
    p: &Participant,
    basis: f64,
    kind: ObservationKind,
    commons: &[f32; 12],
    facts: &[CandidateFacts],
    r: &References,
    order: &mut Vec<(f64, usize)>,
    out: &mut [f32],
) -> [Option<ProposalId>; SLOTS] {
    let h = &p.holdings;
    let total = h.total();
    let value = sale_value(c, total);
    let share = |x: f64| {
        if total > 0.0 {
            (x / total).clamp(0.0, 2.0) as f32
        } else {
            0.0
        }
    };
    let staked: f64 = p.support.iter().map(|e| e.tokens).sum();
    let authored = facts.iter().filter(|f| f.author == Some(p.id)).count();
    let basis = basis.max(1.0);
    let own = [
        p.sentiment as f32,
        log1p(p.wallet / basis),
        log1p(value / basis),
        share(h.spendable()),
        share(h.locked()),
        share(staked),
        (h.vesting > 0.0) as u8 as f32,
        ((c.day().saturating_sub(p.joined_day)) as f64 / r.horizon.max(1.0)) as f32,
        log1p((p.wallet + value) / basis),
        (authored as f32 / 3.0).min(1.0),
    ];
    out[..10].copy_from_slice(&own);
    out[10..22].copy_from_slice(commons);
    let slots_out = &mut out[22..];
    slots_out.fill(0.0);
    let mut slots = [None; SLOTS];
    if kind == ObservationKind::MarketOnly {
        return slots;
    }
    // The K candidates this participant likes most (ties: older first).
    order.clear();
    order.extend(p.support.iter().enumerate().map(|(k, e)| (e.affinity, k)));
    let k = order.len().min(SLOTS);
    if order.len() > SLOTS {
        order.select_nth_unstable_by(SLOTS - 1, |a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    }
    order[..k].sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for (slot, &(affinity, pos)) in order[..k].iter().enumerate() {
        let f = &facts[pos];
        let e = &p.support[pos];
        let o = &mut slots_out[slot * SLOT.len()..(slot + 1) * SLOT.len()];
        o[0] = 1.0;
        o[1] = affinity as f32;
        o[2] = f.request_share;
        o[3] = f.progress;
        o[4] = share(e.tokens);
        o[5] = e.is_author as u8 as f32;
        o[6] = (f.age as f32 / 30.0).min(1.0);
        slots[slot] = f.id;
    }
    slots
}

/// Fills one agent's action mask (`out.len() == MASK_LEN`): `true` = allowed.
///
/// * trade: buys need a wallet of at least 1 DAI (budget wallets); sells need spendable tokens;
/// * support: "by affinity" needs a candidate, "unstake" needs a stake, slot k needs a k-th candidate;
/// * propose: always allowed (it only matters on days the world asks this participant);
/// * exit: leaving needs at most 0.1 % of the vesting grant still locked.
pub fn mask(p: &Participant, budget: bool, out: &mut [bool]) {
    debug_assert_eq!(out.len(), MASK_LEN);
    out.fill(true);
    let h = &p.holdings;
    let can_buy = !budget || p.wallet >= 1.0;
    let can_sell = h.spendable() > 1e-9;
    out[1..=3].fill(can_buy);
    out[4..=6].fill(can_sell);
    let s = TRADE_BINS;
    let candidates = p.support.len();
    out[s + 1] = candidates > 0;
    out[s + 2] = p.support.iter().any(|e| e.tokens > 0.0);
    for k in 0..SLOTS {
        out[s + 3 + k] = k < candidates;
    }
    let e = TRADE_BINS + SUPPORT_BINS + PROPOSE_BINS;
    out[e + 1] = h.locked() <= 1e-3 * h.vesting;
}
