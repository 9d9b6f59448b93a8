//! The Commons agents' observation vector and action masks.
//!
//! The observation is a **feature table**: three `const` lists, one per section of the vector — the
//! agent itself ([`OWN`]), the Commons ([`COMMONS`]) and each of the [`SLOTS`] candidate slots
//! ([`SLOT`]). Each [`Feature`] names the feature and gives its bounds, its scaling, its meaning and the
//! function that computes it. Everything else is derived from the table: [`Encoder::encode`] (the values,
//! in table order), [`names`], [`observation_spec`] (bounds), [`OBS_LEN`], and the observation tables of
//! docs/environment.md and of [`super::CommonsEnv`]'s documentation ([`markdown`]; a test fails when
//! they disagree). Adding a feature is adding one entry.

use super::actions::{MaskFacts, MASK_LEN, SLOTS};
use super::api::ObservationSpec;
use crate::model::conviction::trigger_threshold;
use crate::model::participant::{Participant, ParticipantId, Support};
use crate::model::proposal::ProposalId;
use crate::model::Commons;

/// Which observation function a personality uses. All produce the same layout (the feature table), so
/// policies batch; `market-only` zeroes the proposal slots.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObservationKind {
    /// Own state, the Commons' state and the K best candidate slots.
    #[default]
    Full,
    /// Own state and the Commons' state; proposal slots are zero.
    MarketOnly,
}

/// One observation feature: a row of the feature table.
#[derive(Clone, Copy)]
pub struct Feature<I: 'static> {
    /// Name within its section (the full name adds the section's prefix, e.g. `own.wallet`).
    pub name: &'static str,
    /// Lower bound of the value.
    pub low: f32,
    /// Upper bound of the value.
    pub high: f32,
    /// How the raw quantity is scaled into the value ([`FLAG`] for 0/1 indicators).
    pub scaling: &'static str,
    /// What the feature means.
    pub doc: &'static str,
    /// Computes the value from the section's inputs.
    pub value: fn(&I) -> f32,
}

impl<I> std::fmt::Debug for Feature<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feature")
            .field("name", &self.name)
            .field("low", &self.low)
            .field("high", &self.high)
            .finish_non_exhaustive()
    }
}

/// The `scaling` of a 0/1 indicator.
pub const FLAG: &str = "1 if true, else 0";
const AS_IS: &str = "as is";
const LOG_BASIS: &str =
    "`ln(1 + x / basis)`, capped at 10; basis = net worth when the agent joined (≥ 1 DAI)";
const SHARE: &str = "`x / own total tokens`, clamped to [0, 2]; 0 without tokens";
const LOG_HATCH: &str = "`ln(1 + x / x after the hatch)`, capped at 10";

/// What the own-state features read: one agent's numbers, with the quantities several features share.
#[derive(Clone, Copy, Debug)]
pub struct OwnInputs {
    /// Sentiment.
    pub sentiment: f64,
    /// DAI in the wallet.
    pub wallet: f64,
    /// Spendable tokens.
    pub spendable: f64,
    /// Tokens still locked by vesting.
    pub locked: f64,
    /// The vesting grant (0 for arrivals).
    pub vesting: f64,
    /// Net worth when the agent joined, at least 1 DAI.
    pub basis: f64,
    /// All its tokens.
    pub tokens: f64,
    /// What selling all its tokens would return now (`Pools::sale_value`).
    pub sale_value: f64,
    /// Tokens it has staked, over all candidates.
    pub staked: f64,
    /// Candidates it authored.
    pub authored: usize,
    /// Days since it joined.
    pub tenure_days: u32,
    /// Episode length in days.
    pub horizon: f64,
    /// The world asks it today whether to propose (block 4).
    pub asked: bool,
}

/// `x / tokens` clamped to [0, 2] (stale stakes can exceed the holdings); 0 without tokens.
fn share(x: f64, tokens: f64) -> f32 {
    if tokens > 0.0 {
        (x / tokens).clamp(0.0, 2.0) as f32
    } else {
        0.0
    }
}

/// `min(10, ln(1 + max(x, 0)))`: compresses money ratios that span orders of magnitude into O(1).
fn log1p(x: f64) -> f32 {
    x.max(0.0).ln_1p().min(10.0) as f32
}

