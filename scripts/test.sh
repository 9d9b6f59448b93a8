#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs libtorch once (PyTorch 2.11.0 from PyPI, cached
# outside the clone) and TensorBoard's Python reader, then runs every unit, property, integration and doc
# test; then builds the Python package (python/, into a cached venv with PettingZoo) and runs its tests.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/setup-torch.sh)"
eval "$(scripts/setup-python-tools.sh)"
cargo test --release --all-targets "$@"
cargo test --release --doc
# The main job (scripts/main.sh) reuses this build: building its binary now must compile nothing.
build_log=$(cargo build --release --bin commons --message-format=json)
if grep -q '"fresh":false' <<<"$build_log"; then
  echo "scripts/test.sh: 'cargo build --release --bin commons' recompiled crates the tests had built" \
    "(feature sets differ between test and binary builds; see 'resolver' in Cargo.toml)" >&2
  exit 1
fi
# The Python package: its wheel (no libtorch), installed with PettingZoo, RLlib & co. into a cached
# venv; the RLlib tests must run here (not be skipped).
eval "$(scripts/setup-python-pkg.sh)"
COMMONS_RL_REQUIRE_RLLIB=1 "$COMMONS_RL_PY" -m pytest -q python/tests
