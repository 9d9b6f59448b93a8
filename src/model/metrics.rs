//! The outcome metrics of a Commons, named once: `commons simulate`'s summaries and trajectories, the
//! environment's step info, `commons eval`, `commons compare` and the tests all read them from here.
//!
//! Each metric is one line of the `metrics!` table below: its doc line, its field (also its name in
//! every file and log), its type, and how it is read from a [`Commons`] between days.

use serde::Serialize;

use super::Commons;

/// One metric's value: a count or an amount (DAI, tokens, a price or a mean).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MetricValue {
    /// A number of participants or proposals.
    Count(u32),
    /// A real-valued quantity.
    Amount(f64),
}

impl MetricValue {
    /// The value as a float.
    pub fn as_f64(self) -> f64 {
        match self {
            MetricValue::Count(n) => n as f64,
            MetricValue::Amount(x) => x,
        }
    }
}

impl From<u32> for MetricValue {
    fn from(n: u32) -> Self {
        MetricValue::Count(n)
    }
}

impl From<f64> for MetricValue {
    fn from(x: f64) -> Self {
        MetricValue::Amount(x)
    }
}

/// Formats like the underlying number (`12`, `0.75`), as trajectories.csv writes it.
impl std::fmt::Display for MetricValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetricValue::Count(n) => n.fmt(f),
            MetricValue::Amount(x) => x.fmt(f),
        }
    }
}

/// Declares [`Metrics`], [`METRIC_NAMES`], [`METRIC_DOCS`], [`METRIC_UNITS`] and the accessors from one
/// table.
macro_rules! metrics {
    ($( #[doc = $doc:literal] $field:ident: $ty:ty [$unit:literal] = |$c:ident| $value:expr; )+) => {
        /// The outcome metrics of a Commons at one moment (the `M` of design.md §7), in the order of
        /// [`METRIC_NAMES`].
        #[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
        pub struct Metrics {
            $( #[doc = $doc] pub $field: $ty, )+
        }

        /// Number of outcome metrics.
        pub const METRIC_COUNT: usize = [$(stringify!($field)),+].len();

        /// Names of the [`Metrics`] fields, in order (the keys of `summary.json`, eval files and logs).
        pub const METRIC_NAMES: [&str; METRIC_COUNT] = [$(stringify!($field)),+];

        /// One line of documentation per metric, in [`METRIC_NAMES`] order.
        pub const METRIC_DOCS: [&str; METRIC_COUNT] = [$($doc.trim_ascii()),+];

        /// The unit of each metric (empty for counts and pure numbers), in [`METRIC_NAMES`] order.
        pub const METRIC_UNITS: [&str; METRIC_COUNT] = [$($unit),+];

        impl Metrics {
            /// The metrics of a Commons between days.
            pub fn of(c: &Commons) -> Self {
                Metrics { $( $field: { let $c = c; $value }, )+ }
            }

            /// Every metric with its name, in [`METRIC_NAMES`] order.
            pub fn fields(&self) -> [(&'static str, MetricValue); METRIC_COUNT] {
                [$((stringify!($field), MetricValue::from(self.$field))),+]
            }
        }
    };
}

metrics! {
    /// Participants.
    participants: u32 [""] = |c| c.participants().len() as u32;
    /// Candidate proposals.
    proposals_candidate: u32 [""] = |c| c.counts().candidate;
    /// Active (funded, unresolved) proposals.
    proposals_active: u32 [""] = |c| c.counts().active;
    /// Completed proposals.
    proposals_completed: u32 [""] = |c| c.counts().completed;
    /// Failed proposals.
    proposals_failed: u32 [""] = |c| c.counts().failed;
    /// Funding pool, DAI.
    funding_pool: f64 ["DAI"] = |c| c.pools().funding_pool;
    /// Collateral pool, DAI.
    collateral_pool: f64 ["DAI"] = |c| c.pools().collateral_pool;
    /// Token supply.
    token_supply: f64 ["tokens"] = |c| c.pools().token_supply;
    /// Spot price, DAI/token.
    token_price: f64 ["DAI/token"] = |c| c.pools().token_price();
    /// Mean participant sentiment (the reference's mirrored `sentiment`: 0.75 at day 0).
    avg_sentiment: f64 [""] = |c| c.mirrors().sentiment;
}

impl Metrics {
    /// The values as floats, in [`METRIC_NAMES`] order.
    pub fn values(&self) -> [f64; METRIC_COUNT] {
        self.fields().map(|(_, v)| v.as_f64())
    }

    /// The value of the metric called `name`, if there is one.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.fields()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_f64())
    }
}

/// The metrics as a Markdown table (docs/run-folder.md holds this text).
pub fn markdown() -> String {
    let mut out = String::from("| key | meaning | kind | unit |\n|---|---|---|---|\n");
    let kinds = Metrics::default().fields();
    for (((name, doc), (_, v)), unit) in METRIC_NAMES
        .iter()
        .zip(METRIC_DOCS)
        .zip(kinds)
        .zip(METRIC_UNITS)
    {
        let kind = match v {
            MetricValue::Count(_) => "count",
            MetricValue::Amount(_) => "number",
        };
        out.push_str(&format!("| `{name}` | {doc} | {kind} | {unit} |\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelConfig;

    /// The keys of `M` are part of the CLI contract (design.md §7): renaming one breaks users' files.
    #[test]
    fn the_names_are_the_contracts() {
        assert_eq!(
            METRIC_NAMES,
            [
                "participants",
                "proposals_candidate",
                "proposals_active",
                "proposals_completed",
                "proposals_failed",
                "funding_pool",
                "collateral_pool",
                "token_supply",
                "token_price",
                "avg_sentiment",
            ]
        );
    }

    #[test]
    fn names_docs_and_values_line_up() {
        let c = Commons::new(&ModelConfig::default(), 3).unwrap();
        let m = Metrics::of(&c);
        assert_eq!(m.participants as usize, c.participants().len());
        assert_eq!(m.funding_pool, c.pools().funding_pool);
        let json = serde_json::to_value(m).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        let mut sorted = METRIC_NAMES.to_vec();
        sorted.sort();
        let mut keys_sorted = keys.clone();
        keys_sorted.sort();
        assert_eq!(
            keys_sorted, sorted,
            "serialised fields are the metric names"
        );
        for ((name, v), x) in m.fields().iter().zip(m.values()) {
            assert_eq!(v.as_f64(), x);
            assert_eq!(m.get(name), Some(x));
            assert_eq!(json[*name].as_f64(), Some(x), "{name}");
        }
        assert!(METRIC_DOCS
            .iter()
            .all(|d| !d.is_empty() && !d.starts_with(' ')));
        assert_eq!(m.get("nope"), None);
        assert_eq!(MetricValue::Count(12).to_string(), "12");
        assert_eq!(MetricValue::Amount(0.75).to_string(), "0.75");
    }
}
