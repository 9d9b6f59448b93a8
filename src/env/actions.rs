//! The Commons agents' multi-discrete action space: four heads, and what each bin does, as one table
//! ([`table`]): per head and bin its label, its kind (what it does) and its mask rule (when the
//! environment allows it). The masks ([`crate::env::observation::mask`]), strategies' bin names and
//! their static mask analysis, eval's action shares and behaviours, and the docs table below all derive
//! from it.
//!
#![doc = include_str!("tables/actions.md")]
//!
//! With unlimited wallets (the reference), buys spend 1/5/20 % of `participants.delta_holdings_scale`.

use std::sync::LazyLock;

/// Number of candidate-proposal slots in observations and in the `support` head.
pub const SLOTS: usize = 4;

/// Bins of the `trade` head.
pub const TRADE_BINS: usize = 7;
/// Bins of the `support` head.
pub const SUPPORT_BINS: usize = 3 + SLOTS;
/// Bins of the `propose` head.
pub const PROPOSE_BINS: usize = 3;
/// Bins of the `exit` head.
pub const EXIT_BINS: usize = 2;
/// Bins per head.
pub const NVEC: [usize; 4] = [TRADE_BINS, SUPPORT_BINS, PROPOSE_BINS, EXIT_BINS];
/// Head names.
pub const HEADS: [&str; 4] = ["trade", "support", "propose", "exit"];

/// What a bin does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BinKind {
    /// A `trade` bin.
    Trade(Trade),
    /// A `support` bin.
    Support(Support),
    /// A `propose` bin: the share of the funding pool requested (None: no proposal).
    Propose(Option<f64>),
    /// An `exit` bin: whether the participant leaves.
    Exit(bool),
}

/// When the environment allows a bin (the mask; `true` = allowed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaskRule {
    /// Always allowed.
    Always,
    /// Budget wallets: a wallet of at least 1 DAI (always with unlimited wallets).
    CanBuy,
    /// Spendable tokens > 0.
    HasSpendable,
    /// At least one candidate.
    HasCandidate,
    /// Some stake > 0.
    HasStake,
    /// At least `k + 1` candidates (the k-th slot is filled).
    SlotFilled(usize),
    /// The world asks the participant today (`own.asked`).
    Asked,
    /// At most 0.1 % of the vesting grant still locked.
    Unlocked,
}

/// What a mask rule looks at, for one participant on one day.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MaskFacts {
    /// It may buy ([`MaskRule::CanBuy`]).
    pub can_buy: bool,
    /// It has spendable tokens.
    pub can_sell: bool,
    /// Candidates it could stake on.
    pub candidates: usize,
    /// It has a stake.
    pub staked: bool,
    /// The world asks it to propose today.
    pub asked: bool,
    /// Its vesting grant is (almost) all unlocked.
    pub unlocked: bool,
}

/// What an observation feature says about a mask rule: the bin is masked unless the feature's value
/// satisfies `allowed` (for the static analysis of strategies).
#[derive(Clone, Debug)]
pub struct ObservedRule {
    /// The feature's name (see docs/environment.md).
    pub feature: String,
    /// The values for which the bin is allowed.
    pub allowed: fn(f32) -> bool,
    /// Why, in words.
    pub why: String,
}

impl MaskRule {
    /// Whether the bin is allowed.
    pub fn allows(self, f: &MaskFacts) -> bool {
        match self {
            MaskRule::Always => true,
            MaskRule::CanBuy => f.can_buy,
            MaskRule::HasSpendable => f.can_sell,
            MaskRule::HasCandidate => f.candidates > 0,
            MaskRule::HasStake => f.staked,
            MaskRule::SlotFilled(k) => k < f.candidates,
            MaskRule::Asked => f.asked,
            MaskRule::Unlocked => f.unlocked,
        }
    }

    /// When the rule is allowed, in words (the docs' "allowed when" column).
    pub fn doc(self) -> String {
        match self {
            MaskRule::Always => "always".into(),
            MaskRule::CanBuy => "budget wallets: wallet ≥ 1 DAI (always with unlimited wallets)".into(),
            MaskRule::HasSpendable => "spendable tokens > 0".into(),
            MaskRule::HasCandidate => "at least one candidate".into(),
            MaskRule::HasStake => "some stake > 0".into(),
            MaskRule::SlotFilled(k) => format!("at least {} candidate{}", k + 1, if k == 0 { "" } else { "s" }),
            MaskRule::Asked => "the world asks the participant today (`own.asked`)".into(),
            MaskRule::Unlocked => "at most 0.1 % of the vesting grant still locked (arrivals: always; hatchers: after about a year with the reference vesting)".into(),
        }
    }

