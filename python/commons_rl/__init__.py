"""commons-rl in Python: the Commons as a PettingZoo environment and its Monte-Carlo simulator, at
Rust speed.

* :func:`parallel_env` -- a PettingZoo ``ParallelEnv`` of a Commons scenario (agents arrive and leave);
* :func:`cartpole_env` -- CartPole-v1 through the same API;
* :func:`vector_env` -- N Commons environments stepped in Rust into preallocated arrays (fast path);
* :func:`simulate` -- the Monte Carlo of ``commons simulate``, as pandas DataFrames;
* :func:`load_eval`, :func:`load_study` -- what ``commons eval`` and ``commons study`` wrote, as
  DataFrames;
* :class:`ConfigError` -- raised for an invalid scenario, agents file or override (a ``ValueError``).

Scenario and agents files load exactly as in the ``commons`` CLI, with the same one-line errors.
"""

from ._native import ConfigError, VectorEnv, __version__, episode_seed
from .env import CommonsParallelEnv, cartpole_env, parallel_env, vector_env
from .results import Study, load_eval, load_study
from .simulation import Simulation, simulate

__all__ = [
    "CommonsParallelEnv",
    "ConfigError",
    "Simulation",
    "Study",
    "VectorEnv",
    "cartpole_env",
    "episode_seed",
    "load_eval",
    "load_study",
    "parallel_env",
    "simulate",
    "vector_env",
    "__version__",
]