/// Features describing the agent itself (section `own`).
pub const OWN: &[Feature<OwnInputs>] = &[
    Feature {
        name: "sentiment",
        low: 0.0,
        high: 1.0,
        scaling: AS_IS,
        doc: "own sentiment",
        value: |x| x.sentiment as f32,
    },
    Feature {
        name: "wallet",
        low: 0.0,
        high: 10.0,
        scaling: LOG_BASIS,
        doc: "DAI in the wallet",
        value: |x| log1p(x.wallet / x.basis),
    },
    Feature {
        name: "holdings_value",
        low: 0.0,
        high: 10.0,
        scaling: LOG_BASIS,
        doc: "what selling all its tokens would return now, after the exit tribute",
        value: |x| log1p(x.sale_value / x.basis),
    },
    Feature {
        name: "spendable_share",
        low: 0.0,
        high: 2.0,
        scaling: SHARE,
        doc: "spendable (unlocked, unspent) tokens",
        value: |x| share(x.spendable, x.tokens),
    },
    Feature {
        name: "locked_share",
        low: 0.0,
        high: 2.0,
        scaling: SHARE,
        doc: "tokens still locked by vesting",
        value: |x| share(x.locked, x.tokens),
    },
    Feature {
        name: "staked_share",
        low: 0.0,
        high: 2.0,
        scaling: SHARE,
        doc: "tokens staked over all candidates (stale stakes can exceed the holdings)",
        value: |x| share(x.staked, x.tokens),
    },
    Feature {
        name: "is_hatcher",
        low: 0.0,
        high: 1.0,
        scaling: FLAG,
        doc: "holds a vesting grant (a hatcher)",
        value: |x| (x.vesting > 0.0) as u8 as f32,
    },
    Feature {
        name: "tenure",
        low: 0.0,
        high: 1.0,
        scaling: "`days / horizon`",
        doc: "days since joining",
        value: |x| (x.tenure_days as f64 / x.horizon.max(1.0)) as f32,
    },
    Feature {
        name: "net_worth",
        low: 0.0,
        high: 10.0,
        scaling: LOG_BASIS,
        doc: "net worth: wallet + what selling all its tokens would return now",
        value: |x| log1p((x.wallet + x.sale_value) / x.basis),
    },
    Feature {
        name: "candidates_authored",
        low: 0.0,
        high: 1.0,
        scaling: "`n / 3`, capped at 1",
        doc: "candidate proposals it authored",
        value: |x| (x.authored as f32 / 3.0).min(1.0),
    },
    Feature {
        name: "asked",
        low: 0.0,
        high: 1.0,
        scaling: FLAG,
        doc: "the world asks it today whether to propose and it has an idea (block 4: drawn with the creation gate the evening before); the `propose` head is masked on other days",
        value: |x| x.asked as u8 as f32,
    },
];

/// What the Commons features read: the world's numbers between days and the episode's scales.
#[derive(Clone, Copy, Debug)]
pub struct CommonsInputs {
    /// Scales fixed at reset.
    pub refs: References,
    /// Spot price, DAI/token.
    pub token_price: f64,
    /// Funding pool, DAI.
    pub funding_pool: f64,
    /// Collateral pool, DAI.
    pub collateral_pool: f64,
    /// Token supply.
    pub token_supply: f64,
    /// Mean sentiment (the mirrored value, end of day).
    pub avg_sentiment: f64,
    /// Participants.
    pub participants: usize,
    /// Candidate proposals.
    pub candidates: u32,
    /// Active proposals.
    pub actives: u32,
    /// Days simulated.
    pub day: u32,
    /// Length of the speculation period, days.
    pub speculation_days: i64,
    /// DAI requested by all candidates.
    pub requested: f64,
    /// Median affinity over all support edges (0 without edges).
    pub median_affinity: f64,
}

