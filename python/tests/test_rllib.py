"""RLlib on the Commons: the MultiAgentEnv adapter (agents arriving mid-episode, RLlib's flags and
masks) and a short multi-agent PPO run of examples/rllib_train.py that reports every personality.

Needs ray[rllib] and torch (scripts/setup-python-pkg.sh installs both); skipped without them unless
COMMONS_RL_REQUIRE_RLLIB=1 (set by scripts/test.sh), which makes a missing RLlib a failure."""

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
COMMONS = str(ROOT / "envs" / "commons.toml")
MIXED = str(ROOT / "agents" / "mixed.toml")

if importlib.util.find_spec("ray") is None or importlib.util.find_spec("torch") is None:
    if os.environ.get("COMMONS_RL_REQUIRE_RLLIB") == "1":
        raise RuntimeError("ray[rllib] and torch are required here (COMMONS_RL_REQUIRE_RLLIB=1)")
    pytest.skip("ray[rllib] or torch is not installed", allow_module_level=True)

import commons_rl  # noqa: E402
from commons_rl.rllib import CommonsMultiAgentEnv, policy_mapping_fn  # noqa: E402


def test_the_adapter_takes_arrivals_mid_episode_and_sets_rllibs_flags():
    cfg = {"env": COMMONS, "agents": MIXED, "set": {"simulation.days": 40}, "max_agents_per_personality": 512}
    env = CommonsMultiAgentEnv(cfg)
    pz = commons_rl.parallel_env(COMMONS, MIXED, set={"simulation.days": 40}, max_agents_per_personality=512)
    obs, _ = env.reset(seed=5)
    pz_obs, _ = pz.reset(seed=5)
    first = set(env.agents)
    assert set(obs) == first and env.possible_agents == pz.possible_agents
    arrived, rng, steps = set(), np.random.default_rng(0), 0
    while True:
        for a in env.agents:
            space = env.observation_spaces[a]
            assert space is env.get_observation_space(a) and space.contains(obs[a])
            assert policy_mapping_fn(a) in env.policies
            # The flat float mask is PettingZoo's per-head masks, concatenated.
            assert (obs[a]["action_mask"] == np.concatenate(pz_obs[a]["action_mask"])).all()
            assert (obs[a]["observations"] == pz_obs[a]["observation"]).all()
        acts = {a: env.action_spaces[a].sample(mask=tuple(m for m in pz_obs[a]["action_mask"]))
                for a in env.agents}
        obs, rew, term, trunc, infos = env.step(acts)
        pz_obs, *_ = pz.step(acts)
        steps += 1
        arrived |= set(env.agents) - first
        assert set(rew) == set(obs) - {"__all__"}
        assert set(env.agents) <= set(obs)
        if term["__all__"] or trunc["__all__"]:
            break
        assert env.agents, "agents is empty only at the end"
    assert arrived, "agents arrive mid-episode"
    assert steps == 40 and trunc["__all__"] and not term["__all__"]
    assert all(trunc[a] or term[a] for a in obs)


def test_a_short_rllib_run_reports_every_personality(tmp_path):
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import rllib_train
    finally:
        sys.path.pop(0)
    out = tmp_path / "rllib.json"
    history = rllib_train.main([
        "--env", COMMONS, "--agents", MIXED, "--set", "simulation.days=30", "--iterations", "2",
        "--train-batch", "300", "--minibatch", "256", "--epochs", "1", "--num-env-runners", "0",
        "--max-agents-per-personality", "256", "--out", str(out),
    ])
    assert out.exists() and len(history) == 2
    last = history[-1]
    assert last["agent_steps"] > history[0]["agent_steps"] > 0 and last["episodes"] >= 10
    policies = ["profit-seeker", "altruist", "balanced", "builder"]
    assert sorted(last["agent_return_mean"]) == sorted(policies)
    assert all(isinstance(last["agent_return_mean"][p], float) for p in policies), last


def test_an_episode_whose_agents_all_left_ends_for_rllib(tmp_path):
    # RLlib ends an episode once every agent it knows is done, so arrivals after that point must not
    # be shown to it: the adapter ends the episode there (truncated), with only known agents' dicts.
    agents = tmp_path / "arrivals.toml"
    agents.write_text('[[population]]\npersonality = "altruist"\ncontroller = "learned"\n'
                      "hatchers = 0.0\narrivals = 1.0\n")
    env = CommonsMultiAgentEnv({"env": COMMONS, "agents": str(agents), "set": {"simulation.days": 60},
                                "max_agents_per_personality": 512})
    obs, _ = env.reset(seed=3)
    steps = 0
    while True:
        known = set(env.agents)
        # The last allowed bin of every head: leave as soon as leaving is allowed.
        masks = {a: obs[a]["action_mask"] for a in env.agents}
        nvec = env.action_spaces[env.agents[0]].nvec
        acts = {}
        for a, m in masks.items():
            bins, o = [], 0
            for n in nvec:
                bins.append(int(np.flatnonzero(m[o:o + n])[-1]))
                o += n
            acts[a] = np.asarray(bins, dtype=np.int64)
        obs, rew, term, trunc, _ = env.step(acts)
        steps += 1
        assert set(obs) - {"__all__"} <= known | set(env.agents)
        if term["__all__"] or trunc["__all__"]:
            break
    assert env.cut_short == 1 and steps < 60 and trunc["__all__"]
    assert set(obs) <= known and all(term[a] or trunc[a] for a in obs)
