"""``commons tune``: a search over mechanism parameters against agents retrained under each setting.

A tune file is a study file's ``[study]`` table (base files, training seeds, steps, evaluation episodes,
checks) plus the search: parameter ranges, one objective (a weighted sum of measures) or several (a
Pareto front), optional constraints. Each trial is an ordinary study (one variant: the trial's
parameters, over the file's training seeds) that the native trainer trains and evaluates, on this
machine or on Ray (:mod:`commons_rl.cells`). Optuna proposes the settings (TPE, its multi-objective
form for fronts, or random search); its journal (``TUNE/optuna.journal``) makes a killed search go on
where it stopped, and a trial's folder is named by its parameters, so a finished cell is never
retrained. The recommended settings are re-evaluated on fresh held-out seeds and checked against fixed
strategies (and learned deviations when the study asks for them) before they are recommended.

File format and outputs: docs/tune.md. From a notebook: :func:`run`; from a shell: ``commons tune FILE``
(or ``python -m commons_rl.tune FILE``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tomllib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _native
from . import cells as _cells

#: Optimisation directions an objective may name.
DIRECTIONS = ("maximize", "minimize")
#: Parameter kinds of a range.
KINDS = ("float", "int", "log")
#: Samplers a tune file may name.
SAMPLERS = ("tpe", "random")
#: Run-level checks a constraint may name, with the file each comes from and the study key it needs.
CHECKS = {
    "best_response.beaten": ("best_response.json", "against_fixed"),
    "learned_response.exploitable": ("learned_response.json", "against_learned"),
}
_OPS = (">=", "<=", "==", ">", "<")
_TRIAL_VARIANT = "trial"


class TuneError(ValueError):
    """A tune file or folder that cannot be used; the message is one line naming the file and field."""


# ----------------------------------------------------------------------------------------------------
# The tune file


@dataclass(frozen=True)
class Param:
    """One searched parameter: a scenario or training key and its range."""

    key: str
    kind: str  # "float" | "int" | "log" | "choice"
    low: float | None = None
    high: float | None = None
    choices: tuple = ()

    def suggest(self, trial) -> Any:
        """The trial's value (Optuna's ``suggest_*``)."""
        if self.kind == "choice":
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high))
        return trial.suggest_float(self.key, self.low, self.high, log=self.kind == "log")

    def corners(self) -> list:
        """The values at the range's ends (or every choice): what validation tries."""
        if self.kind == "choice":
            return list(self.choices)
        if self.kind == "int":
            return [int(self.low), int(self.high)]
        return [float(self.low), float(self.high)]


@dataclass(frozen=True)
class Measure:
    """A name of a tune file: an outcome metric (``token_price``), a personality's measure
    (``altruist.impact``), or, in constraints, a run-level check (``best_response.beaten``)."""

    name: str
    personality: str | None  # None: an outcome metric or a check
    measure: str
    check: bool = False


@dataclass(frozen=True)
class Objective:
    """A weighted sum of measures, to maximise or minimise."""

    name: str
    direction: str
    terms: tuple  # ((Measure, weight), ...)


@dataclass(frozen=True)
class Constraint:
    """``measure op value``, on the trial's mean over training seeds (or, for a check, on every cell)."""

    text: str
    measure: Measure
    op: str
    value: float

    def violation(self, x: float) -> float:
        """Optuna's constraint value: <= 0 when met."""
        if self.op in (">=", ">"):
            return self.value - x
        if self.op in ("<=", "<"):
            return x - self.value
        return abs(x - self.value)

    def met(self, x: float) -> bool:
        return {">=": x >= self.value, ">": x > self.value, "<=": x <= self.value,
                "<": x < self.value, "==": x == self.value}[self.op]


@dataclass
class TuneFile:
    """A parsed, validated tune file."""

    path: str
    text: str
    study: dict  # the [study] table, paths made absolute
    params: list[Param]
    objectives: list[Objective]
    constraints: list[Constraint]
    trials: int
    seed: int
    sampler: str
    startup_trials: int
    recommend: int
    recheck_episodes: int
    recheck_seed: int
    parallel: int | None
    personalities: list[str] = field(default_factory=list)

    @property
    def seeds(self) -> list[int]:
        return list(self.study["seeds"])


def _err(path, where: str, what: str) -> TuneError:
    return TuneError(f"{path}: {where}: {what}")


def _measure(path, where: str, name: str, personalities: list[str], allow_checks: bool) -> Measure:
    if not isinstance(name, str) or not name:
        raise _err(path, where, f"{name!r} is not a measure name")
    if name in CHECKS:
        if not allow_checks:
            raise _err(path, where, f"`{name}` is a check, allowed in constraints only")
        return Measure(name, None, name, check=True)
    metrics = _native.outcome_metrics()
    if "." not in name:
        if name in metrics:
            return Measure(name, None, name)
        raise _err(path, where, f"unknown measure `{name}`: an outcome metric ({', '.join(metrics)}), "
                   f"`<personality>.<measure>` or, in constraints, {', '.join(CHECKS)}")
    who, _, what = name.partition(".")
    measures = _native.personality_measures()
    if who not in personalities:
        raise _err(path, where, f"unknown personality `{who}` in `{name}`: the population's learned "
                   f"personalities are {', '.join(personalities) or 'none'}")
    if what not in measures:
        raise _err(path, where, f"unknown measure `{what}` in `{name}`: one of {', '.join(measures)}")
    return Measure(name, who, what)