/// Features describing the Commons, shared by every agent of a step (section `commons`).
pub const COMMONS: &[Feature<CommonsInputs>] = &[
    Feature {
        name: "price",
        low: 0.0,
        high: 100.0,
        scaling: "`x / x after the hatch`, capped at 100",
        doc: "spot price of the token",
        value: |x| ((x.token_price / x.refs.token_price.max(1e-12)) as f32).min(100.0),
    },
    Feature {
        name: "funding_pool",
        low: 0.0,
        high: 10.0,
        scaling: LOG_HATCH,
        doc: "funding pool (DAI)",
        value: |x| log1p(x.funding_pool / x.refs.funding_pool.max(1e-12)),
    },
    Feature {
        name: "collateral_pool",
        low: 0.0,
        high: 10.0,
        scaling: LOG_HATCH,
        doc: "collateral pool (DAI)",
        value: |x| log1p(x.collateral_pool / x.refs.collateral_pool.max(1e-12)),
    },
    Feature {
        name: "token_supply",
        low: 0.0,
        high: 10.0,
        scaling: LOG_HATCH,
        doc: "token supply",
        value: |x| log1p(x.token_supply / x.refs.token_supply.max(1e-12)),
    },
    Feature {
        name: "avg_sentiment",
        low: 0.0,
        high: 1.0,
        scaling: AS_IS,
        doc: "mean sentiment of the participants (end of day)",
        value: |x| x.avg_sentiment as f32,
    },
    Feature {
        name: "participants",
        low: 0.0,
        high: 3.0,
        scaling: "`ln(1 + n) / 5`",
        doc: "participants",
        value: |x| (x.participants as f64).ln_1p() as f32 / 5.0,
    },
    Feature {
        name: "candidates",
        low: 0.0,
        high: 1.0,
        scaling: "`n / (4 · K)`, capped at 1",
        doc: "candidate proposals",
        value: |x| (x.candidates as f32 / (4.0 * SLOTS as f32)).min(1.0),
    },
    Feature {
        name: "actives",
        low: 0.0,
        high: 1.0,
        scaling: "`n / 10`, capped at 1",
        doc: "active (funded, unresolved) proposals",
        value: |x| (x.actives as f32 / 10.0).min(1.0),
    },
    Feature {
        name: "day",
        low: 0.0,
        high: 1.0,
        scaling: "`day / horizon`",
        doc: "days simulated",
        value: |x| (x.day as f64 / x.refs.horizon.max(1.0)) as f32,
    },
    Feature {
        name: "speculation",
        low: 0.0,
        high: 1.0,
        scaling: FLAG,
        doc: "the speculation period (more arrivals) is under way",
        value: |x| ((x.day as f64) < x.speculation_days as f64) as u8 as f32,
    },
    Feature {
        name: "requested_share",
        low: 0.0,
        high: 1.0,
        scaling: "`x / funding pool / 5`, capped at 1; 1 with an empty pool",
        doc: "DAI requested by all candidates",
        value: |x| {
            if x.funding_pool > 0.0 {
                ((x.requested / x.funding_pool) as f32).min(5.0) / 5.0
            } else {
                1.0
            }
        },
    },
    Feature {
        name: "median_affinity",
        low: 0.0,
        high: 1.0,
        scaling: AS_IS,
        doc: "median affinity over all support edges (drives the proposal rate); 0 without edges",
        value: |x| x.median_affinity as f32,
    },
];

/// What a candidate slot's features read: the agent's edge to the candidate and the candidate's facts.
#[derive(Clone, Copy, Debug)]
pub struct SlotInputs {
    /// The agent's support edge to the candidate.
    pub edge: Support,
    /// Facts about the candidate shared by every agent.
    pub facts: CandidateFacts,
    /// All the agent's tokens.
    pub tokens: f64,
}

/// Features of each candidate slot (section `slot<k>`); an empty slot is all zeros.
pub const SLOT: &[Feature<SlotInputs>] = &[
    Feature {
        name: "present",
        low: 0.0,
        high: 1.0,
        scaling: FLAG,
        doc: "the slot holds a candidate",
        value: |_| 1.0,
    },
    Feature {
        name: "affinity",
        low: 0.0,
        high: 1.0,
        scaling: AS_IS,
        doc: "own affinity to the candidate",
        value: |x| x.edge.affinity as f32,
    },
    Feature {
        name: "request_share",
        low: 0.0,
        high: 2.0,
        scaling: "`x / (β · funding pool)`, capped at 2; 2 with an empty pool",
        doc: "DAI requested (≥ 1: can never pass at this pool)",
        value: |x| {
            let f = &x.facts;
            if f.funding_pool > 0.0 {
                ((f.funds_requested / (f.max_request * f.funding_pool)) as f32).min(2.0)
            } else {
                2.0
            }
        },
    },
    Feature {
        name: "conviction_progress",
        low: 0.0,
        high: 2.0,
        scaling: "`x / threshold` at today's pool and supply, capped at 2; 0 if unreachable",
        doc: "current total conviction on the candidate",
        value: |x| {
            let f = &x.facts;
            if f.threshold.is_finite() && f.threshold > 0.0 {
                ((f.conviction / f.threshold) as f32).min(2.0)
            } else {
                0.0
            }
        },
    },
    Feature {
        name: "own_stake_share",
        low: 0.0,
        high: 2.0,
        scaling: SHARE,
        doc: "own stake on the candidate",
        value: |x| share(x.edge.tokens, x.tokens),
    },
    Feature {
        name: "is_author",
        low: 0.0,
        high: 1.0,
        scaling: FLAG,
        doc: "the agent authored the candidate",
        value: |x| x.edge.is_author as u8 as f32,
    },
    Feature {
        name: "age",
        low: 0.0,
        high: 1.0,
        scaling: "`days / 30`, capped at 1",
        doc: "days as a candidate",
        value: |x| (x.facts.age as f32 / 30.0).min(1.0),
    },
];

