"""Running study cells with the native trainer, on this machine or on a Ray cluster.

A cell is one ``commons study FILE --out DIR --cell K`` process: the native binary trains and evaluates
it into the study folder's ``cells/<variant>__seed<S>/``, exactly as a sequential ``commons study``
would. Where it runs changes nothing in what it writes (training does not depend on the thread count),
so the Ray path and the plain path give the same cells, bit for bit.

* :class:`Local` -- plain processes, ``jobs`` at a time (no Ray needed);
* :class:`RayCells` -- one Ray task per cell, each reserving ``threads`` CPUs of a node and running the
  binary with that many threads; on a local Ray (started here) or a cluster (``address``).

The binary is ``COMMONS_RL_BIN`` if set, else ``commons`` on ``PATH``, else the checkout's
``target/release/commons``. Every node of a cluster needs it at the same path (see docs/cluster.md).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from . import _native


class CellError(RuntimeError):
    """A cell's process failed: its command and the last lines it printed."""


def binary() -> str:
    """The native ``commons`` binary: ``COMMONS_RL_BIN``, ``commons`` on ``PATH``, or the checkout's
    ``target/release/commons`` (built by ``cargo build --release``)."""
    env = os.environ.get("COMMONS_RL_BIN")
    if env:
        if not Path(env).is_file():
            raise FileNotFoundError(f"COMMONS_RL_BIN={env}: no such file (the `commons` binary)")
        return str(Path(env).resolve())
    found = shutil.which("commons")
    if found:
        return found
    built = Path(_native.source_root()) / "target" / "release" / "commons"
    if built.is_file():
        return str(built)
    raise FileNotFoundError(
        "no `commons` binary: set COMMONS_RL_BIN, put `commons` on PATH, or run "
        "`cargo build --release` in the checkout"
    )


@dataclass(frozen=True)
class Cell:
    """One cell to run: the study file, its folder and the cell's index."""

    file: str
    out: str
    index: int

    def command(self, exe: str) -> list[str]:
        """The command line that runs it."""
        return [exe, "study", self.file, "--out", self.out, "--cell", str(self.index)]


def _run_cell(cell: Cell, exe: str, threads: int | None) -> str:
    env = dict(os.environ)
    if threads:
        env["RAYON_NUM_THREADS"] = str(threads)
    # The cell is told SIGTERM if this process dies (even by SIGKILL): it saves a checkpoint and stops
    # instead of running on unseen, so a restarted search finds the cell free and resumes it.
    env["COMMONS_RL_PARENT_PID"] = str(os.getpid())
    p = subprocess.run(cell.command(exe), env=env, capture_output=True, text=True)
    if p.returncode != 0:
        tail = "\n".join((p.stderr or p.stdout).strip().splitlines()[-5:])
        raise CellError(f"`{' '.join(cell.command(exe))}` failed (exit {p.returncode}): {tail}")
    return p.stdout