def _number(path, where: str, v) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise _err(path, where, f"{v!r} is not a finite number")
    return float(v)


def _int(path, where: str, v, lo: int, hi: int | None = None) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < lo or (hi is not None and v > hi):
        allowed = f"an integer from {lo}" + (f" to {hi}" if hi is not None else "")
        raise _err(path, where, f"{v!r} is not allowed ({allowed})")
    return v


def _param(path, key: str, spec) -> Param:
    where = f'params."{key}"'
    if not isinstance(spec, dict):
        raise _err(path, where, "expected a table: { low = ..., high = ... [, type = \"int\"|\"log\"] } "
                   "or { choices = [...] }")
    unknown = set(spec) - {"low", "high", "type", "choices"}
    if unknown:
        raise _err(path, where, f"unknown field `{sorted(unknown)[0]}` (low, high, type, choices)")
    if "choices" in spec:
        if set(spec) - {"choices"}:
            raise _err(path, where, "choices cannot be combined with low/high/type")
        ch = spec["choices"]
        if not isinstance(ch, list) or not ch:
            raise _err(path, where + ".choices", "an empty range: give at least one choice")
        if len(set(map(repr, ch))) != len(ch):
            raise _err(path, where + ".choices", "a choice is listed twice")
        if any(isinstance(c, (list, dict)) for c in ch):
            raise _err(path, where + ".choices", "choices are numbers, strings or booleans")
        return Param(key, "choice", choices=tuple(ch))
    kind = spec.get("type", "float")
    if kind not in KINDS:
        raise _err(path, where + ".type", f"{kind!r} is not one of {', '.join(KINDS)}")
    for end in ("low", "high"):
        if end not in spec:
            raise _err(path, where, f"missing `{end}`")
    low = _number(path, where + ".low", spec["low"])
    high = _number(path, where + ".high", spec["high"])
    if not low < high:
        raise _err(path, where, f"an empty range: low = {spec['low']} must be below high = {spec['high']}")
    if kind == "int" and not (float(low).is_integer() and float(high).is_integer()):
        raise _err(path, where, "an int range needs integer low and high")
    if kind == "log" and low <= 0:
        raise _err(path, where + ".low", f"{spec['low']}: a log range must lie above 0")
    return Param(key, kind, low, high)


def _objective(path, k: int, spec, personalities) -> Objective:
    where = f"objective[{k}]"
    if not isinstance(spec, dict):
        raise _err(path, where, "expected a table { name, direction, terms }")
    unknown = set(spec) - {"name", "direction", "terms"}
    if unknown:
        raise _err(path, where, f"unknown field `{sorted(unknown)[0]}` (name, direction, terms)")
    direction = spec.get("direction", "maximize")
    if direction not in DIRECTIONS:
        raise _err(path, where + ".direction", f"{direction!r} is not one of {', '.join(DIRECTIONS)}")
    terms = spec.get("terms")
    if not isinstance(terms, dict) or not terms:
        raise _err(path, where + ".terms", "give at least one `measure = weight`")
    parsed = []
    for name, w in terms.items():
        m = _measure(path, f"{where}.terms", name, personalities, allow_checks=False)
        weight = _number(path, f'{where}.terms."{name}"', w)
        if weight == 0:
            raise _err(path, f'{where}.terms."{name}"', "a weight of 0: leave the term out")
        parsed.append((m, weight))
    name = spec.get("name") or " + ".join(f"{w:g}·{m.name}" for m, w in parsed)
    return Objective(str(name), direction, tuple(parsed))


def _constraint(path, k: int, text, personalities, study) -> Constraint:
    where = f"tune.constraints[{k}]"
    if not isinstance(text, str):
        raise _err(path, where, f"{text!r}: expected a string such as \"token_price >= 0.05\"")
    m = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(>=|<=|==|>|<)\s*(\S+)\s*", text)
    if not m:
        raise _err(path, where, f"{text!r}: expected `<measure> <op> <value>` with op one of "
                   f"{' '.join(_OPS)}")
    name, op, raw = m.groups()
    meas = _measure(path, where, name, personalities, allow_checks=True)
    if meas.check:
        file, key = CHECKS[name]
        if raw not in ("false", "true") or op != "==":
            raise _err(path, where, f"{text!r}: a check is `{name} == false` (or `== true`)")
        if not study.get(key):
            raise _err(path, where, f"{text!r} needs `{key} = true` in [study] (the cells' {file})")
        return Constraint(text, meas, op, 1.0 if raw == "true" else 0.0)
    try:
        value = float(raw)
    except ValueError:
        raise _err(path, where, f"{text!r}: {raw!r} is not a number") from None
    return Constraint(text, meas, op, value)


def _absolute(study: dict) -> dict:
    out = dict(study)
    for key in ("env", "agents"):
        if isinstance(out.get(key), str):
            out[key] = str(Path(_resolve(out[key])).resolve())
    if isinstance(out.get("against_fixed"), str):
        out["against_fixed"] = str(Path(out["against_fixed"]).resolve())
    return out


def _resolve(p: str) -> str:
    from .paths import resolve
    return resolve(p)