    /// The observation feature that shows whether the rule allows the bin, if one does.
    pub fn observed(self, label: &str) -> Option<ObservedRule> {
        let (feature, allowed, why): (String, fn(f32) -> bool, String) = match self {
            MaskRule::Asked => (
                "own.asked".into(),
                |x| x == 1.0,
                "proposing is masked on days the world does not ask (own.asked = 0)".into(),
            ),
            MaskRule::HasSpendable => (
                "own.spendable_share".into(),
                |x| x > 0.0,
                "selling is masked without spendable tokens (own.spendable_share = 0)".into(),
            ),
            MaskRule::HasCandidate => (
                "commons.candidates".into(),
                |x| x > 0.0,
                "staking by affinity is masked without candidates (commons.candidates = 0)".into(),
            ),
            MaskRule::HasStake => (
                "own.staked_share".into(),
                |x| x > 0.0,
                "unstaking is masked without a stake (own.staked_share = 0)".into(),
            ),
            MaskRule::SlotFilled(k) => (
                format!("slot{k}.present"),
                |x| x == 1.0,
                format!(
                    "staking on {label} is masked when the slot is empty (slot{k}.present = 0)"
                ),
            ),
            MaskRule::Always | MaskRule::CanBuy | MaskRule::Unlocked => return None,
        };
        Some(ObservedRule {
            feature,
            allowed,
            why,
        })
    }
}

/// One bin of a head.
#[derive(Clone, Debug, PartialEq)]
pub struct Bin {
    /// Short label for reports and strategy files (e.g. `sell 20 %`).
    pub label: String,
    /// What it does.
    pub kind: BinKind,
    /// When it is allowed.
    pub mask: MaskRule,
    /// What it does, in words (docs).
    pub doc: String,
}

/// One head of the action space.
#[derive(Clone, Debug, PartialEq)]
pub struct Head {
    /// Its name ([`HEADS`]).
    pub name: &'static str,
    /// Its bins, in order.
    pub bins: Vec<Bin>,
}

fn bin(label: &str, kind: BinKind, mask: MaskRule, doc: &str) -> Bin {
    Bin {
        label: label.into(),
        kind,
        mask,
        doc: doc.into(),
    }
}

/// The action table: every head and bin (one place; everything else derives from it).
fn build() -> [Head; 4] {
    use BinKind as K;
    use MaskRule as M;
    // Shares as whole percentages: `pct / 100` is the nearest double to the decimal, as a literal is.
    let buy = |pct: u32| {
        bin(
            &format!("buy {pct} %"),
            K::Trade(Trade::Buy(pct as f64 / 100.0)),
            M::CanBuy,
            &format!("buy tokens with {pct} % of the wallet (unlimited wallets: of `participants.delta_holdings_scale` DAI)"),
        )
    };
    let sell = |pct: u32| {
        bin(
            &format!("sell {pct} %"),
            K::Trade(Trade::Sell(pct as f64 / 100.0)),
            M::HasSpendable,
            &format!("sell {pct} % of the spendable tokens"),
        )
    };
    let mut support = vec![
        bin("keep", K::Support(Support::Keep), M::Always, "keep: the current split over candidates, rescaled to current holdings"),
        bin("by affinity", K::Support(Support::ByAffinity), M::HasCandidate, "by affinity: the reference's rule (affinity above `max(0.5, 0.75·best)`, proportional to affinity)"),
        bin("unstake", K::Support(Support::Unstake), M::HasStake, "unstake everything"),
    ];
    for k in 0..SLOTS {
        support.push(bin(
            &format!("slot {}", k + 1),
            K::Support(Support::Slot(k)),
            M::SlotFilled(k),
            &format!("everything on the candidate in observation slot {k}"),
        ));
    }
    [
        Head {
            name: HEADS[0],
            bins: vec![
                bin("hold", K::Trade(Trade::Hold), M::Always, "hold"),
                buy(1),
                buy(5),
                buy(20),
                sell(5),
                sell(20),
                sell(50),
            ],
        },
        Head {
            name: HEADS[1],
            bins: support,
        },
        Head {
            name: HEADS[2],
            bins: vec![
                bin("no", K::Propose(None), M::Always, "no proposal"),
                bin("small", K::Propose(Some(0.01)), M::Asked, "small proposal: 1 % of the funding pool"),
                bin("large", K::Propose(Some(0.05)), M::Asked, "large proposal: 5 % of the funding pool"),
            ],
        },
        Head {
            name: HEADS[3],
            bins: vec![
                bin("stay", K::Exit(false), M::Always, "stay"),
                bin("leave", K::Exit(true), M::Unlocked, "leave: burn all tokens (exit tribute to the funding pool), proceeds to the wallet"),
            ],
        },
    ]
}

