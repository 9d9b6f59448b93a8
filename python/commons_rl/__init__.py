"""commons-rl in Python: the Commons as a PettingZoo environment and its Monte-Carlo simulator, at
Rust speed.

* :func:`parallel_env` -- a PettingZoo ``ParallelEnv`` of a Commons scenario (agents arrive and leave);
* :func:`cartpole_env` -- CartPole-v1 through the same API;
* :func:`vector_env` -- N Commons environments stepped in Rust into preallocated arrays (fast path);
* :func:`simulate` -- the Monte Carlo of ``commons simulate``, as pandas DataFrames;
* :func:`load_eval`, :func:`load_study` -- what ``commons eval`` and ``commons study`` wrote, as
  DataFrames;
* :func:`study.run` -- ``commons study`` with its cells spread over processes or a Ray cluster;
* :func:`tune.run` -- ``commons tune``: a design search (Optuna) against retrained agents;
* :class:`ConfigError` -- raised for an invalid scenario, agents file or override (a ``ValueError``).

Scenario and agents files load exactly as in the ``commons`` CLI, with the same one-line errors.
"""

from ._native import ConfigError, VectorEnv, __version__, episode_seed
from .env import CommonsParallelEnv, cartpole_env, parallel_env, vector_env
from .results import Study, load_eval, load_study
from .simulation import Simulation, simulate


def __getattr__(name):
    # commons_rl.study, .tune and .cells load on first use (so `python -m commons_rl.tune` runs the
    # module once, and importing the package stays light).
    if name in ("cells", "study", "tune"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'commons_rl' has no attribute {name!r}")


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
    "study",
    "tune",
    "vector_env",
    "__version__",
]
