#!/usr/bin/env bash
# Installs the Python tools the tests use (TensorBoard's own event reader; numpy to regenerate the
# legacy-RNG fixture) into a cache outside the clone, and prints `export COMMONS_RL_PYTHON=...`.
# Usage: eval "$(scripts/setup-python-tools.sh)"
set -euo pipefail
CACHE_ROOT="${COMMONS_RL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/commons-rl}"
VENV="$CACHE_ROOT/py-tools"
if ! "$VENV/bin/python" -c "import tensorboard, numpy" 2>/dev/null; then
  echo "# installing tensorboard and numpy into $VENV (one time)" >&2
  mkdir -p "$CACHE_ROOT"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check tensorboard numpy >&2
fi
echo "export COMMONS_RL_PYTHON=\"$VENV/bin/python\""
