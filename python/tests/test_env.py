"""The PettingZoo environment: PettingZoo's own API and seed tests, agents that arrive and leave, bad
input as Python exceptions, and the same world as the Rust CLI."""

import csv
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test, parallel_seed_test

import commons_rl
from commons_rl import ConfigError

ROOT = Path(__file__).resolve().parents[2]
COMMONS = str(ROOT / "envs" / "commons.toml")
MIXED = str(ROOT / "agents" / "mixed.toml")
SHORT = {"simulation.days": 40}


def short_env(**kw):
    return commons_rl.parallel_env(COMMONS, MIXED, set=SHORT, **kw)


def masked_random_actions(env, obs, rng):
    """One allowed action per live agent, drawn with `rng`."""
    out = {}
    for a in env.agents:
        bins = []
        for m in obs[a]["action_mask"]:
            allowed = np.flatnonzero(m)
            bins.append(int(rng.choice(allowed)))
        out[a] = np.asarray(bins, dtype=np.int64)
    return out


def test_pettingzoo_api_test_passes_for_the_commons_and_cartpole():
    parallel_api_test(short_env(), num_cycles=100)
    parallel_api_test(commons_rl.cartpole_env(), num_cycles=600)


def test_pettingzoo_seed_test_passes():
    parallel_seed_test(short_env)
    parallel_seed_test(commons_rl.cartpole_env)


def test_the_same_seed_gives_the_same_episode_and_another_seed_another():
    def run(seed):
        env = short_env()
        obs, _ = env.reset(seed=seed)
        rng = np.random.default_rng(0)
        trace = []
        while env.agents:
            obs, rew, term, trunc, _ = env.step(masked_random_actions(env, obs, rng))
            trace.append((sorted(obs), sorted(rew.items())))
        return trace

    assert run(3) == run(3)
    assert run(3) != run(4)
    # reset(seed=s) makes the following unseeded resets reproducible too.
    env = short_env()
    env.reset(seed=9)
    first = env.reset()[0]
    env.reset(seed=9)
    again = env.reset()[0]
    assert sorted(first) == sorted(again)
    assert all((first[a]["observation"] == again[a]["observation"]).all() for a in first)


def test_agents_arrive_with_new_ids_leave_once_and_carry_their_personality():
    env = short_env()
    obs, infos = env.reset(seed=1)
    personalities = {"profit-seeker", "altruist", "balanced", "builder"}
    assert env.agents and all(a.rsplit("_", 1)[0] in personalities for a in env.agents)
    assert set(env.agents) <= set(env.possible_agents)
    assert env.observation_space(env.agents[0]) is env.observation_space(env.agents[0])
    assert env.action_space(env.agents[0]) is env.action_space(env.agents[0])
    seen, gone, arrived = set(env.agents), set(), 0
    rng = np.random.default_rng(1)
    while env.agents:
        before = set(env.agents)
        obs, rew, term, trunc, infos = env.step(masked_random_actions(env, obs, rng))
        for a in set(env.agents) - before:
            assert a not in seen, f"id {a} reused"
            assert term[a] is False and trunc[a] is False and rew[a] == 0.0
            arrived += 1
        for a, done in term.items():
            if done:
                assert a not in gone, f"{a} terminated twice"
                gone.add(a)
                assert a not in env.agents
        seen |= set(env.agents)
        for a in env.agents:
            assert env.observation_space(a).contains(obs[a]), a
            assert env.action_space(a).contains(env.action_space(a).sample(mask=obs[a]["action_mask"]))
            info = infos[a]
            assert set(info["reward_components"]) == set(env.reward_component_names)
            assert "token_price" in info["metrics"]
    assert arrived > 0, "40 days of the Commons bring arrivals"
    assert all(trunc[a] or term[a] for a in trunc), "the horizon truncates everyone left"
    assert sum(trunc.values()) > 0


