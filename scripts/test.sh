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
