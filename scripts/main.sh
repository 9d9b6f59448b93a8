#!/usr/bin/env bash
# The main job on a fresh machine: installs libtorch once (PyTorch 2.11.0 from PyPI, cached outside the
# clone), builds commons-rl in release mode and trains the four built-in personalities together on the
# default RL scenario (about 10 minutes on 2 cores). Results appear under runs/; watch the curves with
# `tensorboard --logdir runs`. Extra arguments are passed to `commons train`, e.g. `--total-steps 100000`.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/setup-torch.sh)"
cargo run --release --bin commons -- train --env envs/commons.toml --agents agents/mixed.toml "$@"
