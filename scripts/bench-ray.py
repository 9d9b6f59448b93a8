#!/usr/bin/env python3
"""BENCHMARKS.md, "Cells on Ray": the same small study run three ways, side by side on one host:
sequential `commons study` (one cell at a time, every core), plain processes (commons_rl.study.run,
--jobs 2, one thread each) and a local Ray cluster of two nodes (ray.cluster_utils.Cluster: a head and a
worker of one CPU each), one task per cell. Prints wall times, the per-cell times and the Ray overhead;
checks that the three give the same cells.
Usage: COMMONS_RL_BIN=target/release/commons $COMMONS_RL_PY scripts/bench-ray.py [STEPS] [OUT]"""
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import commons_rl
from commons_rl import cells

ROOT = Path(__file__).resolve().parents[1]
steps = int(sys.argv[1]) if len(sys.argv) > 1 else 16384
out = Path(sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="bench-ray-"))
out.mkdir(parents=True, exist_ok=True)
study = out / "bench.toml"
study.write_text(f"""[study]
env = "{ROOT}/envs/commons.toml"
agents = "{ROOT}/agents/profit-and-altruist.toml"
seeds = [1, 2]
total_steps = {steps}
eval_episodes = 8
set = {{ "simulation.days" = 120 }}

[[variant]]
name = "base"
set = {{ "curve.exit_tribute" = 0.35 }}

[[variant]]
name = "high"
set = {{ "curve.exit_tribute" = 0.6 }}
""")
exe = cells.binary()


def cell_seconds(folder):
    return [json.loads((c / "summary.json").read_text()).get("wall_seconds") for c in sorted((folder / "cells").iterdir())]


def samples(folder):
    return {c.name: json.loads((c / "eval.json").read_text())["samples"] for c in sorted((folder / "cells").iterdir())}


t = time.time()
subprocess.run([exe, "study", str(study), "--out", str(out / "seq")], check=True, capture_output=True)
seq = time.time() - t
t = time.time()
commons_rl.study.run(study, out=out / "plain", jobs=2, threads=1)
plain = time.time() - t

from ray.cluster_utils import Cluster  # noqa: E402
import ray  # noqa: E402

cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
cluster.add_node(num_cpus=1)
ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False)
nodes = len([n for n in ray.nodes() if n["Alive"]])
t = time.time()
commons_rl.study.run(study, out=out / "ray", address=cluster.address, threads=1)
on_ray = time.time() - t
ray.shutdown()
cluster.shutdown()

same = samples(out / "seq") == samples(out / "plain") == samples(out / "ray")
print(json.dumps({
    "steps_per_cell": steps, "cells": 4, "ray_nodes": nodes,
    "sequential_s": round(seq, 1), "plain_2_jobs_s": round(plain, 1), "ray_2_nodes_s": round(on_ray, 1),
    "speedup_ray_vs_sequential": round(seq / on_ray, 2),
    "cell_train_s": {"sequential": cell_seconds(out / "seq"), "plain": cell_seconds(out / "plain"),
                     "ray": cell_seconds(out / "ray")},
    "ray_overhead_per_cell_s": round((on_ray - plain) / 4 * 2, 2),
    "same_cells": same,
}, indent=1))
