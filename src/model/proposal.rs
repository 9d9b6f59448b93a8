//! Proposals: funding requests that go candidate → active → completed/failed (docs/reference-model.md §2.5, §4.14).

use super::participant::ParticipantId;

/// Index of a proposal in creation order (never reused).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProposalId(pub u32);

/// Lifecycle of a proposal: `Candidate → Active → {Completed, Failed}`; no other transitions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalStatus {
    /// Gathering conviction.
    Candidate,
    /// Funded, work under way.
    Active,
    /// Finished successfully.
    Completed,
    /// Failed after funding.
    Failed,
}

/// A participant whose sentiment reacts when an active proposal completes or fails: its author, or one
/// with a non-zero stake on it when it was funded.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stakeholder {
    /// Who.
    pub participant: ParticipantId,
    /// Their affinity to the proposal.
    pub affinity: f64,
}

/// A request for DAI from the funding pool.
#[derive(Clone, Debug, PartialEq)]
pub struct Proposal {
    /// Identity (creation index).
    pub id: ProposalId,
    /// The node id the reference would give it.
    pub ref_id: u64,
    /// DAI requested, fixed at creation.
    pub funds_requested: f64,
    /// Lifecycle state.
    pub status: ProposalStatus,
    /// Total conviction (tokens), last written while a candidate.
    pub conviction: f64,
    /// Trigger threshold, refreshed daily while a candidate (informational).
    pub trigger: f64,
    /// Days spent as a candidate.
    pub age: u32,
    /// Author, if any (bootstrap proposals have none).
    pub author: Option<ParticipantId>,
    /// Day of creation (0 for bootstrap proposals).
    pub created_day: u32,
    /// Day it became active, if it did.
    pub funded_day: Option<u32>,
    /// Set when it becomes active: who reacts to its completion or failure.
    pub stakeholders: Vec<Stakeholder>,
}

/// Daily failure and success probabilities of an active proposal of `f` DAI:
/// `r_fail = 1/(base_failure + ln f)`, `r_succ = 1/(base_success + ln f)`.
pub fn resolution_rates(funds_requested: f64, base_failure: f64, base_success: f64) -> (f64, f64) {
    let ln_f = funds_requested.ln();
    (1.0 / (base_failure + ln_f), 1.0 / (base_success + ln_f))
}

/// Probability that the participant drawn in block 4 authors a proposal today (§4.11):
/// `rate = median_affinity / (1 + total_requested / F)`, with `total_requested` the DAI requested by all
/// candidates and `F` the (mirrored) funding pool.
pub fn creation_rate(median_affinity: f64, total_requested: f64, funding_pool: f64) -> f64 {
    median_affinity / (1.0 + total_requested / funding_pool)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creation_rate_falls_with_what_is_already_requested() {
        assert_eq!(creation_rate(0.5, 0.0, 1000.0), 0.5);
        assert_eq!(creation_rate(0.5, 1000.0, 1000.0), 0.25);
        assert_eq!(creation_rate(0.5, 1000.0, 0.0), 0.0);
    }

    #[test]
    fn resolution_rate_vectors() {
        let (fail, succ) = resolution_rates(30_000.0, 0.15, 0.30);
        assert!((fail - 0.09561186788452276).abs() < 1e-15);
        assert!((succ - 0.09426001151929628).abs() < 1e-15);
        let (fail, _) = resolution_rates(2.0, 0.15, 0.30);
        assert!((fail - 1.1860325493063817).abs() < 1e-15);
    }
}