class Local:
    """Cells as plain processes on this machine, ``jobs`` at a time, each with ``threads`` threads
    (default: the machine's cores shared out between the jobs)."""

    def __init__(self, jobs: int = 1, threads: int | None = None, exe: str | None = None):
        if jobs < 1:
            raise ValueError(f"jobs = {jobs}: must be at least 1")
        self.jobs = jobs
        self.threads = threads or max(1, (os.cpu_count() or 1) // jobs)
        self.exe = exe or binary()

    def run(self, cells: Sequence[Cell]) -> list[str]:
        """Runs every cell (at most ``jobs`` at once); raises :class:`CellError` for the first that fails,
        after the others have finished."""
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            futures = [pool.submit(_run_cell, c, self.exe, self.threads) for c in cells]
            return [f.result() for f in futures]

    def describe(self) -> str:
        return f"{self.jobs} local process(es) of {self.threads} thread(s)"

    def close(self) -> None:
        pass


def check_address(address: str, timeout: float = 5.0) -> None:
    """Raises ``ConnectionError`` in one line unless something answers at ``address`` (``host:port``
    of a Ray head, e.g. ``10.0.0.5:6379``; ``auto`` and ``ray://`` addresses are left to Ray)."""
    if address == "auto" or address.startswith("ray://"):
        return
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ConnectionError(f"--address {address}: not HOST:PORT of a Ray head (e.g. 127.0.0.1:6379)")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as e:
        raise ConnectionError(f"--address {address}: no Ray cluster answers there ({e})") from None


class RayCells:
    """Cells as Ray tasks: each reserves ``threads`` CPUs (``num_cpus``) of a node and runs the binary
    with that many threads. ``address=None`` starts a local Ray with ``num_cpus`` CPUs (default: this
    machine's); otherwise joins the cluster at ``address`` (checked first: an address that does not
    answer is a one-line ``ConnectionError``)."""

    def __init__(
        self,
        address: str | None = None,
        threads: int = 1,
        num_cpus: int | None = None,
        exe: str | None = None,
    ):
        try:
            import ray
        except ImportError:
            raise ImportError("Ray is not installed: `pip install 'ray==2.60.0'`, or run without --ray") from None
        if threads < 1:
            raise ValueError(f"threads = {threads}: must be at least 1")
        if address is not None:
            check_address(address)
        self.ray = ray
        self.exe = exe or binary()
        self.threads = threads
        self.started_here = not ray.is_initialized()
        if self.started_here:
            kwargs = dict(include_dashboard=False, log_to_driver=False, configure_logging=False)
            if address is None:
                ray.init(num_cpus=num_cpus, **kwargs)
            else:
                ray.init(address=address, **kwargs)
        self._task = ray.remote(num_cpus=threads, max_retries=0)(_run_cell)

    def run(self, cells: Sequence[Cell]) -> list[str]:
        """Runs every cell as a task; raises :class:`CellError` for a failed one once all are done."""
        refs = [self._task.remote(c, self.exe, self.threads) for c in cells]
        out, first_error = [], None
        for r in refs:
            try:
                out.append(self.ray.get(r))
            except Exception as e:  # a task's CellError arrives wrapped by Ray
                cause = getattr(e, "cause", None) or e
                first_error = first_error or CellError(str(cause).strip().splitlines()[-1])
                out.append("")
        if first_error:
            raise first_error
        return out

    def describe(self) -> str:
        cpus = int(self.ray.cluster_resources().get("CPU", 0))
        nodes = len([n for n in self.ray.nodes() if n.get("Alive")])
        return f"Ray: {nodes} node(s), {cpus} CPUs, {self.threads} per cell"

    def close(self) -> None:
        if self.started_here:
            self.ray.shutdown()


def executor(address: str | None = None, ray: bool | None = None, jobs: int = 1,
             threads: int | None = None):
    """The executor a command asked for: Ray when ``address`` is given or ``ray`` is true (a local Ray
    when no address), else plain processes. ``ray=None`` uses Ray when an address is given."""
    if address is not None or ray:
        return RayCells(address=address, threads=threads or 1,
                        num_cpus=None if address else max(jobs, 1) * (threads or 1))
    return Local(jobs=jobs, threads=threads)


def cells_of(file: str, out: str, count: int) -> Iterable[Cell]:
    """The cells 0..count of a study file and folder."""
    return [Cell(file, out, k) for k in range(count)]


def finish(file: str, out: str, exe: str) -> str:
    """Writes the study's report once all its cells are done (``commons study FILE --out DIR``:
    nothing is retrained); returns what it printed."""
    p = subprocess.run([exe, "study", file, "--out", out], capture_output=True, text=True)
    if p.returncode != 0:
        tail = "\n".join((p.stderr or p.stdout).strip().splitlines()[-5:])
        raise CellError(f"`{exe} study {file} --out {out}` failed (exit {p.returncode}): {tail}")
    return p.stdout


def cell_count(file: str, out: str, exe: str) -> int:
    """How many cells a study file has (from ``commons study --list``; its errors raised in one line)."""
    p = subprocess.run([exe, "study", file, "--out", out, "--list", "--no-estimate"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise ValueError((p.stderr or p.stdout).strip().splitlines()[-1])
    lines = [ln for ln in p.stdout.splitlines() if ln[:5].strip().isdigit()]
    return len(lines)

