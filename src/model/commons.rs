//! The world state of a Commons and its daily mechanics, in the reference's order of 19 blocks
//! (docs/reference-model.md §5–§6).
//!
//! Layout: participants and proposals are kept in creation ("node") order. Every participant supports
//! every candidate proposal, so each participant's `support` vector is aligned with [`Commons::candidates`];
//! edges to proposals that stopped being candidates are dropped from it (their affinity stays in the median
//! and, for stakers and authors, in the proposal's stakeholder list). A day therefore costs
//! O(participants × candidates), and the hot loop reuses its scratch buffers.

use super::arrivals::{arrival_chances, ArrivalChances};
use super::config::{ArrivalTokens, ModelConfig, WalletMode};
use super::conviction::{accumulate, passes, trigger_threshold};
use super::numeric::{pairwise_sum, MedianTracker};
use super::participant::{affinity_from_uniform, Participant, ParticipantId, PastEdge, Support};
use super::pools::{speculator_tribute, Overdraft, Pools};
use super::proposal::{
    creation_rate, resolution_rates, Proposal, ProposalId, ProposalStatus, Stakeholder,
};
use super::scripted::Controller;
use super::sentiment;
use super::vesting::{NotSpendable, TokenBatch, VestingSchedule};
use crate::rng::{ModelRng, RngError, RngMode};

/// Why a day could not be completed. In `numpy-legacy` mode these are the reference's own exceptions;
/// the default mode clamps rates and never overdraws, so only bugs would raise them there.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// A Bernoulli rate above 1 (Q4: active proposals of about 0.74–2.34 DAI).
    #[error("day {day}, {block}: {cause}")]
    Rate {
        /// Day being simulated.
        day: u32,
        /// Where it happened.
        block: &'static str,
        /// The refused draw.
        cause: RngError,
    },
    /// Simultaneous passes overdrew the funding pool (Q14).
    #[error("day {day}, proposal funding: {cause}")]
    Overdraft {
        /// Day being simulated.
        day: u32,
        /// Amounts involved.
        cause: Overdraft,
    },
    /// A sale above the spendable amount.
    #[error("day {day}, selling: {cause}")]
    NotSpendable {
        /// Day being simulated.
        day: u32,
        /// Amounts involved.
        cause: NotSpendable,
    },
    /// No support edge exists, so the median affinity is undefined (Q12).
    #[error("day {day}: the network has no support edges (median affinity undefined)")]
    NoSupportEdges {
        /// Day being simulated.
        day: u32,
    },
    /// The seed cannot be used with this random-number mode.
    #[error(transparent)]
    Seed(RngError),
}

/// The "mirror" state variables of the reference, refreshed only at sync points (§5.3).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mirrors {
    /// Funding pool, DAI.
    pub funding_pool: f64,
    /// Collateral pool, DAI.
    pub collateral_pool: f64,
    /// Token supply.
    pub token_supply: f64,
    /// Spot price, DAI/token.
    pub token_price: f64,
    /// Mean participant sentiment.
    pub sentiment: f64,
}

/// Counts of proposals by status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct StatusCounts {
    /// Candidates.
    pub candidate: u32,
    /// Active.
    pub active: u32,
    /// Completed.
    pub completed: u32,
    /// Failed.
    pub failed: u32,
}

/// What the reference's runner reports from the network of its last row (taken after block 2 of the last
/// day, Q16): counts and requested funds by status, summed in node order.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct NetworkSnapshot {
    /// Participants.
    pub participants: u32,
    /// Proposals by status.
    pub counts: StatusCounts,
    /// Σ funds requested by candidates.
    pub funds_candidate: f64,
    /// Σ funds requested by active proposals.
    pub funds_active: f64,
    /// Σ funds requested by completed proposals.
    pub funds_completed: f64,
    /// Σ funds requested by failed proposals.
    pub funds_failed: f64,
}

/// Where every DAI and token came from and went to, for the conservation invariants. DAI enters from
/// outside (the hatch, wallet endowments, arrivals' investments, unlimited-wallet purchases, speculator
/// tribute) and leaves (proceeds that vanish with unlimited wallets, grants not paid to a wallet, wallets
/// of leavers); the rest is in the pools and the present participants' wallets.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Ledger {
    /// DAI raised at the hatch.
    pub hatch_raise: f64,
    /// DAI given to wallets at creation (budget wallets).
    pub wallet_endowments: f64,
    /// DAI deposited by arrivals.
    pub arrival_deposits: f64,
    /// DAI deposited by buyers from outside (unlimited wallets).
    pub external_purchases: f64,
    /// DAI deposited by buyers from their wallets (budget wallets; internal).
    pub wallet_purchases: f64,
    /// DAI of speculator tribute added to the funding pool.
    pub speculator_funding: f64,
    /// DAI received by sellers and leavers that left the model (unlimited wallets).
    pub vanished_proceeds: f64,
    /// DAI received by sellers and leavers into their wallets (budget wallets; internal).
    pub wallet_proceeds: f64,
    /// DAI paid from the funding pool to proposals and not to an author's wallet.
    pub paid_out: f64,
    /// DAI paid from the funding pool to authors' wallets (author payout; internal).
    pub author_payouts: f64,
    /// DAI in the wallets of participants who left.
    pub departed_wallets: f64,
    /// Tokens credited to arrivals at spot price minus tokens the curve minted for them (Q3).
    pub arrival_token_excess: f64,
}

