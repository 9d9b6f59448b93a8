#!/usr/bin/env bash
# Builds the Python package (python/: PyO3 + maturin, no libtorch in the wheel) and installs it, with
# what its tests need (PettingZoo 1.27, ray[rllib] 2.60 with the gymnasium 1.2.2 it pins, numpy <= 2.4,
# pandas, pytest, Optuna and scikit-learn (commons tune and its fANOVA importance), and nbclient, ipykernel and matplotlib for the example notebook), into a virtual
# environment in the cache outside the clone; prints
# `export COMMONS_RL_PY=...` (that environment's python). RLlib's torch is the PyTorch that
# scripts/setup-torch.sh installed (linked into the environment with a .pth file, not downloaded twice).
# Usage: eval "$(scripts/setup-python-pkg.sh)"
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE_ROOT="${COMMONS_RL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/commons-rl}"
VENV="$CACHE_ROOT/py-pkg"
TORCH_VENV="$CACHE_ROOT/torch-2.11.0"
if ! "$VENV/bin/python" -c "import maturin, pettingzoo, gymnasium, pandas, pytest, ray.rllib, optuna, sklearn, nbclient, ipykernel, matplotlib" 2>/dev/null; then
  echo "# installing maturin, pettingzoo, ray[rllib], numpy, pandas and pytest into $VENV (one time)" >&2
  mkdir -p "$CACHE_ROOT"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "maturin>=1.9.4,<2" "pettingzoo>=1.27,<1.28" "gymnasium==1.2.2" "numpy>=1.26,<=2.4.99" \
    "ray[rllib]==2.60.0" "pandas>=2" "pytest>=8" \
    "matplotlib>=3.7" "optuna>=5,<6" "scikit-learn>=1.4" "nbclient>=0.10" "nbformat>=5.9" "ipykernel>=6" >&2
fi
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  if [ ! -d "$TORCH_VENV" ]; then
    # No libtorch cache (e.g. LIBTORCH was set): RLlib gets its own PyTorch.
    echo "# no PyTorch at $TORCH_VENV: installing torch==2.11.0 into $VENV for RLlib (one time)" >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "torch==2.11.0" >&2
  else
    "$TORCH_VENV/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])" \
    >"$("$VENV/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/zz-commons-rl-torch.pth"
  fi
fi
# The wheel: the extension module commons_rl._native and the Python sources of python/commons_rl.
rm -rf target/wheels
"$VENV/bin/maturin" build --release --quiet --manifest-path python/Cargo.toml \
  --interpreter "$VENV/bin/python" --out target/wheels >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps \
  target/wheels/commons_rl-*.whl >&2
echo "export COMMONS_RL_PY=\"$VENV/bin/python\""
