"""Agent-steps per second of the Python APIs with random legal actions (compare with `commons bench`).

    python examples/python_speed.py --num-envs 8 --steps 730

Prints one JSON line per API: the vector env (all environments stepped in Rust) and the PettingZoo
dict API (one environment; only `reset`/`step` are timed, not the drawing of the actions).
"""

import argparse
import json
import time

import numpy as np

import commons_rl


def random_legal(masks, nvec, rng):
    """One allowed bin per head for every row of `masks` (`[..., Σ nvec]` bool), vectorised."""
    out = []
    offset = 0
    for n in nvec:
        m = masks[..., offset:offset + n]
        keys = np.where(m, rng.random(m.shape), -1.0)
        out.append(keys.argmax(-1))
        offset += n
    return np.stack(out, -1).astype(np.int64)


def vector(args, rng):
    vec = commons_rl.vector_env(args.env, num_envs=args.num_envs, capacity=args.capacity)
    arr = vec.arrays()
    vec.reset(args.seed)
    agent_steps, t = 0, 0.0
    for _ in range(args.steps):
        actions = random_legal(arr["masks"], vec.nvec, rng)
        agent_steps += int(arr["live"].sum())
        t0 = time.perf_counter()
        vec.step(actions)
        t += time.perf_counter() - t0
    return {"api": "vector_env", "num_envs": args.num_envs, "agent_steps": agent_steps,
            "seconds": t, "agent_steps_per_sec": agent_steps / t}


def pettingzoo(args, rng):
    env = commons_rl.parallel_env(args.env)
    t0 = time.perf_counter()
    obs, _ = env.reset(seed=args.seed)
    t = time.perf_counter() - t0
    agent_steps = 0
    for _ in range(args.steps):
        if not env.agents:
            t0 = time.perf_counter()
            obs, _ = env.reset(seed=args.seed + 1)
            t += time.perf_counter() - t0
        actions = {}
        for a in env.agents:
            m = np.concatenate(obs[a]["action_mask"]).astype(bool)
            actions[a] = random_legal(m, env.action_space(a).nvec, rng)
        agent_steps += len(actions)
        t0 = time.perf_counter()
        obs, *_ = env.step(actions)
        t += time.perf_counter() - t0
    return {"api": "parallel_env", "num_envs": 1, "agent_steps": agent_steps,
            "seconds": t, "agent_steps_per_sec": agent_steps / t}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--env", default="envs/commons.toml")
    p.add_argument("--num-envs", type=int, default=8)
    p.add_argument("--capacity", type=int, default=512)
    p.add_argument("--steps", type=int, default=730)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    rng = np.random.default_rng(args.seed)
    print(json.dumps(vector(args, rng)))
    print(json.dumps(pettingzoo(args, rng)))


if __name__ == "__main__":
    main()
