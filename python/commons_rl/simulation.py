"""The Monte Carlo of ``commons simulate`` for notebooks (the cadCAD/radCAD workflow, at Rust speed)."""

from __future__ import annotations

from typing import Any, NamedTuple

from . import _native
from .env import overrides
from .paths import resolve


class Simulation(NamedTuple):
    """What :func:`simulate` returns: two pandas DataFrames in long format."""

    #: One row per episode: ``episode``, ``seed``, ``days``, ``speculation_days``, ``multiplier``, every
    #: final outcome metric (docs/run-folder.md), ``score`` (CommonsScore, or missing) and ``error``.
    finals: Any
    #: One row per episode and day (day 0 is the state after the hatch): ``episode``, ``seed``, ``day``
    #: and every metric -- the columns of ``trajectories.csv``.
    trajectories: Any


def simulate(
    env: str = "envs/reference.toml",
    episodes: int = _native.DEFAULT_EPISODES,
    seed: int = 0,
    days: int | None = None,
    rng: str | None = None,
    set: dict[str, Any] | list[str] | None = None,
    trajectories: bool = True,
    ignore_memory_limit: bool = False,
    ignore_time_limit: bool = False,
) -> Simulation:
    """Runs ``episodes`` scripted episodes of the scenario ``env`` (episode ``k`` uses seed
    ``seed + k``) in parallel in Rust, as ``commons simulate`` does, and returns their finals and daily
    trajectories as DataFrames. ``days`` and ``rng`` (``"default"`` or ``"numpy-legacy"``) override the
    scenario's, and ``set`` overrides any parameter by dotted key, e.g. ``{"curve.exit_tribute": 0.3}``;
    all are validated like the file (a :class:`commons_rl.ConfigError` names the key). ``episodes``
    defaults to the CLI's (64). A Monte Carlo that would not fit in memory, or would take more than an
    hour, raises ``ValueError`` with the estimate, as ``commons simulate`` refuses it; pass
    ``ignore_memory_limit=True`` or ``ignore_time_limit=True`` to run it anyway."""
    import pandas as pd

    for name, value, low in (("episodes", episodes, 1), ("seed", seed, 0)):
        if not isinstance(value, int) or value < low:
            raise ValueError(f"{name}={value!r} is out of range (allowed: an int >= {low})")
    if days is not None and (not isinstance(days, int) or days < 1):
        raise ValueError(f"days={days!r} is out of range (allowed: an int >= 1)")
    finals, per_day = _native.simulate(
        resolve(env),
        episodes,
        seed,
        days,
        rng,
        overrides(set),
        trajectories,
        ignore_memory_limit,
        ignore_time_limit,
    )
    return Simulation(pd.DataFrame(finals), pd.DataFrame(per_day))
