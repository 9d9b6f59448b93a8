//! `commons eval`'s printed tables: the report and the best-response check as text.

use std::fmt::Write;

use super::best_response::BestResponse;
use super::learned::LearnedResponse;
use super::report::EvalReport;

/// `writeln!` into a String (which cannot fail).
macro_rules! w {
    ($out:expr, $($arg:tt)*) => {
        let _ = writeln!($out, $($arg)*);
    };
}

/// An evaluation as text: per personality its return against the scripted baseline and its
/// behaviour, per-agent measures, choices per action head, and the final metrics.
pub fn report(report: &EvalReport) -> String {
    let mut out = String::new();
    w!(
        out,
        "checkpoint at step {}, {} episodes per side, seeds {}..",
        report.checkpoint_step,
        report.episodes,
        report.seed
    );
    w!(
        out,
        "{:<16} {:>22} {:>22} {:>10}   behaviour (buy/sell/stake/propose/exit)",
        "personality",
        "trained return",
        "scripted return",
        "separated"
    );
    for (name, p) in &report.personalities {
        let b = &p.behaviour;
        w!(out,
            "{name:<16} {:>12.3} ± {:<7.3} {:>12.3} ± {:<7.3} {:>10}   {:.2}/{:.2}/{:.2}/{:.2}/{:.3}",
            p.mean_return, p.ci95, p.baseline_mean_return, p.baseline_ci95, p.separated, b.buy, b.sell, b.stake, b.propose, b.exit
        );
    }
    let overlapping: Vec<&str> = report
        .personalities
        .iter()
        .filter(|(_, p)| !p.separated)
        .map(|(name, _)| name.as_str())
        .collect();
    if !overlapping.is_empty() {
        // Half-widths shrink as 1/sqrt(episodes): four times the episodes halves them.
        w!(out,
            "note: the return intervals of {} overlap at {} episodes; with --episodes {} they would be about half as wide",
            overlapping.join(", "),
            report.episodes,
            report.episodes.saturating_mul(4)
        );
    }
    w!(
        out,
        "{:<16} {:>22} {:>22} {:>10}",
        "per agent",
        "trained",
        "scripted",
        "separated"
    );
    for (name, p) in &report.personalities {
        for (what, c) in [
            ("DAI gain", &p.net_worth_gain),
            ("impact", &p.impact),
            ("on favourite", &p.stake_on_favourite),
        ] {
            w!(
                out,
                "{:<16} {:>12.3} ± {:<7.3} {:>12.3} ± {:<7.3} {:>10}",
                format!("{name} {what}"),
                c.trained.mean,
                c.trained.ci95,
                c.scripted.mean,
                c.scripted.ci95,
                c.separated
            );
        }
    }
    w!(
        out,
        "choices per action head (share of days per bin, bins as in docs/environment.md):"
    );
    for (name, p) in &report.personalities {
        let heads: Vec<String> = crate::env::actions::HEADS
            .iter()
            .filter_map(|head| {
                let v: Vec<String> = p
                    .action_shares
                    .get(*head)?
                    .iter()
                    .map(|x| format!("{x:.2}"))
                    .collect();
                Some(format!("{head} {}", v.join("/")))
            })
            .collect();
        w!(out, "{name:<16} {}", heads.join("   "));
    }
    w!(
        out,
        "{:<22} {:>26} {:>26}",
        "final metric",
        "trained",
        "scripted"
    );
    for (name, t) in &report.outcomes {
        let b = report.baseline_outcomes[name];
        w!(
            out,
            "{name:<22} {:>16.4} ± {:<8.4} {:>16.4} ± {:<8.4}",
            t.mean,
            t.ci95,
            b.mean,
            b.ci95
        );
    }
    out
}

/// A best-response check as text: per personality the trained return, the best fixed strategy's and
/// the gap, then the warnings.
pub fn best_response(b: &BestResponse) -> String {
    let mut out = String::new();
    w!(out,
        "best response (return per agent; intervals {:.0} % simultaneous over the strategies, paired by seed):",
        100.0 * b.level
    );
    w!(
        out,
        "{:<16} {:>26} {:<26} {:>26} {:>26}",
        "personality",
        "trained",
        "best fixed strategy",
        "its return",
        "gap (trained − fixed)"
    );
    for (name, c) in &b.personalities {
        w!(
            out,
            "{name:<16} {:>26} {:<26} {:>26} {:>26}",
            c.trained.text(),
            c.best,
            c.best_fixed.text(),
            c.gap.text()
        );
    }
    for w in b.warnings() {
        w!(out, "{w}");
    }
    out
}

/// A learned deviation check as text: per personality and deviation the trained return, the
/// deviator's and the gain, what the deviator does differently, a verdict, the cost, then the
/// warnings.
pub fn learned_response(l: &LearnedResponse) -> String {
    use crate::format::short;
    let mut out = String::new();
    w!(out,
        "learned deviation (return per agent in the role; intervals {:.0} % simultaneous over the personality's deviations, paired by seed, {} episodes):",
        100.0 * l.level,
        l.episodes
    );
    w!(
        out,
        "{:<16} {:<11} {:>26} {:>26} {:>28}  verdict",
        "personality",
        "deviation",
        "trained",
        "deviator",
        "gain (deviator − trained)"
    );
    for d in &l.deviations {
        let verdict = if d.exploitable {
            match d.relative_gain {
                Some(r) => format!("exploitable by {:.0} % of its return", 100.0 * r),
                None => "exploitable".to_string(),
            }
        } else if d.gain.hi < 0.0 {
            "holds: the deviator earns less".to_string()
        } else {
            "holds: no significant gain".to_string()
        };
        w!(
            out,
            "{:<16} {:<11} {:>26} {:>26} {:>28}  {verdict}",
            d.spec.personality,
            d.spec.deviation.name(),
            d.trained.text(),
            d.deviator.text(),
            d.gain.text()
        );
    }
    w!(
        out,
        "behaviour in the role, trained → deviator (share of days: buy/sell/stake/propose/exit):"
    );
    for d in &l.deviations {
        let r = |b: &super::report::BehaviourRates| {
            format!(
                "{:.2}/{:.2}/{:.2}/{:.2}/{:.3}",
                b.buy, b.sell, b.stake, b.propose, b.exit
            )
        };
        w!(
            out,
            "{:<16} {:<11} {} → {}",
            d.spec.personality,
            d.spec.deviation.name(),
            r(&d.trained_behaviour),
            r(&d.deviator_behaviour)
        );
    }
    let run = l
        .run_train_seconds
        .map(|s| format!(" (the run's own training: {} s)", short(s)))
        .unwrap_or_default();
    w!(
        out,
        "cost: {} s of deviator training for {} deviations{run}; deviator runs under deviations/",
        short(l.train_seconds()),
        l.deviations.len()
    );
    for w in l.warnings() {
        w!(out, "{w}");
    }
    out
}
