#!/usr/bin/env python3
"""Compares `commons simulate --rng numpy-legacy` with runs of the original Python simulation, episode by
episode: a relative difference above 1e-9 in any pool, supply, price or sentiment, or any difference in a
count or score, is a failure.

Usage: scripts/compare_legacy.py SUMMARY_JSON ORIGINAL_DIR [--prefix seed_]
  SUMMARY_JSON  summary.json of `commons simulate --env envs/reference.toml --rng numpy-legacy ...`
  ORIGINAL_DIR  one JSON file per seed (<prefix><seed>.json) with the original's results:
                {"seed", "error", "final": {participants, candidates, actives, completed, failed,
                 funding_pool, collateral_pool, token_supply, token_price, avg_sentiment},
                 "reported": the original runner's result dict (score, participants, proposals{...})}
"""
import json
import os
import sys

FLOATS = ["funding_pool", "collateral_pool", "token_supply", "token_price", "avg_sentiment"]
COUNTS = {"participants": "participants", "proposals_candidate": "candidates",
          "proposals_active": "actives", "proposals_completed": "completed", "proposals_failed": "failed"}


def rel(a, b):
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    prefix = "seed_"
    if "--prefix" in sys.argv:
        prefix = sys.argv[sys.argv.index("--prefix") + 1]
        args = [a for a in args if a != prefix]
    summary = json.load(open(args[0]))
    compared, failures = 0, []
    worst = 0.0
    for ep in summary["episodes"]:
        path = os.path.join(args[1], f"{prefix}{ep['seed']}.json")
        if not os.path.exists(path):
            continue
        orig = json.load(open(path))
        compared += 1
        problems = []
        if orig.get("error"):
            if not ep.get("error"):
                problems.append(f"original raised ({orig['error']}), we did not")
        else:
            if ep.get("error"):
                problems.append(f"we raised ({ep['error']}), the original did not")
            for key in FLOATS:
                d = rel(ep["final"][key], orig["final"][key])
                worst = max(worst, d)
                if d > 1e-9:
                    problems.append(f"final.{key}: {ep['final'][key]!r} vs {orig['final'][key]!r}")
            for ours, theirs in COUNTS.items():
                if ep["final"][ours] != orig["final"][theirs]:
                    problems.append(f"final.{ours}: {ep['final'][ours]} vs {orig['final'][theirs]}")
            rep = orig["reported"]
            if ep.get("score") != rep["score"]:
                problems.append(f"score: {ep.get('score')} vs {rep['score']}")
            ours = ep.get("reported") or {}
            if ours.get("participants") != rep["participants"]:
                problems.append(f"reported participants: {ours.get('participants')} vs {rep['participants']}")
            for k_ours, k_theirs in [("proposals_candidate", "candidates"), ("proposals_active", "actives"),
                                     ("proposals_completed", "completed"), ("proposals_failed", "failed")]:
                if ours.get(k_ours) != rep["proposals"][k_theirs]:
                    problems.append(f"reported {k_ours}: {ours.get(k_ours)} vs {rep['proposals'][k_theirs]}")
        if problems:
            failures.append((ep["seed"], problems))
    for seed, problems in failures:
        print(f"seed {seed}: " + "; ".join(problems[:4]))
    print(f"{compared} episodes compared, {len(failures)} differ, worst relative difference {worst:.3g}")
    sys.exit(1 if failures or compared == 0 else 0)


if __name__ == "__main__":
    main()
