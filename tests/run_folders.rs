//! Runs that cannot be lost: the real binary refuses to write into folders it does not own, refuses
//! unsafe run names, refuses a second writer, survives signals, and reports corrupt checkpoints as
//! one-line errors. Every refusal leaves the existing folder byte-identical.
#![cfg(feature = "torch")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Output, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn commons() -> Process {
    let mut c = Process::cargo_bin("commons").unwrap();
    c.stdin(Stdio::null());
    c
}

fn run_in(dir: &Path, args: &[&str]) -> Output {
    commons().current_dir(dir).args(args).output().unwrap()
}

/// A short CartPole training run named `name` in `dir/runs/`.
fn cartpole(dir: &Path, name: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "train".to_string(),
        "--env".into(),
        format!("{ROOT}/envs/cartpole.toml"),
        "--agents".into(),
        format!("{ROOT}/agents/ppo-cartpole.toml"),
        "--run-name".into(),
        name.into(),
        "--device".into(),
        "cpu".into(),
        "--total-steps".into(),
        "1024".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_in(dir, &args)
}

fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The command failed with one line (no panic) containing every needle; returns the line.
fn refused(out: &Output, needles: &[&str]) -> String {
    let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
    assert!(!out.status.success(), "succeeded: {err}");
    assert_ne!(out.status.code(), Some(101), "panicked: {err}");
    assert_eq!(err.lines().count(), 1, "not one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(err.contains(n), "{err:?} lacks {n:?}");
    }
    err
}

/// Every file under `dir` with its bytes (the folder's fingerprint), except `.lock`, whose content is the
/// pid of the last process that held the folder's lock.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == ".lock") {
                continue;
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: sends a signal to a child process we started.
    let rc = unsafe { libc::kill(child.id() as i32, sig) };
    assert_eq!(rc, 0);
}

/// Waits (at most a minute) until `path` exists.
fn wait_for(path: &Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A long CartPole run in the background, with its first checkpoint written.
fn long_run(dir: &Path, name: &str) -> Child {
    let child = commons()
        .current_dir(dir)
        .args([
            "train",
            "--env",
            &format!("{ROOT}/envs/commons.toml"),
            "--agents",
            &format!("{ROOT}/agents/mixed.toml"),
            "--run-name",
            name,
            "--device",
            "cpu",
            "--total-steps",
            "50000000",
            // Updates of 8 × 512 days, a second or more each, with a checkpoint after each: long
            // enough for two signals to arrive within one update (CartPole's take a millisecond).
            "--set",
            "train.num_steps=512",
            "--set",
            "train.checkpoint_every=1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The trainer is in its loop (signal handlers installed) once it wrote its first checkpoint.
    wait_for(&dir.join("runs").join(name).join("checkpoints/latest"));
    child
}

#[test]
fn an_existing_run_is_never_overwritten_and_unsafe_names_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    assert_ok(&cartpole(dir, "a", &[]));
    let run = dir.join("runs/a");
    let before = tree(&run);
    assert!(run.join("commons-run.json").exists());
    refused(
        &cartpole(dir, "a", &[]),
        &["runs/a", "--resume", "--overwrite"],
    );
    assert_eq!(tree(&run), before);
    // A simulate output may not replace a training run's files either.
    let out = run_in(
        dir,
        &[
            "simulate",
            "--env",
            &format!("{ROOT}/envs/reference.toml"),
            "--episodes",
            "1",
            "--days",
            "5",
            "--out",
            run.to_str().unwrap(),
        ],
    );
    refused(&out, &["runs/a", "commons train"]);
    assert_eq!(tree(&run), before);
    // Names are one plain path component.
    for bad in ["..", "../x", "a/b", "/abs", "", ".", ".hidden", "a b"] {
        refused(&cartpole(dir, bad, &[]), &["--run-name"]);
    }
    assert_eq!(
        std::fs::read_dir(dir.join("runs")).unwrap().count(),
        1,
        "nothing written beside runs/a"
    );
    assert!(!dir.join("config.toml").exists() && !dir.join("checkpoints").exists());
    // --overwrite moves the old run aside instead of deleting it.
    assert_ok(&cartpole(dir, "a", &["--overwrite"]));
    let aside: Vec<PathBuf> = std::fs::read_dir(dir.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("a.replaced-")
        })
        .collect();
    assert_eq!(aside.len(), 1);
    assert_eq!(tree(&aside[0]), before);
}

#[test]
fn simulate_writes_only_into_new_empty_or_its_own_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = |out: &Path| {
        run_in(
            tmp.path(),
            &[
                "simulate",
                "--env",
                &format!("{ROOT}/envs/reference.toml"),
                "--episodes",
                "2",
                "--days",
                "5",
                "--out",
                out.to_str().unwrap(),
            ],
        )
    };
    let out = tmp.path().join("s");
    assert_ok(&sim(&out));
    assert_ok(&sim(&out)); // an earlier simulate output is replaced
    let mine = tmp.path().join("notes");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("thesis.txt"), "do not lose").unwrap();
    let before = tree(&mine);
    refused(&sim(&mine), &["notes", "not written by commons-rl"]);
    assert_eq!(tree(&mine), before);
    let file = tmp.path().join("file.txt");
    std::fs::write(&file, "x").unwrap();
    refused(&sim(&file), &["file.txt"]);
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
}

