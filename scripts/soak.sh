#!/usr/bin/env bash
# Soak runs, release build, each printing one CSV line per sample and a summary, each failing
# when memory grows more than 10 % after the warm-up (the first fifth of the calls) or the
# subscriber sees a gap in the sequence numbers:
#
#   cti     a compressed day of 1,000,000 calls: the simulated PBX on a CSTA BER link, the CSTA
#           driver and the core (Cti), a subscriber reading every event, 2,000 calls/s
#           (crates/hookflash/tests/soak.rs)
#   bridge  the whole stack: the same PBX on a CSTA XML link, the bridge's hub and SQLite
#           journal on disk and a WebSocket client reading every event, at a rate the bridge
#           keeps up with on a 2-core machine, 300 calls/s (crates/hookflash-bridge/tests/soak.rs)
#
#   scripts/soak.sh                    # both
#   scripts/soak.sh cti                # one
#   SOAK_CALLS=100000 scripts/soak.sh bridge
#   SOAK_SAMPLE_SECS=10 SOAK_SCALE=200 scripts/soak.sh cti
#
# CARGO_TARGET_DIR is honoured. The output is also written to soak-<which>-<time>.log.
set -euo pipefail
cd "$(dirname "$0")/.."
which=("$@")
[ ${#which[@]} -eq 0 ] && which=(cti bridge)
for w in "${which[@]}"; do
  log="soak-$w-$(date -u +%Y%m%dT%H%M%SZ).log"
  {
    echo "# $w $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "# SOAK_CALLS=${SOAK_CALLS:-default} SOAK_SAMPLE_SECS=${SOAK_SAMPLE_SECS:-5} SOAK_SCALE=${SOAK_SCALE:-default}"
  } | tee "$log"
  case "$w" in
    cti) nice -n 10 cargo test --release -p hookflash --features csta --test soak -- --ignored --nocapture 2>&1 | tee -a "$log" ;;
    bridge) nice -n 10 cargo test --release -p hookflash-bridge --test soak -- --ignored --nocapture 2>&1 | tee -a "$log" ;;
    *) echo "unknown soak: $w (cti or bridge)" >&2; exit 2 ;;
  esac
done
