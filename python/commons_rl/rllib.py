"""The Commons for Ray RLlib (new API stack): a ``MultiAgentEnv`` whose agents arrive mid-episode.

RLlib's own ``ParallelPettingZooEnv`` freezes its agent list at the first ``reset`` and fails (a
``KeyError`` in PPO) on the first arrival; this adapter declares the whole id pool as
``possible_agents`` and lets ``agents`` change every step, which RLlib's ``MultiAgentEpisode`` supports.

One difference from the PettingZoo env: when every agent of an episode has left (possible with an
untrained policy), RLlib considers the episode over, so it ends there (``truncateds["__all__"]``)
instead of stepping on to later arrivals; :attr:`CommonsMultiAgentEnv.cut_short` counts such episodes.

Observations are ``{"observations": features, "action_mask": flat mask}`` (float32, one 0/1 entry per
bin of every head, the layout RLlib's ``ActionMaskingTorchRLModule`` expects for ``MultiDiscrete``
actions: it adds ``log(mask)`` to the concatenated per-head logits). Infos carry the reward components
of each step (``reward_components``, named by :attr:`CommonsMultiAgentEnv.reward_components`) and the
world's metrics (``metrics``).

Needs ``ray[rllib]==2.60.0`` and torch (``pip install "./python[rllib]"``); the rest of
``commons_rl`` does not.
"""

from __future__ import annotations

from typing import Any

from ray.rllib.callbacks.callbacks import RLlibCallback
from ray.rllib.env.multi_agent_env import MultiAgentEnv

from .env import CommonsParallelEnv


def personality_of(agent_id: str) -> str:
    """The personality (policy) of an agent id ``"<personality>_<k>"``."""
    return agent_id.rsplit("_", 1)[0]


def policy_mapping_fn(agent_id: str, episode: Any = None, **kwargs) -> str:
    """RLlib's ``policy_mapping_fn``: one module per personality, read from the agent id."""
    return personality_of(agent_id)


class CommonsMultiAgentEnv(MultiAgentEnv):
    """A Commons scenario (or CartPole) as an RLlib ``MultiAgentEnv``.

    ``config`` (RLlib's ``env_config``): ``env`` (scenario file, default ``envs/commons.toml``),
    ``agents`` (agents file), ``set`` (overrides, a dict of dotted keys), ``cartpole`` (True for
    CartPole-v1), and the keyword arguments of :class:`commons_rl.CommonsParallelEnv`
    (``max_agents_per_personality``, ``invalid_action``). Relative paths resolve against the
    commons-rl checkout the package was built from, so Ray workers started elsewhere find them.
    """

    def __init__(self, config: dict | None = None):
        super().__init__()
        config = dict(config or {})
        if config.pop("cartpole", False):
            from . import _native

            config.setdefault("max_agents_per_personality", 1)
            self._env = CommonsParallelEnv(_native_env=_native.Env.cartpole(), flat_masks=True, **config)
        else:
            env = config.pop("env", "envs/commons.toml")
            agents = config.pop("agents", None)
            overrides = config.pop("set", None)
            self._env = CommonsParallelEnv(env, agents, overrides, flat_masks=True, **config)
        self.possible_agents = list(self._env.possible_agents)
        self.agents = []
        # One space object per personality, shared by all its ids.
        self.observation_spaces = {a: self._env.observation_space(a) for a in self.possible_agents}
        self.action_spaces = {a: self._env.action_space(a) for a in self.possible_agents}
        #: Names of the entries of each info's ``reward_components``.
        self.reward_components = list(self._env.reward_component_names)
        #: Episodes ended before the horizon because every agent had left (see :meth:`step`).
        self.cut_short = 0

    @property
    def policies(self) -> list[str]:
        """The personality (module) names, in id order."""
        return list(self._env.policies)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, infos = self._env.reset(seed=seed, options=options)
        self.agents = list(self._env.agents)
        return obs, infos

    def step(self, action_dict: dict):
        acted = set(self.agents)
        obs, rewards, terms, truncs, infos = self._env.step(action_dict)
        self.agents = list(self._env.agents)
        if self.agents and acted.isdisjoint(self.agents):
            # Every agent RLlib knows in this episode is done, and others arrive: RLlib's
            # MultiAgentEpisode declares an episode over once all its known agents are done (before it
            # looks at new ones), so the arrivals cannot join; the episode ends here for RLlib.
            for a in set(obs) - acted:
                for d in (obs, rewards, terms, truncs, infos):
                    d.pop(a, None)
            self.agents = []
            self.cut_short += 1
            terms["__all__"], truncs["__all__"] = False, True
            return obs, rewards, terms, truncs, infos
        over = not self.agents
        horizon = over and any(truncs.values())
        terms["__all__"] = over and not horizon
        truncs["__all__"] = horizon
        return obs, rewards, terms, truncs, infos

    def render(self):
        return self._env.render()

    def close(self):
        self._env.close()


class CommonsCallbacks(RLlibCallback):
    """Logs, per finished episode, what ``commons train`` logs: each personality's mean agent return
    (``return/<personality>``: an agent's rewards summed over its whole stay, across the episode's
    chunks) and agent count (``agents/<personality>``), and the world's final metrics
    (``commons/<metric>``). They appear in ``result["env_runners"]``."""

    def on_episode_end(self, *, episode, prev_episode_chunks=None, metrics_logger=None, **kwargs):
        if metrics_logger is None:
            return
        chunks = [*(prev_episode_chunks or []), episode]
        totals: dict[str, float] = {}
        for chunk in chunks:
            for aid, single in chunk.agent_episodes.items():
                totals[aid] = totals.get(aid, 0.0) + float(single.get_return())
        by_personality: dict[str, list[float]] = {}
        for aid, ret in totals.items():
            by_personality.setdefault(personality_of(aid), []).append(ret)
        for p, rets in by_personality.items():
            metrics_logger.log_value(f"return/{p}", sum(rets) / len(rets), reduce="mean")
            metrics_logger.log_value(f"agents/{p}", len(rets), reduce="mean")
        # The world's metrics at the episode's last step: from the infos of the agents of that step.
        try:
            last = episode.get_infos(-1)
        except (IndexError, KeyError, ValueError):
            last = {}
        for info in (last or {}).values():
            if isinstance(info, dict) and "metrics" in info:
                for name, value in info["metrics"].items():
                    metrics_logger.log_value(f"commons/{name}", float(value), reduce="mean")
                break
