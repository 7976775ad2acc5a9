#!/usr/bin/env bash
# Generates CSTA oracle corpora with the given seeds (default: two random ones) and runs the
# conformance test on them, so the BER codec is checked against values it was never tuned to.
#   scripts/oracle-check.sh [SEED...]
set -euo pipefail
source "$(dirname "$0")/oracle-env.sh"
seeds=("$@")
if [ ${#seeds[@]} -eq 0 ]; then
  seeds=($((RANDOM * 32768 + RANDOM + 1)) $((RANDOM * 32768 + RANDOM + 1)))
fi
dirs=()
for s in "${seeds[@]}"; do
  out=$(mktemp -d)
  "$ORACLE_PY" "$ORACLE_DIR/gen_corpus.py" --seed "$s" --out "$out" --no-tshark | tail -n 1
  dirs+=("$out")
done
echo "oracle seeds: ${seeds[*]}"
HOOKFLASH_ORACLE_CORPUS=$(IFS=:; echo "${dirs[*]}") cargo test --locked -q -p hookflash-csta --test oracle_conformance
rm -rf "${dirs[@]}"
