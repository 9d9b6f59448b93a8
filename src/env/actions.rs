//! The Commons agents' multi-discrete action space: four heads, and what each bin does.
//!
//! | head | bins |
//! |---|---|
//! | `trade` (7) | 0 hold · 1/2/3 buy with 1/5/20 % of the wallet · 4/5/6 sell 5/20/50 % of spendable tokens |
//! | `support` (3 + K) | 0 keep (same split, rescaled to current holdings) · 1 by affinity (the reference's rule) · 2 unstake all · 3+k stake everything on candidate slot k |
//! | `propose` (3) | 0 no · 1 small (1 % of the funding pool) · 2 large (5 % of the funding pool); allowed only on days the world asks this participant (block 4; observed as `own.asked`) |
//! | `exit` (2) | 0 stay · 1 leave (burn all tokens) |
//!
//! With unlimited wallets (the reference), buys spend 1/5/20 % of `participants.delta_holdings_scale`.

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
/// What each bin of each head does, in [`HEADS`] order (short labels for reports; the module's table
/// says it in full).
pub const BIN_LABELS: [&[&str]; 4] = [
    &[
        "hold",
        "buy 1 %",
        "buy 5 %",
        "buy 20 %",
        "sell 5 %",
        "sell 20 %",
        "sell 50 %",
    ],
    &[
        "keep",
        "by affinity",
        "unstake",
        "slot 1",
        "slot 2",
        "slot 3",
        "slot 4",
    ],
    &["no", "small", "large"],
    &["stay", "leave"],
];

/// Length of an action mask.
pub const MASK_LEN: usize = TRADE_BINS + SUPPORT_BINS + PROPOSE_BINS + EXIT_BINS;

/// Names of the behaviours an action can show, in [`behaviours`] order.
pub const BEHAVIOURS: [&str; 5] = ["buy", "sell", "stake", "propose", "exit"];

/// Which behaviours an action `[trade, support, propose, exit]` shows: buy (trade 1–3), sell (trade
/// 4–6), stake (support by affinity or on a slot), propose (any size), exit.
pub fn behaviours(action: &[u32]) -> [bool; 5] {
    [
        (1..=3).contains(&action[0]),
        (4..=6).contains(&action[0]),
        action[1] == 1 || action[1] >= 3,
        action[2] != 0,
        action[3] == 1,
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

/// Decodes a `trade` bin.
pub fn trade(bin: u32) -> Trade {
    match bin {
        1 => Trade::Buy(0.01),
        2 => Trade::Buy(0.05),
        3 => Trade::Buy(0.20),
        4 => Trade::Sell(0.05),
        5 => Trade::Sell(0.20),
        6 => Trade::Sell(0.50),
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

/// Decodes a `support` bin.
pub fn support(bin: u32) -> Support {
    match bin {
        0 => Support::Keep,
        1 => Support::ByAffinity,
        2 => Support::Unstake,
        b => Support::Slot(b as usize - 3),
    }
}

/// Share of the funding pool requested by a `propose` bin (None for "no").
pub fn proposal_share(bin: u32) -> Option<f64> {
    match bin {
        1 => Some(0.01),
        2 => Some(0.05),
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
