#!/usr/bin/env bash
# Builds the Python package (python/: PyO3 + maturin, no libtorch in the wheel) and installs it, with
# what its tests need (PettingZoo 1.27, gymnasium 1.2.2 as ray[rllib] 2.60 pins it, numpy <= 2.4,
# pandas, pytest), into a virtual environment in the cache outside the clone; prints
# `export COMMONS_RL_PY=...` (that environment's python).
# Usage: eval "$(scripts/setup-python-pkg.sh)"
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE_ROOT="${COMMONS_RL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/commons-rl}"
VENV="$CACHE_ROOT/py-pkg"
if ! "$VENV/bin/python" -c "import maturin, pettingzoo, gymnasium, pandas, pytest" 2>/dev/null; then
  echo "# installing maturin, pettingzoo, gymnasium, numpy, pandas and pytest into $VENV (one time)" >&2
  mkdir -p "$CACHE_ROOT"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "maturin>=1.9.4,<2" "pettingzoo>=1.27,<1.28" "gymnasium==1.2.2" "numpy>=1.26,<=2.4.99" \
    "pandas>=2" "pytest>=8" >&2
fi
# The wheel: the extension module commons_rl._native and the Python sources of python/commons_rl.
rm -rf target/wheels
"$VENV/bin/maturin" build --release --quiet --manifest-path python/Cargo.toml \
  --interpreter "$VENV/bin/python" --out target/wheels >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps \
  target/wheels/commons_rl-*.whl >&2
echo "export COMMONS_RL_PY=\"$VENV/bin/python\""
