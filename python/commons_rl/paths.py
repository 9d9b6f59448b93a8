"""Where scenario files are found."""

from pathlib import Path

from . import _native


def resolve(path) -> str:
    """``path`` as given if it exists (relative to the working directory), else relative to the
    checkout the package was built from (so ``"envs/commons.toml"`` works from anywhere there)."""
    p = Path(path)
    if p.exists() or p.is_absolute():
        return str(p)
    candidate = Path(_native.source_root()) / p
    return str(candidate) if candidate.exists() else str(p)
