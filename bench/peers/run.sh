#!/usr/bin/env bash
# Legion against its peers, the same workloads in one run (see peers.py for what is measured):
# installs aws-local-stepfunctions (npm) and moto[server] (PyPI) into a scratch folder, builds the
# release `legion`, and prints times, ratios and what each peer could not do.
#
#   bench/peers/run.sh [SCRATCH]      (default: ${TMPDIR:-/tmp}/legion-peers; reused when run again)
#
# Needs node and npm, python3 with venv, and cargo. Extra arguments for peers.py go in PEERS_ARGS
# (for example PEERS_ARGS="--timeout 120 --only api").
set -euo pipefail
cd "$(dirname "$0")/../.."

SCRATCH="${1:-${TMPDIR:-/tmp}/legion-peers}"
AWS_LOCAL_STEPFUNCTIONS_VERSION="${AWS_LOCAL_STEPFUNCTIONS_VERSION:-3.0.0}"
MOTO_VERSION="${MOTO_VERSION:-5.2.6}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/legion-target}"
mkdir -p "$SCRATCH"

command -v node >/dev/null && command -v npm >/dev/null || { echo "node and npm are required"; exit 1; }

echo "== aws-local-stepfunctions $AWS_LOCAL_STEPFUNCTIONS_VERSION (npm) into $SCRATCH/npm"
mkdir -p "$SCRATCH/npm"
[ -f "$SCRATCH/npm/package.json" ] || echo '{"private": true}' >"$SCRATCH/npm/package.json"
(cd "$SCRATCH/npm" && npm install --no-audit --no-fund --silent "aws-local-stepfunctions@$AWS_LOCAL_STEPFUNCTIONS_VERSION")

echo "== moto[server] $MOTO_VERSION (PyPI) into $SCRATCH/venv"
[ -x "$SCRATCH/venv/bin/python" ] || python3 -m venv "$SCRATCH/venv"
"$SCRATCH/venv/bin/python" -m pip install --quiet "moto[server]==$MOTO_VERSION"

echo "== legion (release build)"
cargo build --release --locked -q -p legion-server --bin legion
LEGION="$CARGO_TARGET_DIR/release/legion"

echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); node $(node --version), $("$SCRATCH/venv/bin/python" --version)"
# shellcheck disable=SC2086
"$SCRATCH/venv/bin/python" bench/peers/peers.py \
  --scratch "$SCRATCH" \
  --legion "$LEGION" \
  --local-sfn "$SCRATCH/npm/node_modules/.bin/local-sfn" \
  --moto-server "$SCRATCH/venv/bin/moto_server" \
  ${PEERS_ARGS:-}
