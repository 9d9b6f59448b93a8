#!/usr/bin/env bash
# The main job on a fresh machine: installs libtorch once (PyTorch 2.11.0 from PyPI, cached outside the
# clone), builds commons-rl in release mode and runs the default job. Results appear under runs/.
# Extra arguments are passed to the job, e.g. `scripts/main.sh --episodes 256`.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/setup-torch.sh)"
cargo run --release --bin commons -- simulate --env envs/reference.toml --episodes 64 "$@"
