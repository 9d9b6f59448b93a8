"""``commons study`` from Python, its cells spread over processes or a Ray cluster.

>>> import commons_rl
>>> s = commons_rl.study.run("studies/exit-tribute.toml", address="10.0.0.5:6379")  # doctest: +SKIP
>>> s.estimates.query("measure == 'token_price'")                                   # doctest: +SKIP

Each cell is the native ``commons study FILE --cell K`` (see :mod:`commons_rl.cells`), so the cells'
folders, their resumption and the report are those of the CLI: a killed run goes on where it stopped
and finished cells are never retrained.
"""

from __future__ import annotations

from pathlib import Path

from . import cells as _cells
from .paths import resolve
from .results import Study, load_study


def default_out(file) -> str:
    """``runs/studies/<file stem>``, the CLI's default study folder."""
    return str(Path("runs") / "studies" / Path(file).stem)


def run(file, out=None, address: str | None = None, jobs: int = 1, threads: int | None = None,
        ray: bool | None = None) -> Study:
    """Trains and evaluates every cell of a study file, then writes and returns its report
    (:func:`commons_rl.load_study`).

    ``address``: a Ray cluster (``HOST:PORT`` of its head, or ``"auto"``), one task per cell; ``ray=True``
    without an address starts a local Ray of ``jobs`` × ``threads`` CPUs. Otherwise the cells run as
    ``jobs`` plain processes at a time. ``threads``: threads per cell (default: 1 on Ray, the cores
    shared out between the jobs otherwise). ``out``: the study folder (default
    ``runs/studies/<file stem>``)."""
    file = resolve(file)
    out = str(out or default_out(file))
    ex = _cells.executor(address=address, ray=ray, jobs=jobs, threads=threads)
    try:
        n = _cells.cell_count(file, out, ex.exe)
        ex.run(_cells.cells_of(file, out, n))
    finally:
        ex.close()
    _cells.finish(file, out, ex.exe)
    return load_study(out)