impl Ledger {
    /// DAI that came in minus DAI that went out: equals the pools plus the present wallets at all times.
    pub fn net_dai(&self) -> f64 {
        self.external_in() - (self.vanished_proceeds + self.paid_out + self.departed_wallets)
    }

    /// All DAI that entered the model from outside.
    pub fn external_in(&self) -> f64 {
        self.hatch_raise
            + self.wallet_endowments
            + self.arrival_deposits
            + self.external_purchases
            + self.speculator_funding
    }
}

/// How a participant asked in block 4 answers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ProposalChoice {
    /// No proposal today.
    None,
    /// A proposal whose size is drawn as the reference does (`Gamma(3, 0.001, 0.01·F)`).
    Drawn,
    /// A proposal requesting this many DAI.
    Amount(f64),
}

/// Which share of hatchers and of arrivals gets which personality label (an index into these weights).
/// Labels are drawn from a stream of their own, so the model's five streams are untouched.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Population {
    /// Relative weight of each label among hatchers (empty: all label 0).
    pub hatchers: Vec<f64>,
    /// Relative weight of each label among arrivals (empty: all label 0).
    pub arrivals: Vec<f64>,
}

/// Draws personality labels for new participants.
#[derive(Clone, Debug)]
struct LabelPicker {
    population: Population,
    rng: rand_pcg::Pcg32,
}

impl LabelPicker {
    fn new(population: Population, seed: u64) -> Self {
        use rand::SeedableRng;
        LabelPicker {
            population,
            rng: rand_pcg::Pcg32::seed_from_u64(seed ^ 0x5eed_1abe_1000_0001),
        }
    }

    fn pick(&mut self, hatcher: bool) -> u16 {
        let w = if hatcher {
            &self.population.hatchers
        } else {
            &self.population.arrivals
        };
        if w.len() <= 1 {
            return 0;
        }
        let total: f64 = w.iter().sum();
        let u = rand::Rng::random::<f64>(&mut self.rng) * total;
        let mut acc = 0.0;
        for (i, &x) in w.iter().enumerate() {
            acc += x;
            if u < acc {
                return i as u16;
            }
        }
        (w.len() - 1) as u16
    }
}

/// What happened during the last simulated day, for rewards and logs.
#[derive(Clone, Debug, Default)]
pub struct DayEvents {
    /// Proposals that became active (node order).
    pub activated: Vec<ProposalId>,
    /// Proposals that completed.
    pub completed: Vec<ProposalId>,
    /// Proposals that failed.
    pub failed: Vec<ProposalId>,
    /// Proposal created today, if any.
    pub created: Option<ProposalId>,
    /// Participants who left today, as they were when they left (wallets include the exit proceeds).
    pub departed: Vec<Participant>,
    /// Number of arrivals today.
    pub arrivals: u32,
}

/// Scratch buffers reused every day.
#[derive(Clone, Debug, Default)]
struct Scratch {
    column: Vec<f64>,
    votes: Vec<(f64, usize)>,
    trades: Vec<(usize, f64)>,
    passed: Vec<usize>,
    leavers: Vec<f64>,
    keep: Vec<bool>,
}

/// A Commons: pools, participants, proposals, the mirrored variables and the random streams.
#[derive(Clone, Debug)]
pub struct Commons {
    cfg: ModelConfig,
    alpha: f64,
    rho: f64,
    day: u32,
    pools: Pools,
    participants: Vec<Participant>,
    proposals: Vec<Proposal>,
    candidates: Vec<ProposalId>,
    actives: Vec<ProposalId>,
    counts: StatusCounts,
    mirrors: Mirrors,
    speculation_days: i64,
    multiplier: u32,
    median: MedianTracker,
    next_participant: u64,
    rng: ModelRng,
    ledger: Ledger,
    snapshot: Option<NetworkSnapshot>,
    legacy: bool,
    budget: bool,
    labels: LabelPicker,
    events: DayEvents,
    scratch: Scratch,
    /// Whether block 4's participant is drawn the evening before ([`Commons::ask_ahead`]).
    ask_ahead: bool,
    /// The participant block 4 asks on the coming day (ask-ahead mode only).
    asked: Option<ParticipantId>,
}

impl Commons {
    /// Bootstraps day 0 (§6): the two configuration draws, the hatch, hatchers, initial proposals, their
    /// support edges and the (inert) conflict draws. Every participant gets personality label 0.
    pub fn new(cfg: &ModelConfig, seed: u64) -> Result<Self, ModelError> {
        Self::with_population(cfg, seed, Population::default())
    }

