#!/usr/bin/env bash
# Installs libtorch (PyTorch 2.11.0 from PyPI) into a versioned cache outside the clone and prints the
# environment that tch's build needs. Idempotent: a second run only checks the cache.
#
# Usage:  eval "$(scripts/setup-torch.sh)"
#
# A user's own LIBTORCH wins: if it is set, nothing is installed and nothing is printed.
set -euo pipefail

TORCH_VERSION="2.11.0"
CACHE_ROOT="${COMMONS_RL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/commons-rl}"
VENV="$CACHE_ROOT/torch-$TORCH_VERSION"

if [ -n "${LIBTORCH:-}" ]; then
  echo "# LIBTORCH is set ($LIBTORCH): using it" >&2
  exit 0
fi

if ! "$VENV/bin/python" -c "import torch, sys; sys.exit(0 if torch.__version__.split('+')[0] == '$TORCH_VERSION' else 1)" 2>/dev/null; then
  echo "# installing torch==$TORCH_VERSION into $VENV (one time, ~5 GB)" >&2
  mkdir -p "$CACHE_ROOT"
  rm -rf "$VENV.partial"
  python3 -m venv "$VENV.partial"
  "$VENV.partial/bin/python" -m pip install --quiet --disable-pip-version-check "torch==$TORCH_VERSION" >&2
  rm -rf "$VENV"
  mv "$VENV.partial" "$VENV"
  # the venv's scripts hard-code their path; recreate them under the final name
  python3 -m venv --upgrade "$VENV" >/dev/null 2>&1 || true
fi

echo "export LIBTORCH_USE_PYTORCH=1"
echo "export PATH=\"$VENV/bin:\$PATH\""
