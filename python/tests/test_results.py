"""The loaders of eval.json and study.json, the example notebook, and what simulate() refuses."""

import inspect
import json
import subprocess
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import commons_rl

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "data" / "notebook-demo"


def cli():
    path = ROOT / "target" / "release" / "commons"
    assert path.exists(), "build the CLI first (scripts/test.sh does)"
    return str(path)


def test_load_eval_holds_every_episode_of_eval_json(tmp_path):
    for args in (
        ["train", "--env", str(ROOT / "envs/commons.toml"), "--agents", str(ROOT / "agents/altruist.toml"),
         "--total-steps", "512", "--num-envs", "2", "--run-name", "r", "--set", "simulation.days=40"],
        ["eval", "runs/r", "--episodes", "3", "--seed", "500"],
    ):
        subprocess.run([cli(), *args], cwd=tmp_path, check=True, capture_output=True)
    run = tmp_path / "runs" / "r"
    df = commons_rl.load_eval(run)
    ev = json.loads((run / "eval.json").read_text())
    ret = df.query("side == 'trained' and personality == 'altruist' and measure == 'return'")
    assert ret["seed"].tolist() == [500, 501, 502] and ret["episode"].tolist() == [0, 1, 2]
    assert ret["value"].mean() == pytest.approx(ev["personalities"]["altruist"]["mean_return"])
    base = df.query("side == 'scripted' and personality == 'altruist' and measure == 'return'")
    assert base["value"].mean() == pytest.approx(ev["personalities"]["altruist"]["baseline_mean_return"])
    price = df.query("side == 'trained' and personality == '' and measure == 'token_price'")
    assert price["value"].mean() == pytest.approx(ev["outcomes"]["token_price"]["mean"])
    # Action shares: per head and episode, the bins' shares sum to 1.
    shares = df[df["measure"].str.startswith("share:exit:")]
    sums = shares.groupby(["side", "personality", "episode"])["value"].sum()
    assert len(sums) > 0 and (sums.round(9) == 1.0).all()
    with pytest.raises(FileNotFoundError, match="commons eval"):
        commons_rl.load_eval(tmp_path)
    (tmp_path / "eval.json").write_text("{")
    with pytest.raises(ValueError, match="eval.json: not an eval.json"):
        commons_rl.load_eval(tmp_path)


def test_load_study_reads_every_number_of_study_json():
    raw = json.loads((DEMO / "study.json").read_text())
    s = commons_rl.load_study(DEMO)
    variants = [v["name"] for v in raw["variants"]]
    assert len(s.estimates) == len(raw["rows"]) * len(variants)
    baseline = s.estimates[s.estimates["variant"] == variants[0]]
    other = s.estimates[s.estimates["variant"] == variants[1]]
    assert baseline["diff"].isna().all() and not baseline["significant"].any()
    assert other["diff"].notna().any()
    # The report's findings are ★ differences (significant, and material).
    starred = set(other.loc[other["significant"], "series"])
    assert set(s.findings["series"]) <= starred and len(s.findings) == len(raw["findings"])
    days = s.trajectories.groupby(["metric", "side", "variant"])["day"].max()
    assert (days == raw["days"]).all()
    assert s.meta["variants"][0]["name"] == variants[0]
    with pytest.raises(FileNotFoundError, match="commons study"):
        commons_rl.load_study(ROOT / "examples")


def test_the_example_notebook_runs():
    nb = nbformat.read(ROOT / "examples" / "commons_rl_tour.ipynb", as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 3, "the sweep, the study's intervals and its trajectories are plotted"


def test_simulate_defaults_to_the_clis_episodes_and_refuses_oversized_work():
    assert inspect.signature(commons_rl.simulate).parameters["episodes"].default == 64
    with pytest.raises(ValueError, match=r"more than .*ignore_(memory|time)_limit=True"):
        commons_rl.simulate(str(ROOT / "envs" / "commons.toml"), set={"hatch.hatchers": 1000000})
    with pytest.raises(ValueError, match=r"episodes"):
        commons_rl.simulate(str(ROOT / "envs" / "reference.toml"), episodes=4_000_000_000)