def load(path, exe: str | None = None) -> TuneFile:
    """Reads and validates a tune file: every name against the metrics table and the population's
    personalities, every range, and (with the native binary) every parameter key and both ends of its
    range exactly as ``commons study`` would. Raises :class:`TuneError` in one line."""
    path = str(path)
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise TuneError(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise TuneError(f"{path}: not valid TOML: {e}") from None
    unknown = set(data) - {"study", "tune", "params", "objective"}
    if unknown:
        raise _err(path, sorted(unknown)[0], "unknown table (study, tune, params, objective)")
    study = data.get("study")
    if not isinstance(study, dict):
        raise _err(path, "study", "missing: the [study] table of a study file (env, agents, seeds, ...)")
    seeds = study.get("seeds")
    if not isinstance(seeds, list) or len(seeds) < 2:
        raise _err(path, "study.seeds", "a tune needs at least 2 training seeds (its intervals are over "
                   "training seeds)")
    for key in ("env", "agents"):
        if not isinstance(study.get(key), str):
            raise _err(path, f"study.{key}", "missing: a path, as in a study file")
    study = _absolute(study)
    try:
        probe = _native.Env(study["env"], study["agents"])
        personalities = list(probe.policies())
    except Exception as e:  # ConfigError or a missing file: already one line naming its file
        raise TuneError(f"{path}: study: {e}") from None
    tune = data.get("tune", {})
    if not isinstance(tune, dict):
        raise _err(path, "tune", "expected a table")
    allowed = {"trials", "seed", "sampler", "startup_trials", "recommend", "recheck_episodes",
               "recheck_seed", "constraints", "parallel"}
    unknown = set(tune) - allowed
    if unknown:
        raise _err(path, f"tune.{sorted(unknown)[0]}", f"unknown field ({', '.join(sorted(allowed))})")
    params_t = data.get("params")
    if not isinstance(params_t, dict) or not params_t:
        raise _err(path, "params", "missing: at least one `[params.\"<key>\"]` range")
    params = [_param(path, k, v) for k, v in params_t.items()]
    objs = data.get("objective")
    if not isinstance(objs, list) or not objs:
        raise _err(path, "objective", "missing: at least one [[objective]] with terms")
    objectives = [_objective(path, k, o, personalities) for k, o in enumerate(objs)]
    names = [o.name for o in objectives]
    if len(set(names)) != len(names):
        raise _err(path, "objective", "two objectives have the same name")
    cons = tune.get("constraints", [])
    if not isinstance(cons, list):
        raise _err(path, "tune.constraints", "expected a list of strings")
    constraints = [_constraint(path, k, c, personalities, study) for k, c in enumerate(cons)]
    sampler = tune.get("sampler", "tpe")
    if sampler not in SAMPLERS:
        raise _err(path, "tune.sampler", f"{sampler!r} is not one of {', '.join(SAMPLERS)}")
    trials = _int(path, "tune.trials", tune.get("trials", 20), 1, 10_000)
    episodes = study.get("eval_episodes", 128)
    tf = TuneFile(
        path=path, text=text, study=study, params=params, objectives=objectives,
        constraints=constraints, trials=trials,
        seed=_int(path, "tune.seed", tune.get("seed", 1), 0),
        sampler=sampler,
        startup_trials=_int(path, "tune.startup_trials",
                            tune.get("startup_trials", max(2, min(10, trials // 3))), 1),
        recommend=_int(path, "tune.recommend", tune.get("recommend", 3), 0, 100),
        recheck_episodes=_int(path, "tune.recheck_episodes", tune.get("recheck_episodes", episodes),
                              2, 100_000),
        recheck_seed=_int(path, "tune.recheck_seed", tune.get("recheck_seed", 5_000_000), 0),
        parallel=(_int(path, "tune.parallel", tune["parallel"], 1, 1000) if "parallel" in tune
                  else None),
        personalities=personalities,
    )
    _check_with_binary(tf, exe)
    return tf


def _check_with_binary(tf: TuneFile, exe: str | None) -> None:
    """Both ends of every range through ``commons study --list``: unknown keys and values out of the
    parameter's allowed range fail here, before anything trains."""
    try:
        exe = exe or _cells.binary()
    except FileNotFoundError:
        return  # validated again by the first trial
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        for p in tf.params:
            for v in p.corners():
                f = Path(d) / "probe.toml"
                f.write_text(study_text(tf, {p.key: v}))
                r = subprocess.run([exe, "study", str(f), "--out", str(Path(d) / "out"), "--list",
                                    "--no-estimate"], capture_output=True, text=True)
                if r.returncode != 0:
                    line = (r.stderr or r.stdout).strip().splitlines()[-1]
                    line = line.split("variant[0].set: ", 1)[-1]
                    raise _err(tf.path, f'params."{p.key}"', f"at {v!r}: {line}")


# ----------------------------------------------------------------------------------------------------
# Trials as studies


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else ("inf" if v > 0 else "-inf") if not math.isnan(v) else "nan"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {v!r} as TOML")


def study_text(tf: TuneFile, params: dict) -> str:
    """The study file of a trial: the tune file's [study] table and one variant, the trial's values."""
    lines = [f"# written by commons tune from {tf.path}: one trial", "[study]"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in tf.study.items()]
    lines += ["", "[[variant]]", f'name = "{_TRIAL_VARIANT}"', f"set = {_toml_value(dict(params))}", ""]
    return "\n".join(lines)


def trial_key(params: dict) -> str:
    """A trial folder's name: a digest of its parameters, so the same setting always lands in the same
    folder (a re-run trial reuses its finished cells)."""
    blob = json.dumps(sorted(params.items()), sort_keys=True, default=repr)
    return "trial-" + hashlib.sha256(blob.encode()).hexdigest()[:10]


def _cell_dirs(folder: Path, seeds) -> list[Path]:
    return [folder / "cells" / f"{_TRIAL_VARIANT}__seed{s}" for s in seeds]


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise TuneError(f"{path}: cannot read: {e}") from None


def _mean(xs) -> float | None:
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def cell_values(run: Path, tf: TuneFile, eval_name: str = "eval.json") -> dict:
    """One cell's (training seed's) measures: each named measure's mean over its evaluation episodes
    (trained side), and each check (true when any personality is beaten / exploitable)."""
    ev = _read_json(run / eval_name)
    trained = (ev.get("samples") or {}).get("trained") or {}
    out: dict[str, float | None] = {}
    for m in _all_measures(tf):
        if m.check:
            file = run / CHECKS[m.name][0]
            data = _read_json(file)
            if m.name == "best_response.beaten":
                flag = any(p.get("beaten") for p in (data.get("personalities") or {}).values())
            else:
                flag = any(d.get("exploitable") for d in data.get("deviations") or [])
            out[m.name] = 1.0 if flag else 0.0
        elif m.personality is None:
            out[m.name] = _mean((trained.get("outcomes") or {}).get(m.measure) or [])
        else:
            out[m.name] = _mean(((trained.get("personalities") or {}).get(m.personality) or {})
                                .get(m.measure) or [])
    return out


def _all_measures(tf: TuneFile) -> list[Measure]:
    seen, out = set(), []
    for m in [m for o in tf.objectives for m, _ in o.terms] + [c.measure for c in tf.constraints]:
        if m.name not in seen:
            seen.add(m.name)
            out.append(m)
    return out


# Student's t, two-sided 95 %, by degrees of freedom (1..30); above, the normal 1.96 is close enough.
_T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042]


def interval(values: list[float]) -> dict:
    """Mean and 95 % t-interval over training seeds (each seed's value already a mean over its
    episodes, so the interval holds both sources of variation)."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return {"mean": mean, "lo": None, "hi": None, "seeds": n}
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    t = _T95[n - 2] if n - 1 <= len(_T95) else 1.96
    half = t * sd / math.sqrt(n)
    return {"mean": mean, "lo": mean - half, "hi": mean + half, "seeds": n}


def score(tf: TuneFile, per_cell: list[dict]) -> dict:
    """A trial's numbers from its cells' values: per objective and measure the mean and interval over
    training seeds; per constraint whether it is met; ``feasible``."""
    out = {"objectives": {}, "measures": {}, "constraints": []}
    for o in tf.objectives:
        vals = []
        for c in per_cell:
            parts = [c.get(m.name) for m, _ in o.terms]
            if any(p is None for p in parts):
                continue  # a seed where a personality had no agent: left out
            vals.append(sum(w * p for (_, w), p in zip(o.terms, parts)))
        out["objectives"][o.name] = interval(vals) if vals else None
    for m in _all_measures(tf):
        vals = [c[m.name] for c in per_cell if c.get(m.name) is not None]
        if m.check:
            out["measures"][m.name] = {"mean": max(vals) if vals else None, "cells": len(vals)}
        else:
            out["measures"][m.name] = interval(vals) if vals else None
    feasible = True
    for c in tf.constraints:
        e = out["measures"].get(c.measure.name)
        x = e["mean"] if e else None
        met = x is not None and c.met(x)
        feasible &= met
        out["constraints"].append({"constraint": c.text, "value": x, "met": met,
                                   "violation": (c.violation(x) if x is not None else 1.0)})
    out["feasible"] = feasible
    out["complete"] = all(out["objectives"][o.name] is not None for o in tf.objectives)
    return out


# ----------------------------------------------------------------------------------------------------
# The search


class Search:
    """A tune folder: the tune file's copy, Optuna's journal, the trials' study folders, the report."""

    def __init__(self, tf: TuneFile, out: Path, executor, log=print):
        self.tf, self.out, self.ex, self.log = tf, Path(out), executor, log
        self.out.mkdir(parents=True, exist_ok=True)
        copy = self.out / "tune.toml"
        if copy.exists() and copy.read_text() != tf.text:
            raise TuneError(f"{self.out}: a tune folder of another tune file (its tune.toml differs from "
                            f"{tf.path}): give another --out, or restore the file")
        if not copy.exists():
            _write_atomic(copy, tf.text)
        self._lock()

    def _lock(self) -> None:
        lock = self.out / "tune.lock"
        if lock.exists():
            try:
                pid = int(lock.read_text().strip())
                os.kill(pid, 0)
                if pid != os.getpid():
                    raise TuneError(f"{self.out}: in use by process {pid} (another `commons tune`)")
            except (ValueError, ProcessLookupError, PermissionError):
                pass
        _write_atomic(lock, str(os.getpid()))
        self.lockfile = lock

    def close(self) -> None:
        try:
            self.lockfile.unlink()
        except OSError:
            pass

    def optuna_study(self):
        import optuna
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        storage = JournalStorage(JournalFileBackend(str(self.out / "optuna.journal")))
        tf = self.tf

        # Constraints reach TPE through each trial's `set_constraint` values (<= 0: met), set before
        # the trial is told.
        if tf.sampler == "random":
            sampler = optuna.samplers.RandomSampler(seed=tf.seed)
        else:
            sampler = optuna.samplers.TPESampler(seed=tf.seed, n_startup_trials=tf.startup_trials,
                                                 multivariate=True)
        return optuna.create_study(
            study_name="tune", storage=storage, sampler=sampler, load_if_exists=True,
            directions=[o.direction for o in tf.objectives],
        )

    def trial_folder(self, params: dict) -> Path:
        """A trial's study folder, ``trials/<key>/`` (its study file beside it: ``trials/<key>.toml``)."""
        return self.out / "trials" / trial_key(params)

    def run_trials(self, batch: list) -> list[dict]:
        """Trains and evaluates a batch of Optuna trials (all their cells at once on the executor)."""
        cells = []
        for t in batch:
            folder = self.trial_folder(t.params)
            folder.parent.mkdir(parents=True, exist_ok=True)
            f = folder.with_suffix(".toml")
            text = study_text(self.tf, t.params)
            if not f.exists() or f.read_text() != text:
                _write_atomic(f, text)
            cells += _cells.cells_of(str(f), str(folder), len(self.tf.seeds))
        self.ex.run(cells)
        results = []
        for t in batch:
            folder = self.trial_folder(t.params)
            _cells.finish(str(folder.with_suffix(".toml")), str(folder), self.ex.exe)
            per_cell = [cell_values(d, self.tf) for d in _cell_dirs(folder, self.tf.seeds)]
            results.append(score(self.tf, per_cell) | {"per_cell": per_cell})
        return results

    def search(self, trials: int | None = None, batch: int = 1) -> Any:
        """Runs trials until ``trials`` (default: the file's) have completed; returns the Optuna study."""
        import optuna

        target = trials or self.tf.trials
        study = self.optuna_study()
        # Trials a killed search left running: failed, and asked again with the same parameters (the
        # same folder: their finished cells are kept, a half-trained one resumes).
        for t in study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.RUNNING]):
            study.tell(t.number, state=optuna.trial.TrialState.FAIL)
            study.enqueue_trial(t.params, skip_if_exists=False)
            self.log(f"tune: trial {t.number} was cut off; asked again with the same parameters")
        failed = 0
        while True:
            done = len(study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.COMPLETE]))
            if done >= target:
                break
            k = min(batch, target - done)
            asked = [study.ask() for _ in range(k)]
            params_of = {t.number: {p.key: p.suggest(t) for p in self.tf.params} for t in asked}
            self.log(f"tune: trial(s) {', '.join(str(t.number) for t in asked)} of {target}: " + "; ".join(
                ", ".join(f"{k}={_fmt(v)}" for k, v in params_of[t.number].items()) for t in asked))
            results = self.run_trials(asked)
            for t, r in zip(asked, results):
                t.set_user_attr("folder", str(self.trial_folder(params_of[t.number]).relative_to(self.out)))
                t.set_user_attr("score", {k: v for k, v in r.items() if k != "per_cell"})
                for c, v in zip(self.tf.constraints, r["constraints"]):
                    t.set_constraint(c.text, v["violation"])
                if not r["complete"]:
                    study.tell(t, state=optuna.trial.TrialState.FAIL)
                    failed += 1
                    if failed > max(3, target):
                        raise TuneError(f"{self.tf.path}: objective: {failed} trials gave no value "
                                        "for an objective (its personality had no agent in any "
                                        "seed): check the objective's personalities")
                    self.log(f"tune: trial {t.number}: an objective had no value in any seed (a "
                             "personality with no agent); not counted")
                    continue
                values = [r["objectives"][o.name]["mean"] for o in self.tf.objectives]
                study.tell(t, values)
                self.log(f"tune: trial {t.number}: " + ", ".join(
                    f"{o.name} {_est(r['objectives'][o.name])}" for o in self.tf.objectives)
                    + ("" if r["feasible"] else "  (violates a constraint)"))
        return study


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _est(e) -> str:
    if not e:
        return "–"
    if e.get("lo") is None:
        return f"{e['mean']:.4g}"
    return f"{e['mean']:.4g} [{e['lo']:.4g}, {e['hi']:.4g}]"


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