#[test]
fn a_second_writer_refuses_naming_the_first_and_signals_save_a_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let first = long_run(dir, "busy");
    let pid = first.id().to_string();
    // Same run name, resume and eval: all refused while the first one trains.
    refused(&cartpole(dir, "busy", &[]), &["runs/busy"]);
    let resume = run_in(dir, &["train", "--resume", "runs/busy"]);
    refused(&resume, &["runs/busy", &pid]);
    refused(&run_in(dir, &["eval", "runs/busy"]), &["runs/busy", &pid]);
    // SIGINT twice: the second says it is already saving; the run ends with a checkpoint.
    signal(&first, libc::SIGINT);
    std::thread::sleep(Duration::from_millis(30));
    signal(&first, libc::SIGINT);
    let out = first.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("already stopping"), "{err}");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("runs/busy/summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["interrupted"], true);
    // SIGTERM saves too.
    let second = commons()
        .current_dir(dir)
        .args([
            "train",
            "--resume",
            "runs/busy",
            "--total-steps",
            "50000000",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let step_before = summary["global_step"].as_u64().unwrap();
    let latest = dir.join("runs/busy/checkpoints/latest");
    let start = Instant::now();
    while std::fs::read_to_string(&latest).unwrap().trim() == step_before.to_string() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no new checkpoint"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(&second, libc::SIGTERM);
    let out = second.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("runs/busy/summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["interrupted"], true);
    assert!(summary["global_step"].as_u64().unwrap() > step_before);
}

#[test]
fn a_killed_run_does_not_block_its_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Killed at a few moments after its first checkpoint (some land while the next one is written):
    // every time the last complete checkpoint resumes.
    for (k, delay_ms) in [0u64, 37, 420].into_iter().enumerate() {
        let name = format!("killed{k}");
        let mut child = long_run(dir, &name);
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let run = dir.join("runs").join(&name);
        assert!(
            run.join(".lock").exists(),
            "SIGKILL leaves the lock file (but not the lock)"
        );
        let latest: u64 = std::fs::read_to_string(run.join("checkpoints/latest"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let total = (latest + 1024).to_string();
        let out = run_in(
            dir,
            &[
                "train",
                "--resume",
                run.to_str().unwrap(),
                "--total-steps",
                &total,
            ],
        );
        assert_ok(&out);
        let summary: serde_json::Value =
            serde_json::from_slice(&std::fs::read(run.join("summary.json")).unwrap()).unwrap();
        assert!(summary["global_step"].as_u64().unwrap() >= latest + 1024);
        assert_eq!(summary["interrupted"], false);
    }
}

#[test]
fn a_resumed_run_with_an_edited_population_names_its_config() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let agents = dir.join("a.toml");
    std::fs::write(
        &agents,
        "[train]\ntotal_steps = 128\nnum_envs = 1\nnum_steps = 64\n",
    )
    .unwrap();
    let out = run_in(
        dir,
        &[
            "train",
            "--env",
            &format!("{ROOT}/envs/commons.toml"),
            "--agents",
            agents.to_str().unwrap(),
            "--run-name",
            "edited",
        ],
    );
    assert_ok(&out);
    let config = dir.join("runs/edited/config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replacen("\"altruist\"", "\"nobody\"", 1)).unwrap();
    let before = tree(&dir.join("runs/edited"));
    for args in [
        vec!["train", "--resume", "runs/edited"],
        vec!["eval", "runs/edited", "--episodes", "1"],
    ] {
        refused(
            &run_in(dir, &args),
            &[
                "runs/edited/config.toml",
                "population[1].personality",
                "nobody",
            ],
        );
    }
    assert_eq!(tree(&dir.join("runs/edited")), before);
}

#[test]
fn a_corrupt_checkpoint_state_is_an_error_not_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    assert_ok(&cartpole(dir, "c", &[]));
    let latest = std::fs::read_to_string(dir.join("runs/c/checkpoints/latest")).unwrap();
    let state_path = dir.join(format!("runs/c/checkpoints/{}/state.json", latest.trim()));
    let good: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state_path).unwrap()).unwrap();
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "short normaliser",
            Box::new(|s| {
                s["policies"][0]["normalizer"]["mean"]
                    .as_array_mut()
                    .unwrap()
                    .pop();
            }),
            "policies[0].normalizer.mean",
        ),
        (
            "no policies",
            Box::new(|s| {
                s["policies"].as_array_mut().unwrap().clear();
            }),
            "policies []",
        ),
        (
            "negative variance",
            Box::new(|s| s["policies"][0]["normalizer"]["var"][1] = serde_json::json!(-1.0)),
            "policies[0].normalizer.var[1]",
        ),
        (
            "other policies",
            Box::new(|s| s["policies"][0]["name"] = serde_json::json!("someone")),
            "someone",
        ),
        (
            "future version",
            Box::new(|s| s["version"] = serde_json::json!(99)),
            "field `version` = 99",
        ),
        (
            "wrong type",
            Box::new(|s| s["policies"][0]["adam_steps"] = serde_json::json!("many")),
            "adam_steps",
        ),
    ];
    for (what, edit, field) in cases {
        let mut bad = good.clone();
        edit(&mut bad);
        std::fs::write(&state_path, serde_json::to_vec(&bad).unwrap()).unwrap();
        let out = run_in(
            dir,
            &["train", "--resume", "runs/c", "--total-steps", "2048"],
        );
        let err = refused(&out, &["state.json", field]);
        assert!(!err.contains("panicked"), "{what}: {err}");
    }
}

