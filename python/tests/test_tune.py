"""commons tune and commons_rl.study.run: a tiny search runs to the end, resumes after a kill without
retraining, gives the same cells on Ray as in plain processes, and bad tune files fail in one line."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import commons_rl
from commons_rl import tune

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / "target" / "release" / "commons"

TINY = f"""
[study]
env = "{ROOT}/envs/commons.toml"
agents = "{ROOT}/agents/profit-and-altruist.toml"
seeds = [1, 2]
total_steps = 1024
eval_episodes = 4
check_episodes = 2
against_fixed = true
set = {{ "simulation.days" = 40, "train.checkpoint_every" = 1 }}

[tune]
trials = 3
seed = 3
recommend = 1
constraints = ["token_price >= 0.0", "best_response.beaten == false"]

[params."curve.exit_tribute"]
low = 0.1
high = 0.8

[params."hatch.vesting_80p_unlocked"]
low = 30
high = 200
type = "int"

[[objective]]
name = "altruist impact"
terms = {{ "altruist.impact" = 1.0 }}

[[objective]]
name = "profit-seeker gain"
direction = "minimize"
terms = {{ "profit-seeker.net_worth_gain" = 1.0 }}
"""


@pytest.fixture(autouse=True)
def _binary(monkeypatch):
    assert BIN.exists(), "build the CLI first (scripts/test.sh does)"
    monkeypatch.setenv("COMMONS_RL_BIN", str(BIN))


def write(tmp_path, text, name="t.toml"):
    f = tmp_path / name
    f.write_text(text)
    return f


def cell_files(out: Path) -> dict:
    """Every cell's checkpoint and evaluation samples, by trial folder and cell."""
    got = {}
    for cell in sorted(out.glob("trials/*/cells/*")):
        key = f"{cell.parent.parent.name}/{cell.name}"
        ev = json.loads((cell / "eval.json").read_text())
        ckpts = sorted(p for p in cell.rglob("*") if p.is_file() and "checkpoint" in str(p.relative_to(cell)))
        got[key] = (ev["samples"], {str(p.relative_to(cell)): p.read_bytes() for p in ckpts})
    return got


def quiet(*_):
    pass


def test_a_search_runs_reports_a_front_and_ray_gives_the_same_cells(tmp_path):
    f = write(tmp_path, TINY)
    plain = tune.run(f, out=tmp_path / "plain", jobs=2, log=quiet)
    assert len(plain["trials"]) == 3 and plain["front"], plain
    assert plain["recommended"] or plain["rechecks"], "the best setting is re-checked"
    for r in plain["trials"]:
        for name in ("altruist impact", "profit-seeker gain"):
            e = r["objectives"][name]
            assert e["seeds"] == 2 and e["lo"] <= e["mean"] <= e["hi"]
    report = (tmp_path / "plain" / "report.md").read_text()
    assert "## Pareto front" in report and "## Provenance" in report and "commit" in report
    assert (tmp_path / "plain" / "charts" / "objective0-curve.exit_tribute.svg").exists()
    # Parameter importance per objective: fractions of each parameter, not an "unavailable" note.
    assert set(plain["importance"]) == {"altruist impact", "profit-seeker gain"}, plain["importance"]
    for name, imp in plain["importance"].items():
        assert set(imp) == {"curve.exit_tribute", "hatch.vesting_80p_unlocked"}, (name, imp)
        assert abs(sum(imp.values()) - 1.0) < 1e-6, (name, imp)
    # The same search with its cells as Ray tasks on a local Ray of two CPUs: the same cells, bit for bit.
    ray = tune.run(f, out=tmp_path / "ray", ray=True, jobs=2, log=quiet)
    assert [t["params"] for t in ray["trials"]] == [t["params"] for t in plain["trials"]]
    a, b = cell_files(tmp_path / "plain"), cell_files(tmp_path / "ray")
    assert a.keys() == b.keys() and len(a) == 6
    for k in a:
        assert a[k] == b[k], k


