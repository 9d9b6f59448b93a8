//! Time guards: before a command starts, it estimates how long its work takes on this machine and
//! refuses, with the estimate and its limit, when that exceeds the command's limit (each command has
//! `--ignore-time-limit` to go ahead anyway). Like the memory guard, the estimate errs low: it exists
//! to catch a mistyped size (a million participants, a billion episodes) in a second, not to predict
//! run times.
//!
//! Work is counted in **agent-days**: one participant living one day of one episode. Per agent-day,
//! the commands cost at least (core-seconds, the fast end of what was measured on the 2-core
//! development machine, 2026-12-06):
//! * [`SIMULATE_SECONDS`]: the model alone with scripted participants (`commons simulate`: 20 000
//!   hatchers, 2 episodes of 200 days in 0.43 s on 2 threads, about 0.1 µs);
//! * [`STEP_SECONDS`]: stepping the model and building observations (`commons bench`: 2.5 to 3.6 million
//!   agent-steps per second on 2 threads, 1 000 to 100 000 participants, about 0.6 µs per core);
//! * [`POLICY_SECONDS`]: the same with a policy's forward pass per agent (eval's best-response check:
//!   about 24 µs; plain eval the same order);
//! * [`TRAIN_SECONDS`]: a PPO step per agent (the main job: 1.2 million environment steps of about 42
//!   agents in 1 334 s on 2 cores, about 53 µs).

use std::time::Duration;

use crate::model::ModelConfig;

/// Core-seconds per agent-day of the model with scripted participants (a lower bound).
pub const SIMULATE_SECONDS: f64 = 0.08e-6;
/// Core-seconds per agent-day of stepping the environment (a lower bound).
pub const STEP_SECONDS: f64 = 0.4e-6;
/// Core-seconds per agent-day of playing policies (a lower bound).
pub const POLICY_SECONDS: f64 = 5e-6;
/// Core-seconds per agent-day of PPO training (a lower bound).
pub const TRAIN_SECONDS: f64 = 15e-6;

/// `commons bench`'s limit: a benchmark is minutes.
pub const BENCH_LIMIT: Duration = Duration::from_secs(10 * 60);
/// `commons simulate`'s and `commons eval`'s limit.
pub const INTERACTIVE_LIMIT: Duration = Duration::from_secs(60 * 60);
/// `commons train`'s limit (per invocation: `--stop-after` splits a longer run): a day, 60 times the
/// main job.
pub const TRAIN_LIMIT: Duration = Duration::from_secs(24 * 3600);

/// The estimate exceeds the command's limit.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{what}: at least {} of work ({agent_days:.1e} agent-days on {threads} threads), more than the {} limit of this command; lower {knobs}, or pass --ignore-time-limit to run anyway", duration(*.seconds), duration(.limit.as_secs_f64()))]
pub struct WorkError {
    /// What was estimated.
    pub what: String,
    /// Which settings drive the estimate.
    pub knobs: String,
    /// Agent-days of work.
    pub agent_days: f64,
    /// Threads that share it.
    pub threads: usize,
    /// Estimated wall-clock seconds.
    pub seconds: f64,
    /// The limit.
    pub limit: Duration,
}

/// `12 s`, `41 min`, `3.2 h`, `12 days`, `3e4 years`.
fn duration(s: f64) -> String {
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 2.0 * 3600.0 {
        format!("{:.0} min", s / 60.0)
    } else if s < 2.0 * 86400.0 {
        format!("{:.1} h", s / 3600.0)
    } else if s < 2.0 * 365.0 * 86400.0 {
        format!("{:.0} days", s / 86400.0)
    } else {
        format!("{:.1e} years", s / (365.0 * 86400.0))
    }
}

/// Agent-days of one episode of `cfg` (a lower bound): half the hatchers (they can leave) on every day,
/// plus each day's least expected arrivals, `max_new_participants / arrival_rate_denominator`, for one
/// day each.
pub fn agent_days_per_episode(cfg: &ModelConfig) -> f64 {
    let days = f64::from(cfg.simulation.days);
    let hatchers = f64::from(cfg.hatch.hatchers);
    let arrivals = f64::from(cfg.arrivals.max_new_participants)
        / cfg.arrivals.arrival_rate_denominator.max(1.0);
    days * (hatchers / 2.0 + arrivals)
}

/// Agent-days of `steps` days of `cfg`'s Commons (episodes restart at their horizon).
pub fn agent_days_of_steps(cfg: &ModelConfig, steps: f64) -> f64 {
    steps * agent_days_per_episode(cfg) / f64::from(cfg.simulation.days.max(1))
}

/// A piece of work: `agent_days` at `seconds_per_agent_day` core-seconds each, shared by `threads`.
#[derive(Clone, Debug)]
pub struct Work<'a> {
    /// What it is ("simulating 64 episodes").
    pub what: String,
    /// The settings that size it ("--episodes or the scenario's hatch.hatchers").
    pub knobs: &'a str,
    /// Agent-days.
    pub agent_days: f64,
    /// Core-seconds per agent-day ([`STEP_SECONDS`], [`POLICY_SECONDS`], [`TRAIN_SECONDS`]).
    pub seconds_per_agent_day: f64,
    /// Threads that share it.
    pub threads: usize,
}

impl Work<'_> {
    /// Estimated wall-clock seconds.
    pub fn seconds(&self) -> f64 {
        self.agent_days * self.seconds_per_agent_day / self.threads.max(1) as f64
    }

    /// Refuses the work when its estimate exceeds `limit` (unless `ignore`).
    pub fn check(&self, limit: Duration, ignore: bool) -> Result<(), WorkError> {
        let seconds = self.seconds();
        if ignore || seconds <= limit.as_secs_f64() {
            return Ok(());
        }
        Err(WorkError {
            what: self.what.clone(),
            knobs: self.knobs.to_string(),
            agent_days: self.agent_days,
            threads: self.threads,
            seconds,
            limit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn work(agent_days: f64, per: f64) -> Work<'static> {
        Work {
            what: "x".into(),
            knobs: "--n",
            agent_days,
            seconds_per_agent_day: per,
            threads: 2,
        }
    }

    #[test]
    fn ordinary_work_passes_and_absurd_work_is_refused_with_both_numbers() {
        let reference = ModelConfig::default();
        // 64 episodes of the reference: well under a second by the estimate.
        let w = work(64.0 * agent_days_per_episode(&reference), STEP_SECONDS);
        assert!(w.seconds() < 1.0, "{}", w.seconds());
        assert!(w.check(INTERACTIVE_LIMIT, false).is_ok());
        // A million hatchers in 8 environments for 2000 days (the bench that ran for minutes).
        let mut huge = reference.clone();
        huge.hatch.hatchers = 1_000_000;
        let w = work(8.0 * agent_days_of_steps(&huge, 2000.0), STEP_SECONDS);
        let e = w.check(BENCH_LIMIT, false).unwrap_err().to_string();
        assert!(
            e.contains("limit of this command") && e.contains("10 min"),
            "{e}"
        );
        assert!(
            e.contains("--ignore-time-limit") && e.contains("--n"),
            "{e}"
        );
        assert!(w.check(BENCH_LIMIT, true).is_ok());
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(12.0), "12 s");
        assert_eq!(duration(600.0), "10 min");
        assert_eq!(duration(3.0 * 3600.0), "3.0 h");
        assert_eq!(duration(7.0 * 86400.0), "7 days");
        assert!(duration(1e12).ends_with("years"));
    }
}