static TABLE: LazyLock<[Head; 4]> = LazyLock::new(build);

/// The action table, in [`HEADS`] order.
pub fn table() -> &'static [Head; 4] {
    &TABLE
}

/// What each bin of each head does, in [`HEADS`] order: the table's labels.
pub static BIN_LABELS: LazyLock<[Vec<&'static str>; 4]> = LazyLock::new(|| {
    table()
        .each_ref()
        .map(|h| h.bins.iter().map(|b| b.label.as_str()).collect())
});

/// The kind of bin `bin` of head `h` (None outside the table).
pub fn kind(h: usize, bin: u32) -> Option<BinKind> {
    table().get(h)?.bins.get(bin as usize).map(|b| b.kind)
}

/// Fills one agent's action mask (`out.len() == MASK_LEN`, the heads' bins concatenated) from the
/// table's rules.
pub fn fill_mask(facts: &MaskFacts, out: &mut [bool]) {
    let bins = table().iter().flat_map(|h| &h.bins);
    for (allowed, b) in out.iter_mut().zip(bins) {
        *allowed = b.mask.allows(facts);
    }
}

/// The table in Markdown (docs/environment.md's actions and masks).
pub fn markdown() -> String {
    let mut out = format!(
        "Multi-discrete `{:?}`; the mask is the heads' bins concatenated ({MASK_LEN} booleans).\n\n| head | bin | label | what it does | allowed when |\n|---|---|---|---|---|\n",
        NVEC
    );
    for h in table() {
        for (i, b) in h.bins.iter().enumerate() {
            let head = if i == 0 {
                format!("`{}`", h.name)
            } else {
                String::new()
            };
            out.push_str(&format!(
                "| {head} | {i} | {} | {} | {} |\n",
                b.label,
                b.doc,
                b.mask.doc()
            ));
        }
    }
    out
}

/// Length of an action mask.
pub const MASK_LEN: usize = TRADE_BINS + SUPPORT_BINS + PROPOSE_BINS + EXIT_BINS;

/// Names of the behaviours an action can show, in [`behaviours`] order.
pub const BEHAVIOURS: [&str; 5] = ["buy", "sell", "stake", "propose", "exit"];

/// Which behaviours an action `[trade, support, propose, exit]` shows, from the kinds of its bins:
/// buy, sell, stake (support by affinity or on a slot), propose (any size), exit.
pub fn behaviours(action: &[u32]) -> [bool; 5] {
    let k = |h: usize| action.get(h).and_then(|&b| kind(h, b));
    [
        matches!(k(0), Some(BinKind::Trade(Trade::Buy(_)))),
        matches!(k(0), Some(BinKind::Trade(Trade::Sell(_)))),
        matches!(
            k(1),
            Some(BinKind::Support(Support::ByAffinity | Support::Slot(_)))
        ),
        matches!(k(2), Some(BinKind::Propose(Some(_)))),
        matches!(k(3), Some(BinKind::Exit(true))),
    ]
}

/// What a `trade` bin does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Trade {
    /// Nothing.
    Hold,
    /// Spend this fraction of the wallet on tokens.
    Buy(f64),
    /// Sell this fraction of the spendable tokens.
    Sell(f64),
}

/// Decodes a `trade` bin (hold outside the table).
pub fn trade(bin: u32) -> Trade {
    match kind(0, bin) {
        Some(BinKind::Trade(t)) => t,
        _ => Trade::Hold,
    }
}