def test_bad_input_raises_python_exceptions_and_masked_actions_are_noops():
    env = short_env()
    obs, _ = env.reset(seed=2)
    a0 = env.agents[0]
    zero = {a: np.zeros(4, dtype=np.int64) for a in env.agents}
    with pytest.raises(KeyError, match="unknown agent 'nobody_3'"):
        env.step({**zero, "nobody_3": np.zeros(4, dtype=np.int64)})
    with pytest.raises(ValueError, match="shape"):
        env.step({**zero, a0: np.zeros(3, dtype=np.int64)})
    with pytest.raises(ValueError, match="outside MultiDiscrete"):
        env.step({**zero, a0: np.asarray([99, 0, 0, 0])})
    with pytest.raises(TypeError, match="dtype"):
        env.step({**zero, a0: np.asarray([0.5, 0, 0, 0])})
    with pytest.raises(ValueError, match="no action"):
        env.step({a0: zero[a0]})
    with pytest.raises(TypeError):
        env.step([1, 2])
    # A masked bin: the head's no-op, reported in the info.
    mask = obs[a0]["action_mask"]
    head = next(h for h, m in enumerate(mask) if not m.all())
    bad = np.zeros(4, dtype=np.int64)
    bad[head] = int(np.flatnonzero(mask[head] == 0)[0])
    obs2, _, _, _, infos = env.step({**zero, a0: bad})
    assert infos[a0]["invalid_action"] is True
    others = [a for a in infos if a != a0 and "invalid_action" in infos[a]]
    assert others and not any(infos[a]["invalid_action"] for a in others)
    strict = short_env(invalid_action="raise")
    obs, _ = strict.reset(seed=2)
    with pytest.raises(ValueError, match="masked"):
        strict.step({**{a: np.zeros(4, dtype=np.int64) for a in strict.agents}, strict.agents[0]: bad})
    with pytest.raises(ValueError, match="invalid_action"):
        short_env(invalid_action="sometimes")
    with pytest.raises(KeyError):
        env.observation_space("nobody_1")


def test_bad_files_and_overrides_are_config_errors_naming_file_and_key(tmp_path):
    with pytest.raises(ConfigError, match="nope.toml"):
        commons_rl.parallel_env(str(tmp_path / "nope.toml"))
    bad = tmp_path / "bad.toml"
    bad.write_text('kind = "commons"\n[simulation]\ndays = -3\n')
    with pytest.raises(ConfigError, match="bad.toml") as e:
        commons_rl.parallel_env(str(bad))
    assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="simulation.dayz"):
        commons_rl.parallel_env(COMMONS, set={"simulation.dayz": 3})
    with pytest.raises(ConfigError, match="simulation.days"):
        commons_rl.parallel_env(COMMONS, set={"simulation.days": 0})
    assert isinstance(ConfigError("x"), ValueError)


def test_fixed_strategies_play_inside_the_world_and_bad_ones_are_config_errors(tmp_path):
    # Participants with controller = "fixed" act by their rules inside the environment, like scripted
    # ones: only the learned personality has agents.
    agents = tmp_path / "fixed.toml"
    agents.write_text('[[population]]\npersonality = "profit-seeker"\ncontroller = "learned"\n'
                      "hatchers = 0.5\narrivals = 0.5\n"
                      '[[population]]\npersonality = "altruist"\ncontroller = "fixed"\n'
                      'strategy = "stake-by-affinity"\nhatchers = 0.5\narrivals = 0.5\n')
    env = commons_rl.parallel_env(COMMONS, str(agents), set=SHORT)
    assert all(a.startswith("profit-seeker_") for a in env.possible_agents)
    obs, _ = env.reset(seed=5)
    rng = np.random.default_rng(0)
    seen = set()
    while env.agents:
        seen |= set(env.agents)
        obs, *_ = env.step(masked_random_actions(env, obs, rng))
    assert seen and all(a.startswith("profit-seeker_") for a in seen)
    agents.write_text(agents.read_text().replace("stake-by-affinity", "stake-by-nothing"))
    with pytest.raises(ConfigError, match="strategy") as e:
        commons_rl.parallel_env(COMMONS, str(agents))
    assert "fixed.toml" in str(e.value) and "stake-by-nothing" in str(e.value) and "\n" not in str(e.value)


def test_render_and_state():
    env = short_env(render_mode="ansi")
    env.reset(seed=5)
    text = env.render()
    assert text.startswith("day 0") and "token_price" in text
    s = env.state()
    assert s.dtype == np.float32 and env.state_space.contains(s)
    cp = commons_rl.cartpole_env(render_mode="ansi")
    obs, _ = cp.reset(seed=0)
    assert cp.agents == ["cartpole_0"] and "cart" in cp.render()