def test_a_killed_search_goes_on_without_retraining_finished_trials(tmp_path):
    f = write(tmp_path, TINY)
    out = tmp_path / "t"
    env = {**os.environ, "COMMONS_RL_BIN": str(BIN)}
    cmd = [sys.executable, "-m", "commons_rl.tune", str(f), "--out", str(out), "--jobs", "2"]
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # Kill it once the first trial is told (its line printed) and the second has started.
    lines = []
    for line in p.stdout:
        lines.append(line)
        if line.startswith("tune: trial(s) 1 of 3"):
            time.sleep(0.5)
            p.kill()
            break
    p.wait()
    first = sorted(out.glob("trials/*/cells/*/eval.json"))
    assert len(first) >= 2, "".join(lines)
    stamps = {q: q.stat().st_mtime_ns for q in first}
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    data = json.loads((out / "tune.json").read_text())
    assert len(data["trials"]) == 3
    for q, t in stamps.items():
        assert q.stat().st_mtime_ns == t, f"{q} was rewritten: a finished cell retrained"
    # Asking again for the same number of trials trains nothing and only rewrites the report.
    before = {q: q.stat().st_mtime_ns for q in out.glob("trials/*/cells/*/eval.json")}
    again = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert {q: q.stat().st_mtime_ns for q in out.glob("trials/*/cells/*/eval.json")} == before


def test_a_constraint_no_trial_meets_is_reported_not_a_crash(tmp_path):
    f = write(tmp_path, TINY.replace('"token_price >= 0.0"', '"token_price >= 1e9"')
              .replace("trials = 3", "trials = 2"))
    data = tune.run(f, out=tmp_path / "t", jobs=2, log=quiet)
    assert data["no_feasible_trial"] and not data["front"] and not data["recommended"]
    assert "No trial met the constraints" in (tmp_path / "t" / "report.md").read_text()


@pytest.mark.parametrize("edit, words", [
    (('"altruist.impact" = 1.0', '"altruist.impakt" = 1.0'), ["objective[0].terms", "impakt"]),
    (('"altruist.impact" = 1.0', '"token_prize" = 1.0'), ["objective[0].terms", "token_prize"]),
    (("low = 0.1\nhigh = 0.8", "low = 0.5\nhigh = 0.5"), ['params."curve.exit_tribute"', "empty range"]),
    (("low = 0.1\nhigh = 0.8", 'low = 0.0\nhigh = 0.8\ntype = "log"'), ['params."curve.exit_tribute".low', "log"]),
    (("low = 0.1\nhigh = 0.8", "low = 0.1\nhigh = 1.5"), ['params."curve.exit_tribute"', "1.5"]),
    (('"curve.exit_tribute"', '"curve.exit_tribut"'), ['params."curve.exit_tribut"']),
    (('"token_price >= 0.0"', '"token_price => 0.0"'), ["tune.constraints[0]"]),
    (("seeds = [1, 2]", "seeds = [1]"), ["study.seeds", "2 training seeds"]),
    (("trials = 3", "trials = 0"), ["tune.trials"]),
])
def test_bad_tune_files_fail_in_one_line_naming_the_field(tmp_path, edit, words):
    old, new = edit
    assert old in TINY
    f = write(tmp_path, TINY.replace(old, new, 1), "bad.toml")
    with pytest.raises(tune.TuneError) as e:
        tune.load(f)
    msg = str(e.value)
    assert "\n" not in msg and "bad.toml" in msg, msg
    for w in words:
        assert w in msg, msg


def test_the_cli_names_a_ray_address_that_does_not_answer(tmp_path):
    f = write(tmp_path, TINY)
    r = subprocess.run([str(BIN), "tune", str(f), "--out", str(tmp_path / "t"), "--address", "127.0.0.1:1"],
                       capture_output=True, text=True, env={**os.environ, "COMMONS_RL_PY": sys.executable})
    assert r.returncode != 0
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and "--address 127.0.0.1:1" in err[0] and "no Ray cluster" in err[0], r.stderr
    assert not (tmp_path / "t").exists(), "nothing is written before the cluster answers"


def test_study_run_spreads_cells_and_returns_the_report(tmp_path):
    study = tmp_path / "s.toml"
    study.write_text(TINY.split("[tune]")[0] + """
[[variant]]
name = "base"
set = { "curve.exit_tribute" = 0.35 }

[[variant]]
name = "high"
set = { "curve.exit_tribute" = 0.6 }
""")
    s = commons_rl.study.run(study, out=tmp_path / "out", jobs=2)
    assert set(s.estimates["variant"]) == {"base", "high"}
    assert len(list((tmp_path / "out" / "cells").iterdir())) == 4
