"""Multi-agent PPO on the Commons with Ray RLlib (new API stack): one policy per personality.

    pip install "./python[rllib]"          # commons_rl with ray[rllib]==2.60.0 and torch
    python examples/rllib_train.py --iterations 20

Each personality of the agents file gets its own RLModule (``policy_mapping_fn`` reads it from the
agent id, ``"profit-seeker_17"`` -> ``profit-seeker``), with RLlib's ``ActionMaskingTorchRLModule``:
the flat action mask of the observation is added, as ``log(mask)``, to the concatenated logits of the
MultiDiscrete heads, so masked bins are never sampled. Agents arrive and leave mid-episode through
``commons_rl.rllib.CommonsMultiAgentEnv``.

Every iteration prints the agent-steps sampled, the agent-steps per second of the whole iteration
(sampling and learning) and the mean episode return of each personality; ``--out FILE`` writes them
as JSON.

On a Ray cluster, only these change (every node needs ``pip install ./python[rllib]``; the checkout is
shipped to the workers as their working directory, so the scenario files resolve there):

    ray.init(address="auto", runtime_env={"working_dir": "."})   # instead of ray.init()
    --num-env-runners 64 --envs-per-runner 4 --num-learners 4    # more samplers and learners
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--env", default="envs/commons.toml", help="scenario file")
    p.add_argument("--agents", default="agents/mixed.toml", help="agents file (the population)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="scenario override, e.g. curve.exit_tribute=0.3 (repeatable)")
    p.add_argument("--iterations", type=int, default=10, help="RLlib training iterations")
    p.add_argument("--train-batch", type=int, default=8192,
                   help="env steps (days) per iteration, all agents of a day counted once")
    p.add_argument("--minibatch", type=int, default=None,
                   help="minibatch size, in the train batch's units (default: a quarter of it, as in commons train)")
    p.add_argument("--epochs", type=int, default=4, help="PPO epochs per iteration")
    p.add_argument("--num-env-runners", type=int, default=1, help="sampling workers (0: in the driver)")
    p.add_argument("--envs-per-runner", type=int, default=1, help="environments per sampling worker")
    p.add_argument("--num-learners", type=int, default=0, help="learner workers (0: in the driver)")
    p.add_argument("--max-agents-per-personality", type=int, default=4096,
                   help="id pool per personality (more than an episode's agents of one personality)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--address", default=None,
                   help="Ray cluster address (e.g. 'auto' on a cluster node); default: a local Ray")
    p.add_argument("--out", default=None, help="write the per-iteration results here as JSON")
    return p.parse_args(argv)


def build_config(args, policies):
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec
    from ray.rllib.examples.rl_modules.classes.action_masking_rlm import ActionMaskingTorchRLModule

    from commons_rl.rllib import CommonsCallbacks, CommonsMultiAgentEnv, policy_mapping_fn

    overrides = dict(s.split("=", 1) for s in args.set)
    env_config = {"env": args.env, "agents": args.agents, "set": [f"{k}={v}" for k, v in overrides.items()],
                  "max_agents_per_personality": args.max_agents_per_personality}
    model = DefaultModelConfig(fcnet_hiddens=[64, 64], fcnet_activation="tanh", vf_share_layers=False)
    return (
        PPOConfig()
        .environment(CommonsMultiAgentEnv, env_config=env_config)
        .callbacks(CommonsCallbacks)
        .env_runners(
            num_env_runners=args.num_env_runners,
            num_envs_per_env_runner=args.envs_per_runner,
            num_cpus_per_env_runner=1,
        )
        .learners(num_learners=args.num_learners)
        .multi_agent(policies=set(policies), policy_mapping_fn=policy_mapping_fn)
        .rl_module(
            rl_module_spec=MultiRLModuleSpec(
                rl_module_specs={
                    p: RLModuleSpec(module_class=ActionMaskingTorchRLModule, model_config=model)
                    for p in policies
                }
            )
        )
        .training(
            train_batch_size_per_learner=args.train_batch,
            minibatch_size=args.minibatch or max(1, args.train_batch // 4),
            num_epochs=args.epochs,
            lr=3e-4,
            gamma=0.99,
            lambda_=0.95,
            clip_param=0.2,
            entropy_coeff=0.01,
            vf_loss_coeff=0.5,
        )
        .debugging(seed=args.seed)
    )


def _number(x):
    return None if x is None else float(x)


def main(argv=None):
    args = parse_args(argv)
    import ray

    from commons_rl.rllib import CommonsMultiAgentEnv

    probe = CommonsMultiAgentEnv(
        {"env": args.env, "agents": args.agents, "set": list(args.set), "max_agents_per_personality": 1}
    )  # fails here, with the file and key, on a bad scenario or override
    policies = probe.policies
    ray.init(address=args.address, include_dashboard=False, log_to_driver=False,
             runtime_env={"working_dir": str(Path.cwd())} if args.address else None)
    algo = build_config(args, policies).build_algo()
    history = []
    try:
        agent_steps_before = 0
        for it in range(1, args.iterations + 1):
            t0 = time.perf_counter()
            result = algo.train()
            seconds = time.perf_counter() - t0
            runners = result.get("env_runners", {})
            # Agent steps: every personality's module steps (one per agent and day).
            agent_steps = int(sum(runners.get("num_module_steps_sampled_lifetime", {}).values()))
            returns = {p: _number(runners.get(f"return/{p}")) for p in policies}
            row = {
                "iteration": it,
                "agent_steps": agent_steps,
                "env_steps": int(runners.get("num_env_steps_sampled_lifetime", 0)),
                "seconds": seconds,
                "agent_steps_per_sec": (agent_steps - agent_steps_before) / seconds,
                "episodes": int(runners.get("num_episodes_lifetime", 0)),
                "agent_return_mean": returns,
                "token_price": _number(runners.get("commons/token_price")),
            }
            agent_steps_before = agent_steps
            history.append(row)
            shown = "  ".join(
                f"{p} {'-' if r is None else f'{r:.3g}'}" for p, r in returns.items()
            )
            print(f"iter {it:>3}  agent-steps {agent_steps:>9}  {row['agent_steps_per_sec']:>8.0f}/s  "
                  f"episodes {row['episodes']:>4}  return: {shown}", flush=True)
    finally:
        algo.stop()
        ray.shutdown()
    if args.out:
        tmp = args.out + ".partial"
        with open(tmp, "w") as f:
            json.dump({"args": vars(args), "iterations": history}, f, indent=2)
        os.replace(tmp, args.out)
    return history


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
