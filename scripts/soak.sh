#!/usr/bin/env bash
# Soak runs, release build, each printing one CSV line per sample (RSS beside the live heap
# counted by the test's allocator) and a summary, each failing when RSS or the live heap grows
# more than 10 % after the warm-up (until every bounded table is at its cap, and at least the
# first fifth of the calls), the subscriber sees a gap in the sequence numbers, or the link is
# re-established (the simulated PBX drops a client that does not keep up, as a PBX does):
#
#   cti     a compressed day of 1,000,000 calls: the simulated PBX on a CSTA BER link, the CSTA
#           driver and the core (Cti), a subscriber reading every event, 500 calls/s
#           (crates/hookflash/tests/soak.rs)
#   bridge  the whole stack, 1,000,000 calls: the same PBX on a CSTA XML link, the bridge's hub
#           and SQLite journal on disk (its write-ahead log watched too) and a WebSocket client
#           reading every event, 500 calls/s (crates/hookflash-bridge/tests/soak.rs)
#
#   scripts/soak.sh                    # both
#   scripts/soak.sh cti                # one
#   SOAK_CALLS=100000 scripts/soak.sh bridge
#   SOAK_SAMPLE_SECS=10 SOAK_SCALE=100 scripts/soak.sh cti    # 2,000 calls/s: a quiet machine
#   SOAK_TOMBSTONES=20000 scripts/soak.sh cti                 # a smaller core table, a longer tail
#
# The offered rate must be one the machine sustains with what else runs on it: a process that
# gets too little CPU falls behind the PBX's clock and is dropped as a slow consumer (the test
# prints why the PBX closed each connection).
#
# CARGO_TARGET_DIR is honoured. The output is also written to soak-<which>-<time>.log.
set -euo pipefail
cd "$(dirname "$0")/.."
which=("$@")
[ ${#which[@]} -eq 0 ] && which=(cti bridge)
status=0
for w in "${which[@]}"; do
  log="soak-$w-$(date -u +%Y%m%dT%H%M%SZ).log"
  {
    echo "# $w $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "# SOAK_CALLS=${SOAK_CALLS:-default} SOAK_SAMPLE_SECS=${SOAK_SAMPLE_SECS:-5} SOAK_SCALE=${SOAK_SCALE:-default} SOAK_TOMBSTONES=${SOAK_TOMBSTONES:-default}"
    echo "# load: $(cut -d' ' -f1-3 /proc/loadavg)"
  } | tee "$log"
  case "$w" in
    cti) nice -n 10 cargo test --release -p hookflash --features csta --test soak -- --ignored --nocapture 2>&1 | tee -a "$log" || status=1 ;;
    bridge) nice -n 10 cargo test --release -p hookflash-bridge --test soak -- --ignored --nocapture 2>&1 | tee -a "$log" || status=1 ;;
    *) echo "unknown soak: $w (cti or bridge)" >&2; exit 2 ;;
  esac
  echo "# ended $(date -u +%Y-%m-%dT%H:%M:%SZ), load: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$log"
done
exit $status
