#!/usr/bin/env bash
# `hookflash bench e2e` at several call rates, one JSON object per line (each with its rate),
# then the latency-against-rate plot (scripts/plot-latency-vs-rate.py → docs/latency-vs-rate.svg).
#   scripts/bench-e2e-sweep.sh [OUT.jsonl] [RATES...]
# Environment: DEVICES (1000), SUBSCRIBERS (1000), DURATION (10 s), WARMUP (2 s),
# EXTRA (more `bench e2e` arguments), NO_PLOT=1 to skip the plot.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}
out=${1:-$target/bench-e2e-sweep.jsonl}
shift || true
rates=("$@")
[ ${#rates[@]} -gt 0 ] || rates=(250 500 1000 1500 2000 2500)
[ -n "${HOOKFLASH:-}" ] || cargo build --release -q -p hookflash-cli
: > "$out"
for r in "${rates[@]}"; do
  echo "rate $r calls/s ..." >&2
  "${HOOKFLASH:-$target/release/hookflash}" bench e2e --rate "$r" \
    --devices "${DEVICES:-1000}" --subscribers "${SUBSCRIBERS:-1000}" \
    --duration "${DURATION:-10}" --warmup "${WARMUP:-2}" ${EXTRA:-} >> "$out"
  tail -n 1 "$out" >&2
  sleep 2
done
if [ -z "${NO_PLOT:-}" ]; then
  python3 scripts/plot-latency-vs-rate.py "$out" docs/latency-vs-rate.svg
fi