#[test]
fn sizes_that_cannot_fit_are_refused_before_anything_is_allocated_or_written() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let huge = dir.join("huge.toml");
    std::fs::write(&huge, "[hatch]\nhatchers = 100000000\n").unwrap();
    let out = dir.join("o");
    let sim = |env: &str, episodes: &str| {
        run_in(
            dir,
            &[
                "simulate",
                "--env",
                env,
                "--episodes",
                episodes,
                "--out",
                out.to_str().unwrap(),
            ],
        )
    };
    refused(
        &sim(huge.to_str().unwrap(), "1"),
        &["memory", "hatch.hatchers", "--ignore-memory-limit"],
    );
    let reference = format!("{ROOT}/envs/reference.toml");
    refused(&sim(&reference, "4294967295"), &["memory", "--episodes"]);
    assert!(!out.exists(), "nothing written, no .tmp left");
    let commons_toml = format!("{ROOT}/envs/commons.toml");
    for extra in [["--participants", "100000000"], ["--num-envs", "100000"]] {
        let mut args = vec!["bench", "--env", commons_toml.as_str(), "--steps", "1"];
        args.extend(extra);
        refused(&run_in(dir, &args), &["memory", extra[0]]);
    }
    // PPO sizes have upper bounds too.
    let agents = dir.join("a.toml");
    for (text, field) in [
        ("[ppo]\nhidden = 1000000000\n", "ppo.hidden"),
        ("[ppo]\nupdate_epochs = 1000000000\n", "ppo.update_epochs"),
        ("[train]\nnum_steps = 1000000000\n", "train.num_steps"),
    ] {
        std::fs::write(&agents, text).unwrap();
        let out = run_in(
            dir,
            &[
                "train",
                "--env",
                &format!("{ROOT}/envs/cartpole.toml"),
                "--agents",
                agents.to_str().unwrap(),
                "--run-name",
                "big",
            ],
        );
        refused(&out, &["a.toml", field]);
    }
    assert!(!dir.join("runs/big").exists());
}