# ----------------------------------------------------------------------------------------------------
# Choosing, re-checking and reporting


def completed(study) -> list:
    import optuna
    return [t for t in study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.COMPLETE])]


def pareto(tf: TuneFile, trials: list) -> list:
    """The feasible trials no other feasible trial beats in every objective (by means)."""
    def better_eq(a, b):
        return all((x >= y) if o.direction == "maximize" else (x <= y)
                   for o, x, y in zip(tf.objectives, a.values, b.values))
    feas = [t for t in trials if t.user_attrs["score"]["feasible"]]
    front = [t for t in feas
             if not any(better_eq(u, t) and u.values != t.values for u in feas if u is not t)]
    key = tf.objectives[0]
    return sorted(front, key=lambda t: t.values[0], reverse=key.direction == "maximize")


def recheck(search: Search, trial) -> dict:
    """Re-evaluates a trial's cells on fresh held-out seeds (the file's recheck_seed, recheck_episodes),
    with the fixed check (and the learned one when the study has it), in copies of the cells so the
    trial's own files stay as they were. Returns its score there and whether it is recommended."""
    tf = search.tf
    folder = search.out / trial.user_attrs["folder"]
    per_cell = []
    for run in _cell_dirs(folder, tf.seeds):
        copy = search.out / "recheck" / folder.name / run.name
        if not (copy / "eval.json").exists():
            if copy.exists():
                shutil.rmtree(copy)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(run, copy, ignore=shutil.ignore_patterns(
                "eval.json", "best_response.json", "learned_response.json", "deviations", "*.lock",
                "lock", "compare.svg"))
            cmd = [search.ex.exe, "eval", str(copy), "--episodes", str(tf.recheck_episodes),
                   "--seed", str(tf.recheck_seed)]
            against = tf.study.get("against_fixed", True)
            cmd.append("--against-fixed" if against in (True, None) else f"--against-fixed={against}")
            if tf.study.get("check_episodes"):
                cmd += ["--check-episodes", str(min(tf.study["check_episodes"], tf.recheck_episodes))]
            if tf.study.get("against_learned"):
                cmd.append("--against-learned")
            # Told SIGTERM if the search dies, like the cells (commons_rl.cells).
            env = {**os.environ, "COMMONS_RL_PARENT_PID": str(os.getpid())}
            p = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if p.returncode != 0:
                tail = (p.stderr or p.stdout).strip().splitlines()[-1:]
                raise _cells.CellError(f"`{' '.join(cmd)}` failed: {' '.join(tail)}")
        per_cell.append((copy, cell_values(copy, tf)))
    values = [v for _, v in per_cell]
    s = score(tf, values)
    beaten = [str(c) for c, _ in per_cell if _flag(c / "best_response.json", "beaten")]
    exploit = [str(c) for c, _ in per_cell if _flag(c / "learned_response.json", "exploitable")]
    s["beaten_cells"] = beaten
    s["exploitable_cells"] = exploit
    s["recommended"] = s["feasible"] and not beaten and not exploit
    return s


