"""The Commons as a PettingZoo ``ParallelEnv``.

Every learning participant of the scenario's population is an agent; scripted participants are part of
the world. Agents come and go: hatchers are there from ``reset``, arrivals appear in ``agents`` on the
day they join, and a participant who leaves is ``terminated`` once and then gone. At the horizon every
agent is ``truncated``.

Agent ids carry the personality: ``"<personality>_<k>"`` with ``k`` counting that personality's agents
from 0 in the order they appear in an episode, so a policy mapping can read the personality from the id
alone. ``possible_agents`` is a fixed pool created at construction: ``max_agents_per_personality`` ids
per personality (an episode with more agents of one personality raises, naming the parameter). Ids are
never reused within an episode; a new episode starts again from ``_0``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from . import _native
from .paths import resolve

#: Default size of each personality's id pool: more than any agent count the shipped scenarios reach in
#: a 730-day episode (arrivals are a few per day).
MAX_AGENTS_PER_PERSONALITY = 4096

INVALID_ACTIONS = ("noop", "raise")


class CommonsParallelEnv(ParallelEnv):
    """A Commons scenario (or CartPole) as a PettingZoo parallel environment.

    Observations are dicts: ``"observation"`` (float32, the feature vector of docs/environment.md) and
    ``"action_mask"`` (a tuple of int8 arrays, one per action head: 1 = allowed). Actions are
    ``MultiDiscrete`` vectors, one bin per head. A masked but in-space action is that head's no-op (bin
    0, always allowed) and is reported in the agent's info as ``invalid_action``; with
    ``invalid_action="raise"`` it is an error. Infos also carry the flat mask (``action_mask``), the
    reward components of the step (``reward_components``, named by ``reward_component_names``) and
    the world's metrics (``metrics``, one dict shared by every info of a step).

    Masks are read-only arrays shared by the agents of one personality whose mask is the same (copy
    one to change it).
    With ``flat_masks=True`` (what :mod:`commons_rl.rllib` uses) observations are
    ``{"observations": features, "action_mask": float32 0/1 per bin of every head}`` instead.

    Days on which no agent acts (every agent left and nobody has arrived yet) are stepped through by
    ``reset``/``step``, so ``agents`` is empty only when the episode is over.
    """

    metadata = {"render_modes": ["ansi"], "name": "commons_v0", "is_parallelizable": True}

    def __init__(
        self,
        env: str = "envs/commons.toml",
        agents: str | None = None,
        set: dict[str, Any] | list[str] | None = None,
        *,
        max_agents_per_personality: int = MAX_AGENTS_PER_PERSONALITY,
        invalid_action: str = "noop",
        render_mode: str | None = None,
        flat_masks: bool = False,
        _native_env: Any = None,
    ):
        if invalid_action not in INVALID_ACTIONS:
            raise ValueError(
                f"invalid_action={invalid_action!r} is not allowed (allowed: {', '.join(INVALID_ACTIONS)})"
            )
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode={render_mode!r} is not supported (allowed: None, 'ansi')")
        if not isinstance(max_agents_per_personality, int) or max_agents_per_personality < 1:
            raise ValueError(
                f"max_agents_per_personality={max_agents_per_personality!r} is out of range (allowed: an int >= 1)"
            )
        if _native_env is not None:
            self._env = _native_env
        else:
            self._env = _native.Env(
                resolve(env), None if agents is None else resolve(agents), overrides(set)
            )
        self.render_mode = render_mode
        self._strict = invalid_action == "raise"
        #: The personality (policy) names, in id order.
        self.policies: list[str] = self._env.policies()
        self._cap = max_agents_per_personality
        self.possible_agents = [f"{p}_{k}" for p in self.policies for k in range(self._cap)]
        self._policy_of = {name: k for k, name in enumerate(self.policies)}
        self._obs_spaces = []
        self._act_spaces = []
        for k in range(len(self.policies)):
            names, low, high = self._env.observation_spec(k)
            nvec, _heads = self._env.action_spec(k)
            features = spaces.Box(
                np.asarray(low, dtype=np.float32), np.asarray(high, dtype=np.float32), dtype=np.float32
            )
            if flat_masks:
                mask = spaces.Box(0.0, 1.0, shape=(int(sum(nvec)),), dtype=np.float32)
                self._obs_spaces.append(spaces.Dict({"observations": features, "action_mask": mask}))
            else:
                mask = spaces.Tuple([spaces.MultiBinary(int(n)) for n in nvec])
                self._obs_spaces.append(spaces.Dict({"observation": features, "action_mask": mask}))
            self._act_spaces.append(spaces.MultiDiscrete(nvec))
        self._env.dict_api(self._cap, flat_masks)
        metrics = self._env.metric_names()
        self.state_space = spaces.Box(-np.inf, np.inf, shape=(max(len(metrics), 4),), dtype=np.float32)
        #: Names of the entries of each info's ``reward_components`` (empty for CartPole).
        self.reward_component_names: list[str] = self._env.reward_components()
        self.agents: list[str] = []
        self._seed_rng = np.random.default_rng()

    # ---- spaces ----

    def _policy(self, agent: str) -> int:
        try:
            personality, k = agent.rsplit("_", 1)
            p = self._policy_of[personality]
            if 0 <= int(k) < self._cap:
                return p
        except (ValueError, KeyError, AttributeError):
            pass
        raise KeyError(f"unknown agent {agent!r} (ids are '<personality>_<k>', personalities: {', '.join(self.policies)})")

    def observation_space(self, agent: str) -> spaces.Dict:
        return self._obs_spaces[self._policy(agent)]

    def action_space(self, agent: str) -> spaces.MultiDiscrete:
        return self._act_spaces[self._policy(agent)]

    # ---- episode ----

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is None:
            seed = int(self._seed_rng.integers(0, 2**63))
        elif not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed={seed!r} is out of range (allowed: an int >= 0)")
        else:
            # Later reset() calls without a seed continue reproducibly from this one (gymnasium's rule).
            self._seed_rng = np.random.default_rng(int(seed))
        obs, infos, self.agents = self._env.reset_dicts(int(seed))
        return obs, infos

    def step(self, actions: dict[str, Any]):
        # Checked (live agents, shapes, dtypes, bins, masks) and stepped in Rust; nothing changes on
        # an error.
        obs, rewards, terms, truncs, infos, self.agents = self._env.step_dicts(actions, self._strict)
        return obs, rewards, terms, truncs, infos

    def state(self) -> np.ndarray:
        """The world now, for centralised critics: the outcome metrics (``info["metrics"]``'s order) of
        the Commons, or CartPole's four state variables."""
        s = np.asarray(self._env.state(), dtype=np.float32)
        out = np.zeros(self.state_space.shape, dtype=np.float32)
        out[: len(s)] = s
        return out

    def render(self):
        if self.render_mode is None:
            warnings.warn("render() without render_mode: construct with render_mode='ansi'", stacklevel=2)
            return None
        return self._env.render()

    def close(self):
        pass


def overrides(set_: dict[str, Any] | list[str] | None) -> list[str]:
    """``--set`` strings from a dict of dotted keys (values as Python scalars) or a list of
    ``"key=value"`` strings."""
    if set_ is None:
        return []
    if isinstance(set_, dict):
        out = []
        for key, value in set_.items():
            if isinstance(value, bool):
                v = "true" if value else "false"
            elif isinstance(value, str):
                v = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
            elif isinstance(value, (int, float, np.integer, np.floating)):
                v = repr(float(value)) if isinstance(value, (float, np.floating)) else str(int(value))
            else:
                raise TypeError(f"override {key!r}: value {value!r} must be a number, bool or string")
            out.append(f"{key}={v}")
        return out
    if isinstance(set_, (list, tuple)) and all(isinstance(s, str) for s in set_):
        return list(set_)
    raise TypeError("set must be a dict of dotted keys or a list of 'key=value' strings")


def parallel_env(
    env: str = "envs/commons.toml",
    agents: str | None = None,
    set: dict[str, Any] | list[str] | None = None,
    **kwargs,
) -> CommonsParallelEnv:
    """A PettingZoo ``ParallelEnv`` of the scenario file ``env`` (with the population of the agents
    file ``agents`` if given, and ``set`` overrides such as ``{"curve.exit_tribute": 0.3}``); see
    :class:`CommonsParallelEnv` for the keyword arguments."""
    return CommonsParallelEnv(env, agents, set, **kwargs)


def cartpole_env(**kwargs) -> CommonsParallelEnv:
    """CartPole-v1 through the same API (one agent, ``"cartpole_0"``)."""
    kwargs.setdefault("max_agents_per_personality", 1)
    return CommonsParallelEnv(_native_env=_native.Env.cartpole(), **kwargs)


def vector_env(
    env: str = "envs/commons.toml",
    agents: str | None = None,
    set: dict[str, Any] | list[str] | None = None,
    num_envs: int = 8,
    capacity: int = 256,
) -> "_native.VectorEnv":
    """``num_envs`` Commons environments stepped in Rust (in parallel, the GIL released), written into
    preallocated numpy arrays of ``capacity`` agent slots each -- the same arrays every step (see
    ``arrays()``). An agent keeps its slot while it lives (the lowest free slot when it arrives); a slot
    whose agent finished shows it once more, with ``terminated``/``truncated`` set and ``live`` false.
    An environment whose episode ended is reset at the next ``step`` (its actions are then ignored);
    environment ``i``'s episode ``k`` has seed ``episode_seed(seed, i, k)``. Actions are
    ``[num_envs, capacity, heads]`` int64; a masked bin becomes the head's no-op and is flagged in
    ``invalid``."""
    return _native.VectorEnv(
        resolve(env), None if agents is None else resolve(agents), overrides(set), num_envs, capacity
    )
