//! Participants: holdings, sentiment and their support relations to candidate proposals.

use super::proposal::ProposalId;
use super::vesting::TokenBatch;

/// A participant's identity. Never reused within an episode (unlike the reference's node ids, Q20).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct ParticipantId(pub u64);

/// A support edge from a participant to a proposal (docs/reference-model.md §2.6).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Support {
    /// How much the participant cares about the proposal, in [0, 1].
    pub affinity: f64,
    /// Tokens staked (last value written while the proposal was a candidate).
    pub tokens: f64,
    /// Conviction accumulated on this edge (tokens, decayed).
    pub conviction: f64,
    /// Whether the participant authored the proposal.
    pub is_author: bool,
}

impl Support {
    /// A fresh edge with no stake and no conviction.
    pub fn new(affinity: f64) -> Self {
        Support {
            affinity,
            tokens: 0.0,
            conviction: 0.0,
            is_author: false,
        }
    }
}

/// Affinity of a new (non-author) support edge from one uniform draw: `1 − 4·(1 − U)·U`
/// (distributed as `V²`, `V ~ U[0,1)`; computed in exactly the reference's order).
#[inline]
pub fn affinity_from_uniform(u: f64) -> f64 {
    1.0 - 4.0 * (1.0 - u) * u
}

/// A member of the Commons.
#[derive(Clone, Debug, PartialEq)]
pub struct Participant {
    /// Stable identity.
    pub id: ParticipantId,
    /// The node id the reference would give this participant (`max id + 1`; reused ids included).
    pub ref_id: u64,
    /// Token holdings.
    pub holdings: TokenBatch,
    /// Sentiment in [0, 1].
    pub sentiment: f64,
    /// Day the participant joined (0 for hatchers).
    pub joined_day: u32,
    /// Label of the participant's personality (an index into the environment's population table; 0 when
    /// the model runs alone).
    pub personality: u16,
    /// DAI outside the Commons (`extensions.wallets = "budget"`; always 0 with unlimited wallets).
    pub wallet: f64,
    /// Support edges to the candidate proposals, aligned with the Commons' candidate list
    /// (every participant supports every candidate).
    pub support: Vec<Support>,
    /// Edges to proposals that are no longer candidates, sorted by proposal; their affinities still
    /// count in the median affinity until the participant leaves.
    pub past: Vec<PastEdge>,
}

/// An edge to a proposal that stopped being a candidate (it became active).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PastEdge {
    /// The proposal.
    pub proposal: ProposalId,
    /// The participant's affinity to it.
    pub affinity: f64,
    /// The participant's share of the proposal's total conviction when it passed
    /// (`edge conviction / Σ conviction`; 0 when the total was 0).
    pub share: f64,
}

impl Participant {
    /// Whether the participant still has hatch (vesting) tokens, which the reference's exit rule checks.
    pub fn has_vesting_grant(&self) -> bool {
        self.holdings.vesting != 0.0
    }

    /// Affinity to a proposal that is no longer a candidate (None if there is no edge).
    pub fn past_affinity(&self, proposal: ProposalId) -> Option<f64> {
        self.past_edge(proposal).map(|e| e.affinity)
    }

    /// The retired edge to a proposal, if it has one.
    pub fn past_edge(&self, proposal: ProposalId) -> Option<PastEdge> {
        self.past
            .binary_search_by_key(&proposal, |e| e.proposal)
            .ok()
            .map(|i| self.past[i])
    }

    /// Records the edge to a proposal that stopped being a candidate.
    pub fn retire_edge(&mut self, edge: PastEdge) {
        let at = self.past.partition_point(|e| e.proposal < edge.proposal);
        self.past.insert(at, edge);
    }

    /// Sum of the tokens currently staked on candidates.
    pub fn staked(&self) -> f64 {
        self.support.iter().map(|s| s.tokens).sum()
    }
}