def _flag(path: Path, key: str) -> bool:
    if not path.exists():
        return False
    data = _read_json(path)
    if key == "beaten":
        return any(p.get("beaten") for p in (data.get("personalities") or {}).values())
    return any(d.get("exploitable") for d in data.get("deviations") or [])


def report(search: Search, study) -> dict:
    """Chooses the best settings (or the front), re-checks them, and writes tune.json, report.md and
    charts/; returns tune.json's content."""
    tf = search.tf
    trials = completed(study)
    front = pareto(tf, trials)
    chosen = front[: tf.recommend] if tf.recommend else []
    rechecks = {}
    for t in chosen:
        search.log(f"tune: re-checking trial {t.number} on {tf.recheck_episodes} fresh held-out "
                   f"episodes (seed {tf.recheck_seed}) against fixed strategies")
        rechecks[t.number] = recheck(search, t)
    importance = {}
    if len(trials) >= 2 and len(tf.params) >= 1:
        import optuna
        for i, o in enumerate(tf.objectives):
            try:
                importance[o.name] = optuna.importance.get_param_importances(
                    study, target=lambda t, i=i: t.values[i],
                    evaluator=optuna.importance.FanovaImportanceEvaluator(seed=tf.seed))
            except ImportError:
                importance[o.name] = {"_unavailable": "fANOVA needs scikit-learn: "
                                      "`pip install scikit-learn` (or the package's [tune] extra)"}
            except Exception as e:  # too few distinct trials: say so rather than fail the report
                importance[o.name] = {"_unavailable": str(e).splitlines()[0]}
    rows = []
    for t in sorted(trials, key=lambda t: t.number):
        rows.append({"number": t.number, "params": {p.key: t.params.get(p.key) for p in tf.params},
                     "folder": t.user_attrs.get("folder"), **t.user_attrs["score"]})
    data = {
        "file": tf.path, "seeds": tf.seeds, "trials": rows,
        "objectives": [{"name": o.name, "direction": o.direction,
                        "terms": {m.name: w for m, w in o.terms}} for o in tf.objectives],
        "constraints": [c.text for c in tf.constraints],
        "front": [t.number for t in front],
        "no_feasible_trial": bool(trials) and not front,
        "rechecks": {str(k): v for k, v in rechecks.items()},
        "recommended": [k for k, v in rechecks.items() if v["recommended"]],
        "importance": importance,
        "provenance": _provenance(search.out, trials),
    }
    charts = _charts(search.out, tf, trials)
    _write_atomic(search.out / "tune.json", json.dumps(data, indent=1, default=float))
    _write_atomic(search.out / "report.md", _markdown(tf, data, charts))
    return data


