"""Loaders for what ``commons eval`` and ``commons study`` write, as pandas DataFrames.

They read the JSON files only (no libtorch needed): a run folder's ``eval.json`` and a study folder's
``study.json``. docs/training.md and docs/studies.md describe every field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

from .paths import resolve


def _read(path: Path, what: str, command: str) -> dict:
    if path.is_dir():
        raise FileNotFoundError(f"{path}: a folder, not {what}")
    if not path.exists():
        raise FileNotFoundError(f"{path}: no {what} (run `{command}` first)")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: not {what}: {e}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not {what}: expected a JSON object")
    return data


def load_eval(run) -> Any:
    """The per-episode samples of ``RUN/eval.json`` as one long DataFrame, one row per side, subject,
    measure and evaluation episode: ``side`` (``"trained"`` or ``"scripted"``, the scripted participants
    in the same roles), ``personality`` (empty for the world's outcome metrics), ``measure``
    (``return``, ``net_worth_gain`` (DAI gain), ``impact``, the behaviour rates ``buy``/``sell``/...,
    ``share:HEAD:BIN`` action shares, or an outcome metric such as ``token_price``), ``episode``,
    ``seed`` and ``value``. Both sides play the same seeds, so rows pair by ``episode``.

    ``run`` is a run folder of ``commons train`` that ``commons eval`` has evaluated."""
    import pandas as pd

    path = Path(resolve(run)) / "eval.json"
    data = _read(path, "an eval.json of `commons eval`", f"commons eval {run}")
    samples = data.get("samples")
    if not isinstance(samples, dict):
        raise ValueError(f"{path}: has no per-episode samples (written by an older version: run `commons eval` again)")
    first = int(data.get("seed", 0))
    rows: list[tuple] = []
    for side, s in samples.items():
        for personality, measures in (s.get("personalities") or {}).items():
            for measure, values in measures.items():
                rows.extend((side, personality, measure, k, v) for k, v in enumerate(values))
        for metric, values in (s.get("outcomes") or {}).items():
            rows.extend((side, "", metric, k, v) for k, v in enumerate(values))
        for personality, heads in (s.get("shares") or {}).items():
            for head, bins in heads.items():
                for b, values in enumerate(bins):
                    rows.extend(
                        (side, personality, f"share:{head}:{b}", k, v) for k, v in enumerate(values)
                    )
    df = pd.DataFrame(rows, columns=["side", "personality", "measure", "episode", "value"])
    df.insert(4, "seed", first + df["episode"])
    return df


class Study(NamedTuple):
    """What :func:`load_study` returns: the report's numbers as DataFrames."""

    #: One row per side, series and variant: ``side``, ``series``, ``group`` (a personality, or
    #: ``outcome``), ``measure``, ``label``, ``unit``, ``variant``, the estimate ``mean``/``lo``/``hi``
    #: (95 % interval over training seeds and episodes), ``seeds``, ``values``, and the difference from
    #: the baseline variant ``diff``/``diff_lo``/``diff_hi``/``q`` with ``significant`` (the report's
    #: ★); the baseline's difference columns are empty.
    estimates: Any
    #: Per metric, side, variant and day: the median ``p50`` and the 10-90 % band ``p10``/``p90`` over
    #: every evaluation episode of the variant's cells.
    trajectories: Any
    #: The report's findings: ``variant``, ``side``, ``series``, ``text``, ``value``, ``baseline``,
    #: ``diff``, ``diff_lo``, ``diff_hi``.
    findings: Any
    #: The rest of ``study.json``: the study file, base files, seeds, steps, variants, notes.
    meta: dict


def load_study(folder) -> Study:
    """The numbers of a study folder's ``study.json`` (written by ``commons study``) as DataFrames
    (see :class:`Study`)."""
    import pandas as pd

    path = Path(resolve(folder)) / "study.json"
    data = _read(path, "a study.json of `commons study`", "commons study FILE")
    variants = [v["name"] for v in data.get("variants", [])]
    est = []
    for r in data.get("rows", []):
        for v, (e, d) in enumerate(zip(r["estimates"], r["differences"])):
            est.append({
                "side": r["side"], "series": r["series"], "group": r["group"],
                "measure": r["measure"], "label": r["label"], "unit": r["unit"],
                "variant": variants[v] if v < len(variants) else str(v),
                "mean": e["mean"] if e else None, "lo": e["lo"] if e else None,
                "hi": e["hi"] if e else None, "seeds": e["seeds"] if e else None,
                "values": e["values"] if e else None,
                "diff": d["mean"] if d else None, "diff_lo": d["lo"] if d else None,
                "diff_hi": d["hi"] if d else None, "q": d.get("q") if d else None,
                "significant": bool(d.get("significant")) if d else False,
            })
    traj = []
    for t in data.get("trajectories", []):
        for day, (p10, p50, p90) in enumerate(zip(t["p10"], t["p50"], t["p90"])):
            traj.append({"metric": t["metric"], "side": t["side"], "variant": t["variant"],
                         "day": day, "p10": p10, "p50": p50, "p90": p90})
    finds = [
        {"variant": f["variant"], "side": f["side"], "series": f["series"], "text": f["text"],
         "value": f["value"], "baseline": f["baseline"], "diff": f["difference"]["mean"],
         "diff_lo": f["difference"]["lo"], "diff_hi": f["difference"]["hi"]}
        for f in data.get("findings", [])
    ]
    meta = {k: v for k, v in data.items() if k not in ("rows", "trajectories", "findings")}
    return Study(
        pd.DataFrame(est, columns=["side", "series", "group", "measure", "label", "unit", "variant",
                                   "mean", "lo", "hi", "seeds", "values", "diff", "diff_lo",
                                   "diff_hi", "q", "significant"]),
        pd.DataFrame(traj, columns=["metric", "side", "variant", "day", "p10", "p50", "p90"]),
        pd.DataFrame(finds, columns=["variant", "side", "series", "text", "value", "baseline", "diff",
                                     "diff_lo", "diff_hi"]),
        meta,
    )