/// What a `support` bin does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    /// Keep the current split, rescaled to current holdings.
    Keep,
    /// Split by affinity above the cutoff (the reference's rule).
    ByAffinity,
    /// Withdraw every stake.
    Unstake,
    /// Everything on the candidate in this slot.
    Slot(usize),
}

/// Decodes a `support` bin (keep outside the table).
pub fn support(bin: u32) -> Support {
    match kind(1, bin) {
        Some(BinKind::Support(s)) => s,
        _ => Support::Keep,
    }
}

/// Share of the funding pool requested by a `propose` bin (None for "no").
pub fn proposal_share(bin: u32) -> Option<f64> {
    match kind(2, bin) {
        Some(BinKind::Propose(share)) => share,
        _ => None,
    }
}

/// An agent's decoded action for one day, with the proposals its slots pointed to when it observed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AgentAction {
    /// `trade` bin.
    pub trade: u32,
    /// `support` bin.
    pub support: u32,
    /// `propose` bin.
    pub propose: u32,
    /// `exit` bin.
    pub exit: u32,
    /// Proposal in each slot at observation time.
    pub slots: [Option<crate::model::proposal::ProposalId>; SLOTS],
}

impl AgentAction {
    /// The action of bins `[trade, support, propose, exit]` with the slots the agent saw.
    pub fn from_bins(
        bins: &[u32],
        slots: [Option<crate::model::proposal::ProposalId>; SLOTS],
    ) -> Self {
        AgentAction {
            trade: bins[0],
            support: bins[1],
            propose: bins[2],
            exit: bins[3],
            slots,
        }
    }

    /// Does nothing: hold, keep, no proposal, stay (what an agent does on the day it arrives).
    pub const PASSIVE: AgentAction = AgentAction {
        trade: 0,
        support: 0,
        propose: 0,
        exit: 0,
        slots: [None; SLOTS],
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bin_has_a_label() {
        for (labels, n) in BIN_LABELS.iter().zip(NVEC) {
            assert_eq!(labels.len(), n);
        }
    }

    /// Masks follow the table: a participant with k candidates may stake on slots 1..=k only, and
    /// the mask's layout is the heads' bins concatenated.
    #[test]
    fn the_mask_follows_the_table_for_any_slot_count() {
        let offset = TRADE_BINS;
        for candidates in 0..=SLOTS + 1 {
            let facts = MaskFacts {
                can_buy: true,
                can_sell: false,
                candidates,
                staked: false,
                asked: false,
                unlocked: true,
            };
            let mut m = vec![false; MASK_LEN];
            fill_mask(&facts, &mut m);
            for k in 0..SLOTS {
                assert_eq!(
                    m[offset + 3 + k],
                    k < candidates,
                    "slot {k}, {candidates} candidates"
                );
                assert_eq!(support(3 + k as u32), Support::Slot(k));
            }
            assert!(
                m[1] && !m[4] && m[TRADE_BINS + SUPPORT_BINS] && !m[TRADE_BINS + SUPPORT_BINS + 1]
            );
        }
        assert_eq!(
            table().iter().map(|h| h.bins.len()).collect::<Vec<_>>(),
            NVEC
        );
        assert_eq!(table().each_ref().map(|h| h.name), HEADS);
    }

    #[test]
    fn behaviours_follow_the_bins() {
        assert_eq!(behaviours(&[0, 0, 0, 0]), [false; 5]);
        assert_eq!(
            behaviours(&[2, 2, 0, 0]),
            [true, false, false, false, false]
        );
        assert_eq!(behaviours(&[6, 1, 1, 1]), [false, true, true, true, true]);
        assert_eq!(behaviours(&[4, 3, 2, 0])[..4], [false, true, true, true]);
        for bin in 1..=3 {
            assert!(matches!(trade(bin), Trade::Buy(_)) && behaviours(&[bin, 0, 0, 0])[0]);
        }
        for bin in 4..=6 {
            assert!(matches!(trade(bin), Trade::Sell(_)) && behaviours(&[bin, 0, 0, 0])[1]);
        }
        assert_eq!(behaviours(&[0, 2, 0, 0])[2], support(2) != Support::Unstake);
    }
}