def cli():
    path = ROOT / "target" / "release" / "commons"
    assert path.exists(), "build the CLI first (scripts/test.sh does)"
    return str(path)


def test_simulate_matches_the_cli_and_has_its_columns(tmp_path):
    sim = commons_rl.simulate(str(ROOT / "envs" / "reference.toml"), episodes=3, seed=11, days=30)
    out = tmp_path / "sim"
    subprocess.run(
        [cli(), "simulate", "--env", str(ROOT / "envs" / "reference.toml"), "--episodes", "3",
         "--seed", "11", "--days", "30", "--out", str(out)],
        check=True, capture_output=True,
    )
    with open(out / "trajectories.csv") as f:
        header = next(csv.reader(f))
    assert list(sim.trajectories.columns) == header
    summary = json.loads((out / "summary.json").read_text())
    for k, ep in enumerate(summary["episodes"]):
        for metric, value in ep["final"].items():
            assert sim.finals.loc[k, metric] == pytest.approx(value, rel=0, abs=0), metric
    assert len(sim.trajectories) == 3 * 31
    assert (sim.trajectories.groupby("episode")["day"].max() == 30).all()
    # Overrides from Python, validated like the file.
    tribute = commons_rl.simulate(str(ROOT / "envs" / "reference.toml"), episodes=2, days=30,
                                  set={"curve.exit_tribute": 0.5})
    assert len(tribute.finals) == 2
    with pytest.raises(ConfigError, match="curve.exit_tribut"):
        commons_rl.simulate(set={"curve.exit_tribut": 0.5})
    with pytest.raises(ValueError, match="episodes"):
        commons_rl.simulate(episodes=0)
    with pytest.raises(ConfigError, match="simulation.rng"):
        commons_rl.simulate(rng='numpy"legacy', episodes=1)


def rule(obs_row, nvec):
    """A deterministic action from an observation (the same in every API)."""
    x = int(abs(float(obs_row[0])) * 1e4) + int(abs(float(obs_row[-1])) * 1e3)
    return np.asarray([(x + h) % n for h, n in enumerate(nvec)], dtype=np.int64)


def step_key(obs, rew, term, trunc):
    return (obs.tobytes(), float(rew), bool(term), bool(trunc))


def test_the_vector_env_gives_the_pettingzoo_envs_trajectories():
    base = 7
    vec = commons_rl.vector_env(COMMONS, MIXED, set=SHORT, num_envs=2, capacity=256)
    arr = vec.arrays()
    assert arr["obs"] is vec.arrays()["obs"], "the same arrays every step"
    nvec = np.asarray(vec.nvec)
    vec.reset(base)
    pz = [short_env() for _ in range(2)]
    obs = [pz[i].reset(seed=commons_rl.episode_seed(base, i, 0))[0] for i in range(2)]
    for day in range(40):
        for i in range(2):
            live = np.flatnonzero(arr["live"][i])
            got = sorted(step_key(arr["obs"][i, s], arr["reward"][i, s], arr["terminated"][i, s],
                                  arr["truncated"][i, s]) for s in np.flatnonzero(arr["agent"][i] >= 0))
            want = sorted(step_key(o["observation"], 0.0 if day == 0 else last[i][1][a],
                                   False if day == 0 else last[i][2][a],
                                   False if day == 0 else last[i][3][a]) for a, o in obs[i].items())
            assert got == want, f"env {i}, day {day}"
            assert len(live) == len(pz[i].agents)
        actions = np.zeros((2, 256, len(nvec)), dtype=np.int64)
        for i in range(2):
            for s in np.flatnonzero(arr["live"][i]):
                actions[i, s] = rule(arr["obs"][i, s], nvec)
        vec.step(actions)
        if day == 0:
            last = [None, None]
        for i in range(2):
            acts = {a: rule(obs[i][a]["observation"], nvec) for a in pz[i].agents}
            out = pz[i].step(acts)
            last[i] = out
            obs[i] = out[0]
    assert vec.ended() == [True, True]
    vec.step(np.zeros((2, 256, len(nvec)), dtype=np.int64))
    assert vec.episodes() == [1, 1] and arr["is_new"].any()


