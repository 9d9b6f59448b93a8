#!/usr/bin/env bash
# The main job on a fresh machine: installs libtorch once (PyTorch 2.11.0 from PyPI, cached outside the
# clone), builds commons-rl in release mode and trains the four built-in personalities together on the
# default RL scenario (about 24 minutes on 2 cores; 32 minutes in all on a fresh machine, BENCHMARKS.md
# "Times of the main commands"), then evaluates the trained policies against scripted
# participants in the same roles on held-out seeds (`eval.json`), checks each trained personality against
# the built-in fixed strategies (`best_response.json`, docs/strategies.md) and draws the comparison
# (`compare.svg`). Results appear under runs/; watch the curves with `tensorboard --logdir runs`.
# Extra arguments are passed to `commons train`, e.g. `--total-steps 100000` or `--run-name NAME`
# (default: main-<UTC date and time>).
set -euo pipefail
cd "$(dirname "$0")/.."
phase() { echo "main.sh: $1 took $((SECONDS - start)) s" >&2; start=$SECONDS; }
start=$SECONDS
eval "$(scripts/setup-torch.sh)"
phase "libtorch set-up"
cargo build --release --bin commons
phase "release build"
commons=target/release/commons
# The run is found by its name (give your own with --run-name NAME), not by which is newest.
run_name="main-$(date -u +%Y%m%d-%H%M%S)"
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --run-name) run_name="${args[i + 1]:-}" ;;
    --run-name=*) run_name="${args[i]#--run-name=}" ;;
  esac
done
if [[ " ${args[*]} " != *" --run-name"* ]]; then
  args+=(--run-name "$run_name")
fi
"$commons" train --env envs/commons.toml --agents agents/mixed.toml "${args[@]}"
phase "training"
run="runs/$run_name"
"$commons" eval "$run" --against-fixed
phase "evaluation and best-response check"
"$commons" compare "$run" --scripted --plot "$run/compare.svg"
phase "comparison"
echo "results: $run (eval.json, best_response.json, compare.svg, summary.json); curves: tensorboard --logdir runs"