/// Where the Commons section starts.
pub const COMMONS_START: usize = OWN.len();
/// Where the first candidate slot starts; slot `k` starts at `SLOTS_START + k · SLOT.len()`.
pub const SLOTS_START: usize = OWN.len() + COMMONS.len();
/// Length of the observation vector.
pub const OBS_LEN: usize = SLOTS_START + SLOTS * SLOT.len();

/// A section of the observation vector.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Section {
    /// The agent itself ([`OWN`]).
    Own,
    /// The Commons ([`COMMONS`]).
    Commons,
    /// Candidate slot `k` ([`SLOT`]).
    Slot(usize),
}

impl Section {
    /// The prefix of its features' full names.
    pub fn prefix(self) -> String {
        match self {
            Section::Own => "own".into(),
            Section::Commons => "commons".into(),
            Section::Slot(k) => format!("slot{k}"),
        }
    }
}

/// One entry of the observation vector, as the table describes it (without the computing function).
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureInfo {
    /// Index in the vector.
    pub index: usize,
    /// Section.
    pub section: Section,
    /// Full name, e.g. `own.wallet` or `slot2.affinity`.
    pub name: String,
    /// Lower bound.
    pub low: f32,
    /// Upper bound.
    pub high: f32,
    /// Scaling.
    pub scaling: &'static str,
    /// Meaning.
    pub doc: &'static str,
}

fn infos<I>(
    section: Section,
    start: usize,
    table: &[Feature<I>],
) -> impl Iterator<Item = FeatureInfo> + '_ {
    let prefix = section.prefix();
    table.iter().enumerate().map(move |(i, f)| FeatureInfo {
        index: start + i,
        section,
        name: format!("{prefix}.{}", f.name),
        low: f.low,
        high: f.high,
        scaling: f.scaling,
        doc: f.doc,
    })
}

/// Every entry of the observation vector, in order.
pub fn features() -> Vec<FeatureInfo> {
    let mut v: Vec<FeatureInfo> = infos(Section::Own, 0, OWN)
        .chain(infos(Section::Commons, COMMONS_START, COMMONS))
        .collect();
    for k in 0..SLOTS {
        v.extend(infos(Section::Slot(k), SLOTS_START + k * SLOT.len(), SLOT));
    }
    v
}

/// Names of every entry, in order.
pub fn names() -> Vec<String> {
    features().into_iter().map(|f| f.name).collect()
}

/// Names and bounds of the observation vector (the same for every personality).
pub fn observation_spec() -> ObservationSpec {
    let features = features();
    ObservationSpec {
        len: OBS_LEN,
        low: features.iter().map(|f| f.low).collect(),
        high: features.iter().map(|f| f.high).collect(),
        names: features.into_iter().map(|f| f.name).collect(),
    }
}