/// Work that would take hours (or fit only on a far larger machine) is refused up front with one line:
/// the estimate, the command's limit, what to lower and the flag that goes ahead anyway.
#[test]
fn work_that_would_take_too_long_is_refused_up_front() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let commons_toml = format!("{ROOT}/envs/commons.toml");
    let mixed = format!("{ROOT}/agents/mixed.toml");
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["bench", "--env", &commons_toml, "--steps", "4000000000"],
            vec!["of work", "10 min limit", "--steps", "--ignore-time-limit"],
        ),
        // The bench that ran for minutes without a word, reached 12 GB and aborted: too large for
        // memory here, or too long where memory is plentiful.
        (
            vec!["bench", "--env", &commons_toml, "--participants", "1000000"],
            vec!["--participants", "more than", "--ignore-"],
        ),
        (
            vec![
                "simulate",
                "--env",
                &commons_toml,
                "--set",
                "hatch.hatchers=1000000",
            ],
            vec!["hatch.hatchers", "more than", "--ignore-"],
        ),
        (
            vec![
                "train",
                "--env",
                &commons_toml,
                "--agents",
                &mixed,
                "--total-steps",
                "10000000000",
                "--run-name",
                "long",
            ],
            vec![
                "of work",
                "24.0 h limit",
                "train.total_steps",
                "--stop-after",
                "--ignore-time-limit",
            ],
        ),
    ];
    for (args, needles) in cases {
        let err = refused(&run_in(dir, &args), &needles);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    assert!(
        !dir.join("runs/long").exists(),
        "a refused run leaves no folder"
    );
}

/// Kills a process on drop (a failed test leaves no orphaned training behind).
#[cfg(target_os = "linux")]
struct KillOnDrop(i32);

#[cfg(target_os = "linux")]
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // SAFETY: sends a signal to the run this test started (it may have ended already).
        unsafe { libc::kill(self.0, libc::SIGKILL) };
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_run_whose_starter_is_killed_saves_and_stops() {
    // What a search's cells do: started with COMMONS_RL_PARENT_PID, they are told SIGTERM when that
    // process dies, even by SIGKILL, instead of running on unseen and holding the run's lock.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let bin = Process::cargo_bin("commons")
        .unwrap()
        .get_program()
        .to_owned();
    let script = format!(
        "COMMONS_RL_PARENT_PID=$$ \"$0\" train --env {ROOT}/envs/commons.toml --agents {ROOT}/agents/mixed.toml \
         --run-name orphan --device cpu --total-steps 50000000 --set train.num_steps=512 \
         --set train.checkpoint_every=1 >/dev/null 2>&1 & echo $!; wait"
    );
    let mut parent = Process::new("sh")
        .current_dir(dir)
        .args(["-c", &script])
        .arg(&bin)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pid = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(parent.stdout.take().unwrap()),
        &mut pid,
    )
    .unwrap();
    let _guard = KillOnDrop(pid.trim().parse().unwrap());
    let run = dir.join("runs/orphan");
    wait_for(&run.join("checkpoints/latest"));
    parent.kill().unwrap(); // SIGKILL: the parent runs no clean-up of its own
    parent.wait().unwrap();
    let summary = run.join("summary.json");
    wait_for(&summary);
    let start = Instant::now();
    let done = loop {
        let s: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap_or_default();
        if s["interrupted"] == true {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{s}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(done["global_step"].as_u64().unwrap() < 50_000_000);
    // It let go of the run: a resume is not refused as "in use".
    let total = (done["global_step"].as_u64().unwrap() + 1024).to_string();
    let start = Instant::now();
    loop {
        let out = run_in(
            dir,
            &["train", "--resume", "runs/orphan", "--total-steps", &total],
        );
        if out.status.success() {
            break;
        }
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("in use") && start.elapsed() < Duration::from_secs(60),
            "{err}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