def test_the_vector_env_refuses_bad_input():
    vec = commons_rl.vector_env(COMMONS, MIXED, set=SHORT, num_envs=1, capacity=4)
    with pytest.raises(ValueError, match="capacity=4"):
        vec.reset(0)
    vec = commons_rl.vector_env(COMMONS, MIXED, set=SHORT, num_envs=1, capacity=256)
    with pytest.raises(RuntimeError, match="reset"):
        vec.step(np.zeros((1, 256, 4), dtype=np.int64))
    vec.reset(0)
    with pytest.raises(ValueError, match="shape"):
        vec.step(np.zeros((1, 255, 4), dtype=np.int64))
    bad = np.zeros((1, 256, 4), dtype=np.int64)
    bad[0, int(np.flatnonzero(vec.arrays()["live"][0])[0]), 0] = 99
    before = vec.arrays()["obs"].copy()
    with pytest.raises(ValueError, match="out of range"):
        vec.step(bad)
    assert (vec.arrays()["obs"] == before).all(), "a refused step changes nothing"
    vec.step(np.zeros((1, 256, 4), dtype=np.int64))
    with pytest.raises(ValueError, match="num_envs"):
        commons_rl.vector_env(COMMONS, num_envs=0)
    # Arrays that cannot fit are refused before anything is allocated (was an aborted process).
    with pytest.raises(ValueError, match="memory.*num_envs or capacity"):
        commons_rl.vector_env(COMMONS, num_envs=4096, capacity=1 << 20)
    obs = vec.arrays()["obs"]
    obs.shape = (1, -1)  # a reshaped output array is refused, by name, and nothing is written
    before = obs.copy()
    with pytest.raises(RuntimeError, match="`obs` was reshaped to \\[1, "):
        vec.step(np.zeros((1, 256, 4), dtype=np.int64))
    assert (obs == before).all()
    obs.shape = before.shape[:1] + (256, -1)
    vec.step(np.zeros((1, 256, 4), dtype=np.int64))  # restored, it steps again
    vec.arrays()["reward"].dtype = np.int8  # a re-typed output array is refused, not written past
    with pytest.raises(RuntimeError, match="`reward` was re-typed to int8"):
        vec.step(np.zeros((1, 256, 4), dtype=np.int64))


def test_days_without_agents_are_stepped_through(tmp_path):
    # Only arrivals learn: nobody acts on day 0, so reset steps on to the first arrival; and as each
    # agent leaves as soon as it may, days without any agent follow, which step() steps through, so
    # the episode runs to its horizon instead of ending with an empty `agents`.
    agents = tmp_path / "arrivals.toml"
    agents.write_text('[[population]]\npersonality = "altruist"\ncontroller = "learned"\n'
                      "hatchers = 0.0\narrivals = 1.0\n")
    env = commons_rl.parallel_env(COMMONS, str(agents), set={"simulation.days": 60}, render_mode="ansi")

    def day():
        return int(env.render().split()[1])

    obs, _ = env.reset(seed=3)
    assert env.agents and set(obs) == set(env.agents)
    assert day() > 0, "no agent on day 0"
    jumps = 0
    while env.agents:
        before = day()
        # The last allowed bin of every head: the exit head's is "leave" once leaving is allowed.
        acts = {a: np.asarray([int(np.flatnonzero(m)[-1]) for m in obs[a]["action_mask"]], dtype=np.int64)
                for a in env.agents}
        obs, _, term, trunc, _ = env.step(acts)
        jumps += day() > before + 1
        assert set(env.agents) <= set(obs)
    assert day() == 60 and jumps > 0


def test_masks_are_shared_read_only_arrays():
    env = short_env()
    obs, infos = env.reset(seed=4)
    a = env.agents[0]
    m = obs[a]["action_mask"]
    assert all(not h.flags.writeable for h in m)
    with pytest.raises(ValueError):
        m[0][0] = 0
    same = [(x, y) for x in env.agents for y in env.agents
            if x < y and x.rsplit("_", 1)[0] == y.rsplit("_", 1)[0]
            and all((p == q).all() for p, q in zip(obs[x]["action_mask"], obs[y]["action_mask"]))]
    assert same, "some agents of one personality have the same mask on day 0"
    assert all(obs[x]["action_mask"] is obs[y]["action_mask"] for x, y in same), "and share its arrays"
    assert (infos[a]["action_mask"] == np.concatenate(m)).all()