/// The observation tables in Markdown (docs/environment.md and [`super::CommonsEnv`]'s documentation
/// hold exactly this text).
pub fn markdown() -> String {
    fn range<I>(f: &Feature<I>) -> String {
        if f.scaling == FLAG {
            "{0, 1}".into()
        } else {
            format!("[{}, {}]", f.low, f.high)
        }
    }
    fn table<I>(
        out: &mut String,
        first: &str,
        table: &[Feature<I>],
        index: impl Fn(usize) -> String,
        name: impl Fn(&str) -> String,
    ) {
        out.push_str(&format!(
            "| {first} | name | meaning | scaling | range |\n|---|---|---|---|---|\n"
        ));
        for (i, f) in table.iter().enumerate() {
            out.push_str(&format!(
                "| {} | `{}` | {} | {} | {} |\n",
                index(i),
                name(f.name),
                f.doc,
                f.scaling,
                range(f)
            ));
        }
    }
    let mut out = format!("Own state ({}–{}):\n\n", 0, COMMONS_START - 1);
    table(
        &mut out,
        "index",
        OWN,
        |i| i.to_string(),
        |n| format!("own.{n}"),
    );
    out.push_str(&format!(
        "\nThe Commons ({}–{}), the same for every agent of a step:\n\n",
        COMMONS_START,
        SLOTS_START - 1
    ));
    table(
        &mut out,
        "index",
        COMMONS,
        |i| (COMMONS_START + i).to_string(),
        |n| format!("commons.{n}"),
    );
    out.push_str(&format!(
        "\nCandidate slots ({}–{}): the K = {SLOTS} candidates this agent has the highest affinity to, best \
         first (ties: older first); {} entries each at `{} + {}k`, named `slot<k>.<name>`; an empty slot is \
         all zeros.\n\n",
        SLOTS_START,
        OBS_LEN - 1,
        SLOT.len(),
        SLOTS_START,
        SLOT.len()
    ));
    table(
        &mut out,
        "offset",
        SLOT,
        |i| format!("+{i}"),
        |n| n.to_string(),
    );
    out
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

/// Per-candidate facts shared by all agents in one step (raw quantities; the slot features scale them).
#[derive(Clone, Copy, Debug, Default)]
pub struct CandidateFacts {
    /// The proposal.
    pub id: Option<ProposalId>,
    /// DAI requested.
    pub funds_requested: f64,
    /// The largest share of the funding pool a proposal may request, β.
    pub max_request: f64,
    /// The funding pool now, DAI.
    pub funding_pool: f64,
    /// Total conviction on it now.
    pub conviction: f64,
    /// Its trigger threshold at today's pool and supply (infinite if unreachable).
    pub threshold: f64,
    /// Age in days.
    pub age: u32,
    /// Author.
    pub author: Option<ParticipantId>,
}

/// Net worth: wallet + what selling all its tokens would return now ([`crate::model::pools::Pools::sale_value`]).
pub fn net_worth(c: &Commons, p: &Participant) -> f64 {
    p.wallet + c.pools().sale_value(p.holdings.total())
}

/// Writes observations from the feature table: holds the scale references of the episode and what all
/// agents of a step share (the Commons features, the candidates' facts), and reuses its buffers.
#[derive(Clone, Debug, Default)]
pub struct Encoder {
    refs: References,
    commons: [f32; COMMONS.len()],
    facts: Vec<CandidateFacts>,
    order: Vec<(f64, usize)>,
}

impl Encoder {
    /// Fixes the scale references for an episode of `horizon` days from the world after the hatch.
    pub fn reset(&mut self, c: &Commons, horizon: u32) {
        let pools = c.pools();
        self.refs = References {
            funding_pool: pools.funding_pool,
            collateral_pool: pools.collateral_pool,
            token_supply: pools.token_supply,
            token_price: pools.token_price(),
            horizon: horizon as f64,
        };
    }

    /// Computes what every agent's observation of this moment shares: the Commons features and the
    /// facts about each candidate. Call after every reset and step, before [`Encoder::encode`].
    pub fn prepare(&mut self, c: &mut Commons) {
        let median_affinity = c.median_affinity().unwrap_or(0.0);
        let c = &*c;
        let requested: f64 = c
            .candidates()
            .iter()
            .map(|id| c.proposals()[id.0 as usize].funds_requested)
            .sum();
        let pools = c.pools();
        let counts = c.counts();
        let inputs = CommonsInputs {
            refs: self.refs,
            token_price: pools.token_price(),
            funding_pool: pools.funding_pool,
            collateral_pool: pools.collateral_pool,
            token_supply: pools.token_supply,
            avg_sentiment: c.mirrors().sentiment,
            participants: c.participants().len(),
            candidates: counts.candidate,
            actives: counts.active,
            day: c.day(),
            speculation_days: c.speculation_days(),
            requested,
            median_affinity,
        };
        for (v, f) in self.commons.iter_mut().zip(COMMONS) {
            *v = (f.value)(&inputs);
        }

        let (pool, supply) = (pools.funding_pool, pools.token_supply);
        let beta = c.config().conviction.max_proposal_request;
        let rho = c.config().rho();
        self.facts.clear();
        for (k, id) in c.candidates().iter().enumerate() {
            let q = &c.proposals()[id.0 as usize];
            let conviction = c.candidate_conviction(k);
            self.facts.push(CandidateFacts {
                id: Some(*id),
                funds_requested: q.funds_requested,
                max_request: beta,
                funding_pool: pool,
                conviction,
                threshold: trigger_threshold(q.funds_requested, pool, supply, beta, rho),
                age: q.age,
                author: q.author,
            });
        }
    }

    /// Fills one agent's observation (`out.len() == OBS_LEN`) in feature-table order and returns the
    /// proposals in its slots. `basis` is the agent's net worth when it joined; `kind` its personality's
    /// observation function.
    ///
    /// # Panics
    /// If [`Encoder::prepare`] did not run on `c` as it is now (its candidates must match), or if
    /// `out` is shorter than [`OBS_LEN`].
    pub fn encode(
        &mut self,
        c: &Commons,
        p: &Participant,
        basis: f64,
        kind: ObservationKind,
        out: &mut [f32],
    ) -> [Option<ProposalId>; SLOTS] {
        let h = &p.holdings;
        let tokens = h.total();
        let own = OwnInputs {
            sentiment: p.sentiment,
            wallet: p.wallet,
            spendable: h.spendable(),
            locked: h.locked(),
            vesting: h.vesting,
            basis: basis.max(1.0),
            tokens,
            sale_value: c.pools().sale_value(tokens),
            staked: p.support.iter().map(|e| e.tokens).sum(),
            authored: self.facts.iter().filter(|f| f.author == Some(p.id)).count(),
            tenure_days: c.day().saturating_sub(p.joined_day),
            horizon: self.refs.horizon,
            asked: c.asked() == Some(p.id),
        };
        let (own_out, rest) = out.split_at_mut(COMMONS_START);
        for (o, f) in own_out.iter_mut().zip(OWN) {
            *o = (f.value)(&own);
        }
        let (commons_out, slots_out) = rest.split_at_mut(COMMONS.len());
        commons_out.copy_from_slice(&self.commons);
        slots_out.fill(0.0);
        let mut slots = [None; SLOTS];
        if kind == ObservationKind::MarketOnly {
            return slots;
        }
        // The K candidates this participant likes most (ties: older first).
        let order = &mut self.order;
        order.clear();
        order.extend(p.support.iter().enumerate().map(|(k, e)| (e.affinity, k)));
        let k = order.len().min(SLOTS);
        if order.len() > SLOTS {
            order.select_nth_unstable_by(SLOTS - 1, |a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        }
        order[..k].sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        for (slot, (&(_, pos), o)) in order[..k]
            .iter()
            .zip(slots_out.chunks_exact_mut(SLOT.len()))
            .enumerate()
        {
            let inputs = SlotInputs {
                edge: p.support[pos],
                facts: self.facts[pos],
                tokens,
            };
            for (v, f) in o.iter_mut().zip(SLOT) {
                *v = (f.value)(&inputs);
            }
            slots[slot] = self.facts[pos].id;
        }
        slots
    }
}

/// Fills one agent's action mask (`out.len() == MASK_LEN`): `true` = allowed, by each bin's
/// [`super::actions::MaskRule`] in the action table, from this participant's facts (`asked`: the world
/// asks it to propose today, see [`crate::model::Commons::ask_ahead`]).
pub fn mask(p: &Participant, budget: bool, asked: bool, out: &mut [bool]) {
    debug_assert_eq!(out.len(), MASK_LEN);
    let h = &p.holdings;
    let facts = MaskFacts {
        can_buy: !budget || p.wallet >= 1.0,
        can_sell: h.spendable() > 1e-9,
        candidates: p.support.len(),
        staked: p.support.iter().any(|e| e.tokens > 0.0),
        asked,
        unlocked: h.locked() <= 1e-3 * h.vesting,
    };
    super::actions::fill_mask(&facts, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_gives_names_bounds_and_length() {
        let f = features();
        assert_eq!(f.len(), OBS_LEN);
        assert_eq!(OBS_LEN, 51);
        for (i, x) in f.iter().enumerate() {
            assert_eq!(x.index, i);
            assert!(x.low < x.high, "{}", x.name);
            assert!(!x.doc.is_empty() && !x.scaling.is_empty(), "{}", x.name);
        }
        assert_eq!(f[0].name, "own.sentiment");
        assert_eq!(f[COMMONS_START].name, "commons.price");
        assert_eq!(f[SLOTS_START + SLOT.len() + 1].name, "slot1.affinity");
        let names = names();
        let unique: std::collections::HashSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "names are unique");
        let spec = observation_spec();
        assert_eq!(
            (spec.low.len(), spec.high.len(), spec.names),
            (OBS_LEN, OBS_LEN, names)
        );
    }
}