def _provenance(out: Path, trials) -> dict:
    seen = {}
    for t in trials:
        f = out / t.user_attrs["folder"] / "study.json"
        if f.exists():
            p = (_read_json(f).get("provenance") or {})
            seen[json.dumps(p, sort_keys=True)] = p
    vals = list(seen.values())
    return {"cells": vals[0] if len(vals) == 1 else vals, "mixed": len(vals) > 1}


def _charts(out: Path, tf: TuneFile, trials) -> list[str]:
    d = out / "charts"
    d.mkdir(exist_ok=True)
    written = []
    for oi, o in enumerate(tf.objectives):
        for p in tf.params:
            pts = []
            for t in trials:
                e = t.user_attrs["score"]["objectives"][o.name]
                pts.append((t.params[p.key], e["mean"], e["lo"], e["hi"], t.user_attrs["score"]["feasible"]))
            name = f"objective{oi}-{re.sub(r'[^A-Za-z0-9_.-]', '_', p.key)}.svg"
            _write_atomic(d / name, _svg(p, o, pts))
            written.append(f"charts/{name}")
    return written


def _svg(p: Param, o: Objective, pts) -> str:
    W, H, L, R, T, B = 560, 340, 70, 20, 30, 50
    if p.kind == "choice":
        cats = list(p.choices)
        xs = [cats.index(x) for x, *_ in pts]
        x0, x1 = -0.5, len(cats) - 0.5
    else:
        xs = [math.log10(x) if p.kind == "log" else float(x) for x, *_ in pts]
        lo_, hi_ = (math.log10(p.low), math.log10(p.high)) if p.kind == "log" else (p.low, p.high)
        x0, x1 = lo_, hi_
    ys = [v for _, m, lo, hi, _ in pts for v in (m, lo, hi) if v is not None]
    y0, y1 = (min(ys), max(ys)) if ys else (0.0, 1.0)
    if y1 - y0 < 1e-12:
        y0, y1 = y0 - 1, y1 + 1
    pad = 0.05 * (y1 - y0)
    y0, y1 = y0 - pad, y1 + pad

    def X(v):
        return L + (v - x0) / (x1 - x0) * (W - L - R)

    def Y(v):
        return H - B - (v - y0) / (y1 - y0) * (H - T - B)

    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" '
         f'font-size="12"><rect width="100%" height="100%" fill="white"/>',
         f'<text x="{W / 2}" y="18" text-anchor="middle">{_esc(o.name)} ({o.direction}) against '
         f'{_esc(p.key)}: trial means, 95 % intervals over training seeds</text>',
         f'<line x1="{L}" y1="{H - B}" x2="{W - R}" y2="{H - B}" stroke="black"/>',
         f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H - B}" stroke="black"/>']
    for k in range(5):
        yv = y0 + k * (y1 - y0) / 4
        s.append(f'<text x="{L - 6}" y="{Y(yv) + 4:.1f}" text-anchor="end">{yv:.3g}</text>')
        if p.kind == "choice":
            continue
        xv = x0 + k * (x1 - x0) / 4
        label = 10 ** xv if p.kind == "log" else xv
        s.append(f'<text x="{X(xv):.1f}" y="{H - B + 16}" text-anchor="middle">{label:.3g}</text>')
    if p.kind == "choice":
        for i, c in enumerate(p.choices):
            s.append(f'<text x="{X(i):.1f}" y="{H - B + 16}" text-anchor="middle">{_esc(str(c))}</text>')
    s.append(f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle">{_esc(p.key)}'
             f'{" (log scale)" if p.kind == "log" else ""}</text>')
    for x, (_, m, lo, hi, feas) in zip(xs, pts):
        colour = "#1f77b4" if feas else "#bbbbbb"
        if lo is not None:
            s.append(f'<line x1="{X(x):.1f}" y1="{Y(lo):.1f}" x2="{X(x):.1f}" y2="{Y(hi):.1f}" '
                     f'stroke="{colour}"/>')
        s.append(f'<circle cx="{X(x):.1f}" cy="{Y(m):.1f}" r="4" fill="{colour}"/>')
    s.append(f'<text x="{W - R}" y="{T + 12}" text-anchor="end" fill="#888">grey: violates a '
             f'constraint</text></svg>')
    return "\n".join(s)


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _markdown(tf: TuneFile, data: dict, charts: list[str]) -> str:
    objs = tf.objectives
    L = [f"# Tune report: {tf.path}", "",
         f"{len(data['trials'])} completed trials; each trained on seeds {tf.seeds} and evaluated on the "
         f"study's held-out seeds. Intervals: 95 %, over training seeds (each seed's value a mean over "
         f"its evaluation episodes).", ""]
    L.append("Objectives: " + "; ".join(
        f"**{o.name}** ({o.direction}: " + " + ".join(f"{w:g} × {m.name}" for m, w in o.terms) + ")"
        for o in objs))
    if tf.constraints:
        L.append("Constraints: " + ", ".join(f"`{c.text}`" for c in tf.constraints))
    L.append("")
    by_num = {r["number"]: r for r in data["trials"]}
    if data["no_feasible_trial"]:
        L += ["**No trial met the constraints**: nothing is recommended. Constraint values per trial are "
              "in the table below; widen the ranges or relax the constraints.", ""]
    title = "Pareto front" if len(objs) > 1 else "Best setting"
    if data["front"]:
        L += [f"## {title}", ""]
        L.append("| trial | " + " | ".join(p.key for p in tf.params) + " | "
                 + " | ".join(o.name for o in objs) + " | fresh seeds | recommended |")
        L.append("|" + "---|" * (2 + len(tf.params) + len(objs) + 1))
        for n in data["front"]:
            r = by_num[n]
            rc = data["rechecks"].get(str(n))
            fresh = "; ".join(f"{_est(rc['objectives'][o.name])}" for o in objs) if rc else "not re-checked"
            rec = ("yes" if rc["recommended"] else
                   "no: " + ", ".join(filter(None, [
                       "beaten by a fixed strategy" if rc["beaten_cells"] else "",
                       "exploitable by a learned deviation" if rc["exploitable_cells"] else "",
                       "violates a constraint on fresh seeds" if not rc["feasible"] else ""]))) if rc else "–"
            L.append(f"| {n} | " + " | ".join(_fmt(r["params"][p.key]) for p in tf.params) + " | "
                     + " | ".join(_est(r["objectives"][o.name]) for o in objs) + f" | {fresh} | {rec} |")
        L.append("")
    if data["importance"]:
        L += ["## Parameter importance (Optuna's fANOVA, per objective)", ""]
        for name, imp in data["importance"].items():
            L.append(f"- {name}: " + ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k}: {v}"
                                               for k, v in imp.items()))
        L.append("")
    L += ["## Every trial", "", "| trial | " + " | ".join(p.key for p in tf.params) + " | "
          + " | ".join(o.name for o in objs) + " | constraints met | folder |",
          "|" + "---|" * (3 + len(tf.params) + len(objs))]
    for r in data["trials"]:
        L.append(f"| {r['number']} | " + " | ".join(_fmt(r["params"][p.key]) for p in tf.params) + " | "
                 + " | ".join(_est(r["objectives"][o.name]) for o in objs) + " | "
                 + ("yes" if r["feasible"] else "no: " + ", ".join(
                     f"{c['constraint']} ({_fmt(c['value'])})" for c in r["constraints"] if not c["met"]))
                 + f" | {r['folder']} |")
    L += ["", "## Charts", ""] + [f"![{c}]({c})" for c in charts]
    prov = data["provenance"]
    L += ["", "## Provenance", ""]
    if prov["mixed"]:
        L.append("**Note: the trials come from different code** (their study.json provenance differs).")
    L.append("```json\n" + json.dumps(prov["cells"], indent=1) + "\n```")
    return "\n".join(L) + "\n"


