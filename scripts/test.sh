#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs libtorch once (PyTorch 2.11.0 from PyPI, cached
# outside the clone) and TensorBoard's Python reader, then runs every unit, property, integration and doc
# test.
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
