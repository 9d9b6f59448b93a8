#!/usr/bin/env bash
# Times the main commands on a fresh clone of this checkout, one after the other (run it alone on the
# machine): a cold libtorch set-up (an empty cache: PyTorch 2.11.0 from PyPI), a cold release build,
# scripts/main.sh (its phases from its own log), scripts/test.sh (with a cold Python test environment),
# and one study cell. Writes WORK/times.md, the rows BENCHMARKS.md's "Times of the main commands" quotes,
# and each step's log beside it. Needs the network (PyPI, crates.io) and about 10 GB of disk.
# Usage: scripts/measure-times.sh [WORK]   (default: a new temporary folder)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d)}
mkdir -p "$work"
git clone -q "$src" "$work/clone"
export COMMONS_RL_CACHE="$work/cache"
cd "$work/clone"
echo "| step | wall |" > "$work/times.md"
echo "|---|---|" >> "$work/times.md"
row() { echo "| $1 | $2 s |" | tee -a "$work/times.md"; }
timed() {
  local name=$1 log=$2
  shift 2
  local s=$SECONDS
  "$@" > "$work/$log.log" 2>&1
  row "$name" $((SECONDS - s))
}
timed "libtorch set-up, cold (\`scripts/setup-torch.sh\`)" torch scripts/setup-torch.sh
eval "$(scripts/setup-torch.sh 2>/dev/null)"
timed "release build, cold (\`cargo build --release --bin commons\`)" build cargo build --release --bin commons
timed "\`scripts/main.sh --run-name main\` (libtorch and build warm)" main scripts/main.sh --run-name main
grep '^main.sh: ' "$work/main.log" | sed 's/^main.sh: \(.*\) took \([0-9]*\) s$/| main.sh: \1 | \2 s |/' | tee -a "$work/times.md"
timed "\`scripts/test.sh\` (Python test environment cold)" test scripts/test.sh
timed "one study cell (\`commons study studies/exit-tribute.toml --cell 0\`)" cell \
  target/release/commons study studies/exit-tribute.toml --cell 0 --out "$work/study"
echo "times: $work/times.md"