# ----------------------------------------------------------------------------------------------------
# Entry points


def default_out(file) -> Path:
    """``runs/tunes/<file stem>``."""
    return Path("runs") / "tunes" / Path(file).stem


def run(file, out=None, address: str | None = None, ray: bool | None = None, jobs: int = 1,
        threads: int | None = None, trials: int | None = None, log=print) -> dict:
    """Runs (or resumes) the search of a tune file and writes its report; returns tune.json's content.

    ``address``/``ray``/``jobs``/``threads`` choose where cells run, as :func:`commons_rl.study.run`.
    ``trials``: completed trials to reach (default: the file's ``tune.trials``)."""
    ex = _cells.executor(address=address, ray=ray, jobs=jobs, threads=threads)
    try:
        tf = load(file, ex.exe)
        out = Path(out) if out else default_out(file)
        search = Search(tf, out, ex, log=log)
        try:
            log(f"tune: {tf.path} into {out}: {ex.describe()}")
            slots = jobs if isinstance(ex, _cells.Local) else int(
                ex.ray.cluster_resources().get("CPU", 1)) // ex.threads
            # Trials at once: enough for every slot to have a cell (each trial has one per seed).
            batch = tf.parallel or max(1, slots // len(tf.seeds))
            study = search.search(trials=trials, batch=batch)
            data = report(search, study)
        finally:
            search.close()
    finally:
        ex.close()
    log(f"written: {out / 'report.md'}, {out / 'tune.json'}")
    return data


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="commons tune", description=__doc__.split("\n\n")[0])
    ap.add_argument("file", help="tune file (TOML), e.g. tunes/tribute-and-vesting.toml (docs/tune.md)")
    ap.add_argument("--out", help="tune folder (default: runs/tunes/<file stem>)")
    ap.add_argument("--address", help="a Ray cluster's head, HOST:PORT (or `auto`); cells run as Ray tasks")
    ap.add_argument("--ray", action="store_true", help="a local Ray of --jobs × --threads CPUs")
    ap.add_argument("--jobs", type=int, default=1, help="cells at once on this machine (default 1)")
    ap.add_argument("--threads", type=int, help="threads per cell (default: cores / jobs; 1 on Ray)")
    ap.add_argument("--trials", type=int, help="completed trials to reach (default: the file's)")
    a = ap.parse_args(argv)
    for name in ("jobs", "threads", "trials"):
        v = getattr(a, name)
        if v is not None and v < 1:
            print(f"commons tune: --{name} {v}: must be at least 1", file=sys.stderr)
            return 2
    try:
        run(a.file, out=a.out, address=a.address, ray=a.ray or None, jobs=a.jobs, threads=a.threads,
            trials=a.trials)
    except (TuneError, ConnectionError, FileNotFoundError, ImportError, _cells.CellError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("commons tune: interrupted; run the same command again to go on", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
