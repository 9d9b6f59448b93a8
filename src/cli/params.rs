//! `commons params`: the parameter reference (every scenario key with its default, unit, allowed
//! values, meaning and designer's name), the table of docs/parameters.md.

use clap::Args;
use commons_rl::model::params;

/// Arguments of `commons params`.
#[derive(Debug, Args)]
pub struct ParamsArgs {
    /// Only the parameters whose key, designer's name, unit or meaning contains WORD
    /// (case-insensitive), e.g. `--grep tribute`, `--grep half-life`.
    #[arg(long, value_name = "WORD")]
    grep: Option<String>,
    /// Print the Markdown table of docs/parameters.md instead.
    #[arg(long)]
    markdown: bool,
}

pub fn run(args: ParamsArgs) -> anyhow::Result<()> {
    let rows = match &args.grep {
        Some(word) => params::matching(word),
        None => params::rows(),
    };
    if rows.is_empty() {
        anyhow::bail!(
            "--grep {}: no scenario parameter matches (run `commons params` for all of them)",
            args.grep.as_deref().unwrap_or_default()
        );
    }
    if args.markdown {
        print!("{}", params::markdown_rows(&rows));
    } else {
        print!("{}", params::text(&rows));
        println!(
            "\n{} of {} parameters. Set one in a scenario file's [section] table, or with --set section.key=VALUE \
             (simulate, bench, train, eval; a study's `set`); reference: docs/parameters.md.",
            rows.len(),
            params::all().count()
        );
    }
    Ok(())
}
