#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for a number of executions or seconds each and
# prints, per target, the executions, the seconds, executions per second and the crashes.
# Exits non-zero when any target crashed (its input is kept under the output directory).
#
#   scripts/fuzz-all.sh [--runs N | --time SECONDS] [--mode auto|nightly|bootstrap|plain]
#                       [--out DIR] [--jobs-dir DIR] [--merge] [TARGET...]
#
# Modes (auto picks the first that works):
#   nightly    cargo +nightly fuzz run (coverage-guided libFuzzer)
#   bootstrap  RUSTC_BOOTSTRAP=1 cargo fuzz run on the stable toolchain (the same, no nightly)
#   plain      no cargo-fuzz: the fuzz crate is built by plain stable cargo (libFuzzer's driver
#              linked, no coverage instrumentation) and each target mutates its committed corpus
#              (or, with none, inputs it generates from nothing) for the same budget. Not
#              coverage-guided, so weaker, but every input still goes through the target's
#              assertions and a panic is still a crash.
#
# The committed corpora in fuzz/corpus are read, never written: new inputs go to a scratch
# corpus under the output directory (default: a fresh temporary directory); with --merge, each
# target's committed and scratch corpora are then merged into OUT/merged/TARGET, a small set
# (edges only, set cover: a few hundred inputs at most) to copy into fuzz/corpus/TARGET by hand.
# Sanitizers are off (`-s none`: the crates forbid unsafe code, so a panic or an abort is what
# there is to find, and the throughput is several times higher); debug assertions (overflow
# checks) are on.
#
# Environment: CARGO_TARGET_DIR for the build (default fuzz/target),
# FUZZ_EXTRA_ARGS for extra libFuzzer flags (for example "-max_len=8192").
set -euo pipefail
cd "$(dirname "$0")/.."

runs=""
secs=""
mode=auto
merge=no
out=""
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --time) secs="$2"; shift 2 ;;
    --mode) mode="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --merge) merge=yes; shift ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if [ -z "$runs" ] && [ -z "$secs" ]; then
  runs=100000
fi
named=yes
if [ ${#targets[@]} -eq 0 ]; then
  named=no
  for f in fuzz/fuzz_targets/*.rs; do targets+=("$(basename "$f" .rs)"); done
fi
out=${out:-$(mktemp -d /tmp/hookflash-fuzz.XXXXXX)}
mkdir -p "$out"

if [ "$mode" = auto ]; then
  if cargo +nightly fuzz --version >/dev/null 2>&1; then
    mode=nightly
  elif cargo fuzz --version >/dev/null 2>&1; then
    mode=bootstrap
  else
    mode=plain
  fi
fi

limit=()
[ -n "$runs" ] && limit+=("-runs=$runs")
[ -n "$secs" ] && limit+=("-max_total_time=$secs")
# shellcheck disable=SC2206
extra=(${FUZZ_EXTRA_ARGS:-})

case "$mode" in
  nightly|bootstrap)
    tdir=${CARGO_TARGET_DIR:-fuzz/target}
    if [ "$mode" = nightly ]; then
      fuzz=(cargo +nightly fuzz)
    else
      export RUSTC_BOOTSTRAP=1
      fuzz=(cargo fuzz)
    fi
    # All targets at once, or only the ones named (they share the dependencies' build).
    builds=("")
    [ "$named" = yes ] && builds=("${targets[@]}")
    for b in "${builds[@]}"; do
      # shellcheck disable=SC2086
      "${fuzz[@]}" build -s none -a --target-dir "$tdir" $b >>"$out/build.log" 2>&1 || {
        tail -n 30 "$out/build.log" >&2
        exit 1
      }
    done
    bindir="$tdir/$(rustc -vV | sed -n 's/^host: //p')/release"
    ;;
  plain)
    tdir=${CARGO_TARGET_DIR:-fuzz/target}
    cargo build --release --manifest-path fuzz/Cargo.toml --bins --target-dir "$tdir" \
      >"$out/build.log" 2>&1 || {
      tail -n 30 "$out/build.log" >&2
      exit 1
    }
    bindir="$tdir/release"
    ;;
  *) echo "unknown mode $mode" >&2; exit 2 ;;
esac

printf '%-20s %12s %9s %10s %8s\n' target executions seconds exec/s crashes
failed=0
for t in "${targets[@]}"; do
  bin="$bindir/$t"
  [ -x "$bin" ] || { echo "no binary for $t in $bindir" >&2; failed=1; continue; }
  work="$out/corpus/$t"
  arts="$out/artifacts/$t"
  mkdir -p "$work" "$arts"
  seeds=()
  [ -d "fuzz/corpus/$t" ] && seeds+=("fuzz/corpus/$t")
  log="$out/$t.log"
  start=$(date +%s.%N)
  set +e
  "$bin" "${limit[@]}" "${extra[@]}" -print_final_stats=1 -artifact_prefix="$arts/" \
    "$work" "${seeds[@]}" >"$log" 2>&1
  rc=$?
  set -e
  end=$(date +%s.%N)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  crashes=$(find "$arts" -type f | wc -l)
  if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
    crashes=1 # died without writing an input (out of memory, killed): still a failure
  fi
  elapsed=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
  rate=$(awk -v n="${execs:-0}" -v a="$start" -v b="$end" 'BEGIN { printf "%d", n / (b - a + 0.001) }')
  printf '%-20s %12s %9s %10s %8s\n' "$t" "${execs:-?}" "$elapsed" "$rate" "$crashes"
  if [ "$merge" = yes ] && [ "$crashes" -eq 0 ]; then
    mkdir -p "$out/merged/$t"
    "$bin" -set_cover_merge=1 -use_counters=0 "$out/merged/$t" "${seeds[@]}" "$work" \
      >"$out/$t.merge.log" 2>&1 || echo "  merge of $t failed: see $out/$t.merge.log" >&2
    echo "  merged: $(find "$out/merged/$t" -type f | wc -l) inputs in $out/merged/$t"
  fi
  if [ "$crashes" -ne 0 ]; then
    failed=1
    echo "  crash: see $log and $arts" >&2
    grep -m 3 -E "panicked|ERROR" "$log" | sed 's/^/  /' >&2 || true
  fi
done
echo "mode: $mode; logs, scratch corpora and crashing inputs in $out"
exit $failed
