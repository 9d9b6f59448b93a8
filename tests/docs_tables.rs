//! The documentation's tables are generated from the code that defines them: the observation feature
//! table, the reward components and built-in personalities, CartPole's state and the outcome metrics.
//! The docs hold each between `<!-- generated: NAME -->` and `<!-- end generated -->`, and the env types'
//! rustdoc includes `src/env/tables/NAME.md`. Run `COMMONS_RL_BLESS=1 cargo test --test docs_tables`
//! after changing a table to rewrite them.

use std::path::PathBuf;

use commons_rl::env::{cartpole, observation, personality};
use commons_rl::model::metrics;

/// The tables of docs/environment.md (also included in rustdoc).
fn tables() -> Vec<(&'static str, String)> {
    vec![
        ("actions", commons_rl::env::actions::markdown()),
        ("observation", observation::markdown()),
        ("rewards", personality::markdown()),
        ("cartpole", cartpole::markdown()),
    ]
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bless() -> bool {
    std::env::var_os("COMMONS_RL_BLESS").is_some_and(|v| v == "1")
}

/// `text` with the block `name` replaced by `table`.
fn splice(text: &str, name: &str, table: &str) -> String {
    let begin = format!("<!-- generated: {name} -->\n");
    let end = "<!-- end generated -->";
    let a = text
        .find(&begin)
        .unwrap_or_else(|| panic!("the document lacks the marker {begin:?}"))
        + begin.len();
    let b = a + text[a..]
        .find(end)
        .unwrap_or_else(|| panic!("the document has no {end:?} after {begin:?}"));
    format!("{}{table}{}", &text[..a], &text[b..])
}

#[test]
fn environment_md_holds_the_generated_tables() {
    let path = root().join("docs/environment.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut want = text.clone();
    for (name, table) in tables() {
        want = splice(&want, name, &table);
    }
    if bless() {
        std::fs::write(&path, &want).unwrap();
    } else {
        assert!(
            text == want,
            "docs/environment.md disagrees with the tables in the code; run \
             `COMMONS_RL_BLESS=1 cargo test --test docs_tables` and review the diff"
        );
    }
}

#[test]
fn parameters_md_holds_the_parameter_reference() {
    let path = root().join("docs/parameters.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let want = splice(&text, "parameters", &commons_rl::model::params::markdown());
    if bless() {
        std::fs::write(&path, &want).unwrap();
    } else {
        assert!(
            text == want,
            "docs/parameters.md disagrees with src/model/config.rs; run \
             `COMMONS_RL_BLESS=1 cargo test --test docs_tables` and review the diff"
        );
    }
}

#[test]
fn run_folder_md_holds_the_metrics_table() {
    let path = root().join("docs/run-folder.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let want = splice(&text, "metrics", &metrics::markdown());
    if bless() {
        std::fs::write(&path, &want).unwrap();
    } else {
        assert!(
            text == want,
            "docs/run-folder.md disagrees with src/model/metrics.rs; run \
             `COMMONS_RL_BLESS=1 cargo test --test docs_tables` and review the diff"
        );
    }
}

#[test]
fn strategies_md_holds_the_library_table() {
    let path = root().join("docs/strategies.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let want = splice(
        &text,
        "library",
        &commons_rl::env::strategy::markdown().unwrap(),
    );
    if bless() {
        std::fs::write(&path, &want).unwrap();
    } else {
        assert!(
            text == want,
            "docs/strategies.md disagrees with agents/strategies; run \
             `COMMONS_RL_BLESS=1 cargo test --test docs_tables` and review the diff"
        );
    }
}

#[cfg(feature = "torch")]
#[test]
fn training_md_holds_the_settings_table() {
    let path = root().join("docs/training.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let want = splice(
        &text,
        "settings",
        &commons_rl::run::training::settings_markdown(),
    );
    if bless() {
        std::fs::write(&path, &want).unwrap();
    } else {
        assert!(
            text == want,
            "docs/training.md disagrees with run::training::SETTINGS; run \
             `COMMONS_RL_BLESS=1 cargo test --test docs_tables` and review the diff"
        );
    }
}

#[test]
fn rustdoc_includes_the_generated_tables() {
    for (name, table) in tables() {
        let path = root().join(format!("src/env/tables/{name}.md"));
        if bless() {
            std::fs::write(&path, &table).unwrap();
        } else {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                text == table,
                "{} disagrees with the code; run `COMMONS_RL_BLESS=1 cargo test --test docs_tables`",
                path.display()
            );
        }
    }
}

#[test]
fn splice_replaces_only_the_named_block() {
    let text = "a\n<!-- generated: x -->\nold\n<!-- end generated -->\nb\n<!-- generated: y -->\nkeep\n<!-- end generated -->\n";
    let out = splice(text, "x", "new\n");
    assert_eq!(
        out,
        "a\n<!-- generated: x -->\nnew\n<!-- end generated -->\nb\n<!-- generated: y -->\nkeep\n<!-- end generated -->\n"
    );
}

#[test]
fn the_tables_name_every_feature_component_and_builtin() {
    let obs = observation::markdown();
    for f in observation::features() {
        let short = f.name.rsplit('.').next().unwrap();
        assert!(
            obs.contains(&format!("`{short}`")) || obs.contains(&format!("`{}`", f.name)),
            "{}",
            f.name
        );
    }
    let rewards = personality::markdown();
    for c in personality::Component::ALL {
        assert!(rewards.contains(&format!("| {} |", c.name())));
    }
    for b in personality::BUILTINS {
        assert!(rewards.contains(&format!("| `{}` |", b.name)));
    }
    assert_eq!(
        cartpole::markdown().lines().count(),
        2 + cartpole::OBSERVATION.len()
    );
}