    /// Like [`Commons::new`], with personality labels drawn from `population` for hatchers and arrivals.
    pub fn with_population(
        cfg: &ModelConfig,
        seed: u64,
        population: Population,
    ) -> Result<Self, ModelError> {
        let mut labels = LabelPicker::new(population, seed);
        let budget = cfg.extensions.wallets == WalletMode::Budget;
        let mut rng = ModelRng::new(cfg.simulation.rng, cfg.simulation.streams, seed)
            .map_err(ModelError::Seed)?;
        let v80 = cfg.hatch.vesting_80p_unlocked;
        let a = &cfg.arrivals;
        let speculation_days = (a.speculation_min_fraction * v80).trunc() as i64
            + (a.speculation_random_fraction * v80 * rng.uniform()).trunc() as i64;
        let multiplier = 1 + (a.multiplier_range * rng.uniform()).trunc() as u32;

        let h = &cfg.hatch;
        let contributions: Vec<f64> = (0..h.hatchers)
            .map(|_| rng.uniform() * h.contribution_scale)
            .collect();
        let raise = contributions.iter().fold(0.0, |acc, &c| acc + c);
        let supply = raise / h.hatch_price;
        let schedule = VestingSchedule::from_80p_days(v80, h.vesting_cliff_ratio);
        let wallet_endowments = if budget {
            contributions
                .iter()
                .map(|c| cfg.extensions.hatcher_wallet_ratio * c)
                .sum()
        } else {
            0.0
        };
        let pools = Pools::hatch(
            raise,
            supply,
            h.hatch_tribute,
            cfg.curve.exit_tribute,
            cfg.curve.kappa,
        );
        let participants: Vec<Participant> = contributions
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                let _discarded = rng.uniform();
                let sentiment = h.sentiment_base + h.sentiment_spread * rng.uniform();
                Participant {
                    id: ParticipantId(i as u64),
                    ref_id: i as u64,
                    holdings: TokenBatch::new((c / raise) * supply, 0.0, schedule),
                    sentiment,
                    joined_day: 0,
                    personality: labels.pick(true),
                    wallet: if budget {
                        cfg.extensions.hatcher_wallet_ratio * c
                    } else {
                        0.0
                    },
                    support: Vec::new(),
                    past: Vec::new(),
                }
            })
            .collect();

        let mut commons = Commons {
            alpha: cfg.alpha(),
            rho: cfg.rho(),
            cfg: cfg.clone(),
            day: 0,
            mirrors: Mirrors {
                funding_pool: pools.funding_pool,
                collateral_pool: pools.collateral_pool,
                token_supply: pools.token_supply,
                token_price: pools.token_price(),
                sentiment: h.initial_sentiment_mirror,
            },
            pools,
            next_participant: participants.len() as u64,
            participants,
            proposals: Vec::new(),
            candidates: Vec::new(),
            actives: Vec::new(),
            counts: StatusCounts::default(),
            speculation_days,
            multiplier,
            median: MedianTracker::new(),
            rng,
            ledger: Ledger {
                hatch_raise: raise,
                wallet_endowments,
                ..Ledger::default()
            },
            snapshot: None,
            legacy: cfg.simulation.rng == RngMode::NumpyLegacy,
            budget,
            labels,
            events: DayEvents::default(),
            scratch: Scratch::default(),
            ask_ahead: false,
            asked: None,
        };

        let p = &cfg.proposals;
        for _ in 0..p.initial {
            let f = commons.rng.gamma(
                p.funds_requested_alpha,
                p.funds_requested_min,
                p.initial_scale,
            );
            let trigger =
                commons.threshold(f, commons.pools.funding_pool, commons.pools.token_supply);
            commons.push_candidate(f, trigger, None);
        }
        // Support edges: for each proposal, for each hatcher.
        for k in 0..commons.candidates.len() {
            for i in 0..commons.participants.len() {
                let affinity = affinity_from_uniform(commons.rng.uniform());
                debug_assert_eq!(commons.participants[i].support.len(), k);
                commons.participants[i].support.push(Support::new(affinity));
                commons.median.insert(affinity);
            }
        }
        // Conflict edges (inert): one R draw per ordered pair of distinct proposals.
        let n = commons.candidates.len();
        for i in 0..n {
            for j in 0..n {
                if i != j {
                    let _conflict = commons.rng.uniform();
                }
            }
        }
        Ok(commons)
    }

    fn threshold(&self, f: f64, funding_pool: f64, supply: f64) -> f64 {
        trigger_threshold(
            f,
            funding_pool,
            supply,
            self.cfg.conviction.max_proposal_request,
            self.rho,
        )
    }

    /// The reference's next node id: `max(existing ids) + 1`.
    fn next_ref_id(&self) -> u64 {
        let p = self.participants.last().map(|p| p.ref_id);
        let q = self.proposals.last().map(|q| q.ref_id);
        p.max(q).map_or(0, |m| m + 1)
    }

    fn push_candidate(
        &mut self,
        f: f64,
        trigger: f64,
        author: Option<ParticipantId>,
    ) -> ProposalId {
        let id = ProposalId(self.proposals.len() as u32);
        let ref_id = self.next_ref_id();
        self.proposals.push(Proposal {
            id,
            ref_id,
            funds_requested: f,
            status: ProposalStatus::Candidate,
            conviction: 0.0,
            trigger,
            age: 0,
            author,
            created_day: self.day,
            funded_day: None,
            stakeholders: Vec::new(),
        });
        self.candidates.push(id);
        self.counts.candidate += 1;
        id
    }

    fn position(&self, id: ParticipantId) -> Option<usize> {
        self.participants.binary_search_by_key(&id, |p| p.id).ok()
    }

    /// Simulates one day: the 19 blocks of §5.2 with `ctl` deciding for the participants.
    ///
    /// On error (legacy mode: the reference's exceptions) the state is left where the day stopped.
    pub fn step(&mut self, ctl: &mut impl Controller) -> Result<(), ModelError> {
        self.day += 1;
        self.events.activated.clear();
        self.events.completed.clear();
        self.events.failed.clear();
        self.events.departed.clear();
        self.events.created = None;
        self.events.arrivals = 0;
        self.arrivals()?; // 1
        for p in &mut self.participants {
            p.holdings.age_days += 1; // 2
        }
        if self.day == self.cfg.simulation.days {
            self.snapshot = Some(self.network_snapshot());
        }
        self.sync_pools(); // 3
        self.new_proposal(ctl)?; // 4
        self.speculator_funding(); // 5
        self.update_candidates(); // 6
        self.fund_candidates()?; // 7, 8 (9: sync, read by nobody)
        self.resolve_actives()?; // 10, 11
        self.vote(ctl)?; // 12
        self.accumulate_conviction(); // 13
        self.buy(ctl)?; // 14 (15: sync, read by nobody)
        self.sell(ctl)?; // 16
        self.exits(ctl)?; // 17
        for p in &mut self.participants {
            p.sentiment = sentiment::decay(p.sentiment, self.cfg.participants.sentiment_decay);
            // 18
        }
        self.sync_pools(); // 19
        self.mirrors.sentiment = self.mean_sentiment();
        if self.ask_ahead {
            self.draw_asked()?;
        }
        Ok(())
    }

    /// Switches to ask-ahead mode: block 4's question (may this participant propose today?) is settled
    /// at the end of the previous day (now, for day 1), so that agents can see it ([`Commons::asked`])
    /// before they choose. The participant is drawn uniformly among that evening's participants with
    /// the reference's one `choice` a day, then the reference's creation gate `Bern(rate)` is drawn with
    /// the evening's rate ([`creation_rate`]: median affinity, candidates' requests and the funding pool
    /// as block 19 leaves them). Only a participant for whom both fire is asked, so agents propose at
    /// most as often as the reference's participants do. The day's own arrivals are never asked on
    /// their arrival day (an arriving agent does nothing that day anyway). Without it (the default, and
    /// the reference), block 4 draws both after the day's arrivals.
    pub fn ask_ahead(&mut self) -> Result<(), ModelError> {
        if !self.ask_ahead {
            self.ask_ahead = true;
            self.draw_asked()?;
        }
        Ok(())
    }

    /// The participant the world asks on the coming day in ask-ahead mode: drawn and with an idea (None:
    /// nobody today, or not in ask-ahead mode).
    pub fn asked(&self) -> Option<ParticipantId> {
        self.asked
    }

    /// Draws tomorrow's asked participant: `choice(n)` over the participants, then `Bern(rate)` with
    /// the evening's creation rate; none when there are no participants or the gate does not fire.
    fn draw_asked(&mut self) -> Result<(), ModelError> {
        self.asked = None;
        if self.participants.is_empty() {
            return Ok(());
        }
        let who = self.participants[self.rng.choice(self.participants.len())].id;
        let rate = self.creation_rate_now()?;
        let err = self.rate_error("proposal creation");
        if self.rng.probability(rate).map_err(err)? {
            self.asked = Some(who);
        }
        Ok(())
    }

    /// Block 4's creation rate with the current state: [`creation_rate`] of the median support affinity,
    /// the DAI all candidates request and the mirrored funding pool.
    fn creation_rate_now(&mut self) -> Result<f64, ModelError> {
        self.scratch.column.clear();
        let proposals = &self.proposals;
        self.scratch.column.extend(
            self.candidates
                .iter()
                .map(|c| proposals[c.0 as usize].funds_requested),
        );
        let total_requested = pairwise_sum(&self.scratch.column);
        let median = match self.median.median() {
            Some(m) => m,
            None if self.legacy => return Err(ModelError::NoSupportEdges { day: self.day }),
            // Nobody supports anything (everybody left): no proposal today.
            None => 0.0,
        };
        Ok(creation_rate(
            median,
            total_requested,
            self.mirrors.funding_pool,
        ))
    }

    fn rate_error(&self, block: &'static str) -> impl Fn(RngError) -> ModelError {
        let day = self.day;
        move |cause| ModelError::Rate { day, block, cause }
    }

    /// Block 1 (§4.10): arrivals. Q2: every arrival of the day uses the last drawn (investment, tokens);
    /// Q3: tokens are credited at spot price while the curve mints slightly fewer.
    fn arrivals(&mut self) -> Result<(), ModelError> {
        let a = &self.cfg.arrivals;
        let ArrivalChances { rate, slots } = arrival_chances(
            a,
            self.day,
            self.speculation_days,
            self.multiplier,
            self.mirrors.sentiment,
        );
        let (inv_min, inv_stdev) = (a.investment_min, a.investment_stdev);
        let mut record = (0.0, 0.0);
        let mut count = 0u32;
        let err = self.rate_error("arrivals");
        for _ in 0..slots {
            if self.rng.probability(rate).map_err(&err)? {
                let investment = self.rng.exponential(inv_min, inv_stdev);
                record = (investment, self.pools.dai_to_tokens(investment));
                count += 1;
            }
        }
        let (investment, tokens) = record;
        for _ in 0..count {
            let sentiment = self.rng.uniform();
            let mut support = Vec::with_capacity(self.candidates.len() + 4);
            for _ in 0..self.candidates.len() {
                let affinity = affinity_from_uniform(self.rng.uniform());
                self.median.insert(affinity);
                support.push(Support::new(affinity));
            }
            let ref_id = self.next_ref_id();
            let id = ParticipantId(self.next_participant);
            self.next_participant += 1;
            let wallet = if self.budget {
                self.cfg.extensions.arrival_wallet_ratio * investment
            } else {
                0.0
            };
            self.ledger.wallet_endowments += wallet;
            self.participants.push(Participant {
                id,
                ref_id,
                holdings: TokenBatch::new(0.0, tokens, VestingSchedule::NONE),
                sentiment,
                joined_day: self.day,
                personality: self.labels.pick(false),
                wallet,
                support,
                past: Vec::new(),
            });
        }
        self.events.arrivals = count;
        let minted_mode = self.cfg.extensions.arrival_tokens == ArrivalTokens::Minted;
        let first = self.participants.len() - count as usize;
        for k in 0..count as usize {
            let (minted, _) = self.pools.deposit(investment);
            self.ledger.arrival_deposits += investment;
            // Spot-price credit (Q3) unless the extension credits what was minted, or the price is
            // degenerate (an emptied Commons): then the minted amount too.
            if minted_mode || !tokens.is_finite() {
                self.participants[first + k].holdings.nonvesting = minted;
            } else {
                self.ledger.arrival_token_excess += tokens - minted;
            }
        }
        Ok(())
    }

    fn sync_pools(&mut self) {
        self.mirrors.funding_pool = self.pools.funding_pool;
        self.mirrors.collateral_pool = self.pools.collateral_pool;
        self.mirrors.token_supply = self.pools.token_supply;
        self.mirrors.token_price = self.pools.token_price();
    }

    /// Mean sentiment, summed in node order (0 with nobody left).
    fn mean_sentiment(&self) -> f64 {
        if self.participants.is_empty() {
            return 0.0;
        }
        let total = self
            .participants
            .iter()
            .fold(0.0, |acc, p| acc + p.sentiment);
        total / self.participants.len() as f64
    }

    /// Block 4 (§4.11): one random participant may author a new proposal.
    fn new_proposal(&mut self, ctl: &mut impl Controller) -> Result<(), ModelError> {
        if self.participants.is_empty() {
            return Ok(());
        }
        let (who, rate) = if self.ask_ahead {
            // Drawn last evening, gate included; nobody has left since (exits come in block 17).
            match self.asked.and_then(|id| self.position(id)) {
                Some(who) => (who, 1.0),
                None => return Ok(()),
            }
        } else {
            let who = self.rng.choice(self.participants.len());
            (who, self.creation_rate_now()?)
        };
        let pool = self.mirrors.funding_pool;
        let err = self.rate_error("proposal creation");
        let choice = ctl
            .propose(&self.participants[who], rate, pool, &mut self.rng)
            .map_err(err)?;
        let p = &self.cfg.proposals;
        let f = match choice {
            ProposalChoice::None => return Ok(()),
            ProposalChoice::Drawn => self.rng.gamma(
                p.funds_requested_alpha,
                p.funds_requested_min,
                pool * p.scale_factor,
            ),
            ProposalChoice::Amount(f) => f,
        };
        let trigger = self.threshold(f, pool, self.mirrors.token_supply);
        let author = self.participants[who].id;
        self.events.created = Some(self.push_candidate(f, trigger, Some(author)));
        for i in 0..self.participants.len() {
            let mut edge = Support::new(affinity_from_uniform(self.rng.uniform()));
            if i == who {
                edge.affinity = 1.0;
                edge.is_author = true;
            }
            self.median.insert(edge.affinity);
            self.participants[i].support.push(edge);
        }
        Ok(())
    }

    /// Block 5 (§4.12): five speculators' round trips pay the exit tribute on `Exp(200, 200)` positions
    /// into the funding pool ([`speculator_tribute`]).
    fn speculator_funding(&mut self) {
        let s = &self.cfg.speculators;
        let rng = &mut self.rng;
        let positions =
            (0..s.count).map(|_| rng.exponential(s.position_size_min, s.position_size_stdev));
        let funding = speculator_tribute(positions, self.pools.exit_tribute);
        if funding != 0.0 {
            self.pools.funding_pool += funding;
            self.ledger.speculator_funding += funding;
        }
    }

    /// Block 6: candidates age and refresh their trigger with the block-3 mirrors.
    fn update_candidates(&mut self) {
        let (pool, supply) = (self.mirrors.funding_pool, self.mirrors.token_supply);
        for k in 0..self.candidates.len() {
            let idx = self.candidates[k].0 as usize;
            let f = self.proposals[idx].funds_requested;
            let trigger = self.threshold(f, pool, supply);
            let q = &mut self.proposals[idx];
            q.age += 1;
            q.trigger = trigger;
        }
    }

    /// Blocks 7–8 (§4.13, §4.19): candidates whose conviction (Σ edge convictions, pairwise, in participant
    /// order) reaches the threshold become active and are paid in node order; their authors get the bonus.
    ///
    /// Legacy mode raises on an overdraft like the reference (Q14). The default mode pays in node order
    /// and leaves a proposal that no longer fits as a candidate.
    fn fund_candidates(&mut self) -> Result<(), ModelError> {
        let (pool, supply) = (self.mirrors.funding_pool, self.mirrors.token_supply);
        let mut passed = std::mem::take(&mut self.scratch.passed);
        passed.clear();
        // Transpose the edge convictions (participant-major reads, one column per candidate) so that
        // each candidate's sum runs over a contiguous slice, in participant order.
        let (n, c) = (self.participants.len(), self.candidates.len());
        let column = &mut self.scratch.column;
        column.clear();
        column.resize(n * c, 0.0);
        for (i, p) in self.participants.iter().enumerate() {
            for (k, e) in p.support.iter().enumerate() {
                column[k * n + i] = e.conviction;
            }
        }
        for k in 0..c {
            let conviction = pairwise_sum(&self.scratch.column[k * n..(k + 1) * n]);
            let idx = self.candidates[k].0 as usize;
            let f = self.proposals[idx].funds_requested;
            let threshold = self.threshold(f, pool, supply);
            self.proposals[idx].conviction = conviction;
            if passes(conviction, threshold) {
                passed.push(k);
            }
        }
        if passed.is_empty() {
            self.scratch.passed = passed;
            return Ok(());
        }
        let mut result = Ok(());
        passed.retain(|&k| {
            if result.is_err() {
                return false;
            }
            let f = self.proposals[self.candidates[k].0 as usize].funds_requested;
            match self.pools.spend(f) {
                Ok(()) => true,
                Err(cause) if self.legacy => {
                    result = Err(ModelError::Overdraft {
                        day: self.day,
                        cause,
                    });
                    false
                }
                Err(_) => false,
            }
        });
        let mut activated = std::mem::take(&mut self.events.activated);
        activated.clear();
        activated.extend(passed.iter().map(|&k| self.candidates[k]));
        self.activate(&passed);
        // Block 8: the author of each passed proposal, if still present, gains sentiment (and, with the
        // author-payout extension, the grant).
        let bonus = self
            .cfg
            .participants
            .sentiment_bonus_proposal_becomes_active;
        let payout = self.cfg.extensions.author_payout;
        for id in &activated {
            let q = &self.proposals[id.0 as usize];
            let f = q.funds_requested;
            let author = q.author.and_then(|a| self.position(a));
            match author {
                Some(pos) => {
                    let p = &mut self.participants[pos];
                    p.sentiment = sentiment::on_activation(p.sentiment, bonus);
                    if payout {
                        p.wallet += f;
                        self.ledger.author_payouts += f;
                    } else {
                        self.ledger.paid_out += f;
                    }
                }
                None => self.ledger.paid_out += f,
            }
        }
        self.events.activated = activated;
        self.scratch.passed = passed;
        result
    }

    /// Moves the candidates at positions `passed` (ascending) to active: drops their column from every
    /// participant's support, keeping the affinities for the median and the stakeholders for block 11.
    fn activate(&mut self, passed: &[usize]) {
        if passed.is_empty() {
            return;
        }
        let n = self.candidates.len();
        self.scratch.keep.clear();
        self.scratch.keep.resize(n, true);
        for &k in passed {
            self.scratch.keep[k] = false;
        }
        let keep = &self.scratch.keep;
        for p in &mut self.participants {
            for &k in passed {
                let edge = p.support[k];
                let total = self.proposals[self.candidates[k].0 as usize].conviction;
                p.retire_edge(PastEdge {
                    proposal: self.candidates[k],
                    affinity: edge.affinity,
                    share: if total > 0.0 {
                        edge.conviction / total
                    } else {
                        0.0
                    },
                });
                if edge.is_author || edge.tokens > 0.0 {
                    let q = &mut self.proposals[self.candidates[k].0 as usize];
                    q.stakeholders.push(Stakeholder {
                        participant: p.id,
                        affinity: edge.affinity,
                    });
                }
            }
            let mut k = 0;
            p.support.retain(|_| {
                let kept = keep[k];
                k += 1;
                kept
            });
        }
        for &k in passed {
            let id = self.candidates[k];
            let q = &mut self.proposals[id.0 as usize];
            q.status = ProposalStatus::Active;
            q.funded_day = Some(self.day);
            self.counts.candidate -= 1;
            self.counts.active += 1;
            let at = self.actives.partition_point(|a| *a < id);
            self.actives.insert(at, id);
        }
        let mut k = 0;
        self.candidates.retain(|_| {
            let kept = keep[k];
            k += 1;
            kept
        });
    }

    /// Blocks 10–11 (§4.14, §4.19): each active proposal fails with `1/(0.15 + ln f)`, else completes with
    /// `1/(0.30 + ln f)`; then authors and stakers of failed (−0.1·affinity), then of completed
    /// (+0.3·affinity) proposals update their sentiment.
    fn resolve_actives(&mut self) -> Result<(), ModelError> {
        let mut failed = std::mem::take(&mut self.events.failed);
        let mut completed = std::mem::take(&mut self.events.completed);
        failed.clear();
        completed.clear();
        let (base_fail, base_succ) = (
            self.cfg.proposals.base_failure_rate,
            self.cfg.proposals.base_success_rate,
        );
        let err = self.rate_error("active proposals");
        let mut result = Ok(());
        for &id in &self.actives {
            let (r_fail, r_succ) = resolution_rates(
                self.proposals[id.0 as usize].funds_requested,
                base_fail,
                base_succ,
            );
            match self.rng.probability(r_fail) {
                Ok(true) => failed.push(id),
                Ok(false) => match self.rng.probability(r_succ) {
                    Ok(true) => completed.push(id),
                    Ok(false) => {}
                    Err(e) => {
                        result = Err(err(e));
                        break;
                    }
                },
                Err(e) => {
                    result = Err(err(e));
                    break;
                }
            }
        }
        if result.is_ok() {
            let cfg = &self.cfg.participants;
            for (list, status) in [
                (&failed, ProposalStatus::Failed),
                (&completed, ProposalStatus::Completed),
            ] {
                for &id in list.iter() {
                    let q = &mut self.proposals[id.0 as usize];
                    q.status = status;
                    self.counts.active -= 1;
                    match status {
                        ProposalStatus::Failed => self.counts.failed += 1,
                        _ => self.counts.completed += 1,
                    }
                }
            }
            if !failed.is_empty() || !completed.is_empty() {
                self.actives
                    .retain(|id| self.proposals[id.0 as usize].status == ProposalStatus::Active);
            }
            for (list, delta) in [
                (&failed, cfg.sentiment_bonus_proposal_becomes_failed),
                (&completed, cfg.sentiment_bonus_proposal_becomes_completed),
            ] {
                for &id in list.iter() {
                    for sh in &self.proposals[id.0 as usize].stakeholders {
                        if let Ok(pos) = self
                            .participants
                            .binary_search_by_key(&sh.participant, |p| p.id)
                        {
                            let p = &mut self.participants[pos];
                            p.sentiment = sentiment::on_resolution(p.sentiment, sh.affinity, delta);
                        }
                    }
                }
            }
        }
        self.events.failed = failed;
        self.events.completed = completed;
        result
    }

    /// Block 12 (§4.15): every participant re-stakes on candidates.
    fn vote(&mut self, ctl: &mut impl Controller) -> Result<(), ModelError> {
        let err = self.rate_error("voting");
        for p in &mut self.participants {
            ctl.vote(
                p,
                &self.candidates,
                &self.cfg.conviction,
                &mut self.rng,
                &mut self.scratch.votes,
            )
            .map_err(&err)?;
        }
        Ok(())
    }

    /// Block 13 (§4.7): `conviction ← tokens + alpha·conviction` on every edge to a candidate.
    fn accumulate_conviction(&mut self) {
        let alpha = self.alpha;
        for p in &mut self.participants {
            for e in &mut p.support {
                e.conviction = accumulate(e.conviction, e.tokens, alpha);
            }
        }
    }

    /// Block 14 (§4.16): buyers' DAI is deposited in one go and the minted tokens shared pro rata.
    fn buy(&mut self, ctl: &mut impl Controller) -> Result<(), ModelError> {
        let err = self.rate_error("buying");
        let mut trades = std::mem::take(&mut self.scratch.trades);
        trades.clear();
        let mut total = 0.0;
        for (i, p) in self.participants.iter().enumerate() {
            let x = match ctl.buy(p, &self.cfg.participants, &mut self.rng) {
                Ok(x) => x,
                Err(e) => {
                    self.scratch.trades = trades;
                    return Err(err(e));
                }
            };
            // With budget wallets a buy is capped by the wallet.
            let x = if self.budget { x.min(p.wallet) } else { x };
            if x > 0.0 {
                total += x;
                trades.push((i, x));
            }
        }
        if total > 0.0 {
            let (tokens, _) = self.pools.deposit(total);
            if self.budget {
                self.ledger.wallet_purchases += total;
            } else {
                self.ledger.external_purchases += total;
            }
            for &(i, x) in &trades {
                let p = &mut self.participants[i];
                p.holdings.nonvesting += (x / total) * tokens;
                if self.budget {
                    p.wallet -= x;
                }
            }
        }
        self.scratch.trades = trades;
        Ok(())
    }

    /// Block 16 (§4.17): sellers' tokens are burned in one go (exit tribute to the funding pool).
    fn sell(&mut self, ctl: &mut impl Controller) -> Result<(), ModelError> {
        let err = self.rate_error("selling");
        let mut trades = std::mem::take(&mut self.scratch.trades);
        trades.clear();
        let mut total = 0.0;
        for (i, p) in self.participants.iter().enumerate() {
            let n = match ctl.sell(p, &self.cfg.participants, &mut self.rng) {
                Ok(n) => n,
                Err(e) => {
                    self.scratch.trades = trades;
                    return Err(err(e));
                }
            };
            if n > 0.0 {
                total += n;
                trades.push((i, n));
            }
        }
        let mut result = Ok(());
        if total > 0.0 {
            // Never burn more than exists (holdings can exceed the supply by the Q3 excess).
            let (received, _) = self.pools.burn(total.min(self.pools.token_supply));
            if self.budget {
                self.ledger.wallet_proceeds += received;
            } else {
                self.ledger.vanished_proceeds += received;
            }
            for &(i, n) in &trades {
                if self.budget {
                    // A burn can return −1e-11 DAI when rounding has drifted the pools off the curve.
                    self.participants[i].wallet += ((n / total) * received).max(0.0);
                }
                if let Err(cause) = self.participants[i].holdings.spend(n) {
                    result = Err(ModelError::NotSpendable {
                        day: self.day,
                        cause,
                    });
                    break;
                }
            }
        }
        self.scratch.trades = trades;
        result
    }

    /// Block 17 (§4.18): leavers are removed with all their edges, then their whole holdings are burned one
    /// by one in node order.
    fn exits(&mut self, ctl: &mut impl Controller) -> Result<(), ModelError> {
        let err = self.rate_error("exits");
        self.scratch.keep.clear();
        self.scratch.leavers.clear();
        for p in &self.participants {
            let leaves = ctl
                .exit(p, &self.cfg.participants, &mut self.rng)
                .map_err(&err)?;
            self.scratch.keep.push(!leaves);
            if leaves {
                self.scratch.leavers.push(p.holdings.total());
            }
        }
        if self.scratch.leavers.is_empty() {
            return Ok(());
        }
        let keep = &self.scratch.keep;
        let median = &mut self.median;
        let departed = &mut self.events.departed;
        let mut i = 0;
        self.participants.retain_mut(|p| {
            let kept = keep[i];
            i += 1;
            if !kept {
                for e in &p.support {
                    median.remove(e.affinity);
                }
                for a in p.past.iter().map(|e| e.affinity) {
                    median.remove(a);
                }
                departed.push(std::mem::replace(p, placeholder_participant()));
            }
            kept
        });
        for k in 0..self.scratch.leavers.len() {
            let total = self.scratch.leavers[k];
            let (received, _) = self.pools.burn(total.min(self.pools.token_supply));
            let p = &mut self.events.departed[k];
            if self.budget {
                p.wallet += received.max(0.0);
                self.ledger.wallet_proceeds += received;
            } else {
                self.ledger.vanished_proceeds += received;
            }
            self.ledger.departed_wallets += p.wallet;
        }
        Ok(())
    }

    fn network_snapshot(&self) -> NetworkSnapshot {
        let mut s = NetworkSnapshot {
            participants: self.participants.len() as u32,
            counts: self.counts,
            ..NetworkSnapshot::default()
        };
        for q in &self.proposals {
            let f = q.funds_requested;
            match q.status {
                ProposalStatus::Candidate => s.funds_candidate += f,
                ProposalStatus::Active => s.funds_active += f,
                ProposalStatus::Completed => s.funds_completed += f,
                ProposalStatus::Failed => s.funds_failed += f,
            }
        }
        s
    }

    /// The day last simulated (0 right after the hatch).
    pub fn day(&self) -> u32 {
        self.day
    }

    /// The configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    /// Pools and curve (live values).
    pub fn pools(&self) -> &Pools {
        &self.pools
    }

    /// The mirrored variables (end-of-day values between days).
    pub fn mirrors(&self) -> &Mirrors {
        &self.mirrors
    }

    /// Participants in node order.
    pub fn participants(&self) -> &[Participant] {
        &self.participants
    }

    /// Every proposal ever made, in creation order.
    pub fn proposals(&self) -> &[Proposal] {
        &self.proposals
    }

    /// Candidate proposals in node order (each participant's `support` is aligned with this list).
    pub fn candidates(&self) -> &[ProposalId] {
        &self.candidates
    }

    /// Proposal counts by status.
    pub fn counts(&self) -> StatusCounts {
        self.counts
    }

    /// Random length of the speculation period, days (drawn at configuration time, Q22).
    pub fn speculation_days(&self) -> i64 {
        self.speculation_days
    }

    /// Random arrival-slot multiplier during speculation (Q22).
    pub fn multiplier(&self) -> u32 {
        self.multiplier
    }

    /// What happened during the last simulated day.
    pub fn events(&self) -> &DayEvents {
        &self.events
    }

    /// Whether participants hold budget wallets.
    pub fn budget_wallets(&self) -> bool {
        self.budget
    }

    /// Participant position (node order) of an id, if still present.
    pub fn participant_position(&self, id: ParticipantId) -> Option<usize> {
        self.position(id)
    }

    /// The DAI and token ledger.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Median affinity over all support edges (None if there are none).
    pub fn median_affinity(&mut self) -> Option<f64> {
        self.median.median()
    }

    /// Total conviction on the `k`-th candidate of [`Commons::candidates`] now: `Σ_i conviction_ik` over
    /// the participants, summed left to right in participant order (between days this includes today's
    /// accumulation, block 13, unlike [`Proposal::conviction`], which blocks 7–8 wrote).
    ///
    /// # Panics
    /// If `k` is not a candidate index (`k >= candidates().len()`).
    pub fn candidate_conviction(&self, k: usize) -> f64 {
        self.participants
            .iter()
            .map(|p| p.support[k].conviction)
            .sum()
    }

    /// The network as the reference's runner saw it after block 2 of the last day (set once that day ran).
    pub fn last_day_snapshot(&self) -> Option<&NetworkSnapshot> {
        self.snapshot.as_ref()
    }
}

/// An empty participant, left behind in the vector slot of a leaver just before it is dropped.
fn placeholder_participant() -> Participant {
    Participant {
        id: ParticipantId(u64::MAX),
        ref_id: 0,
        holdings: TokenBatch::new(0.0, 0.0, VestingSchedule::NONE),
        sentiment: 0.0,
        joined_day: 0,
        personality: 0,
        wallet: 0.0,
        support: Vec::new(),
        past: Vec::new(),
    }
}
