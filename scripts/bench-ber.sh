#!/usr/bin/env bash
# CSTA BER decode speed, Hookflash against the reference oracle (asn1tools) — and tshark's generic
# BER dissection when tshark is installed — on the same PDUs in one run: the event PDUs of the
# oracle corpus. Prints one JSON object with the figures and the ratios.
#   scripts/bench-ber.sh [SECONDS]
# CORPUS=DIR takes the event PDUs of another corpus directory (default: the committed seed0).
# Builds the `dist` profile (PROFILE=release for the quick-start build); CARGO_TARGET_DIR is honoured.
set -euo pipefail
source "$(dirname "$0")/oracle-env.sh"
secs=${1:-3}
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}
profile=${PROFILE:-dist}
cargo build --locked --profile "$profile" -q -p hookflash-cli
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The event PDUs (cSTAEventReport invokes) of the reference corpus, back to back.
for j in "${CORPUS:-crates/hookflash-csta/tests/vectors/seed0}"/*.json; do
  if grep -q '"cSTAEventReport"' "$j"; then cat "${j%.json}.ber" >> "$work/events.ber"; fi
done
ours=$("$target/$profile/hookflash" bench decode --protocol csta-ber --seconds "$secs" "$work/events.ber")
oracle=$("$ORACLE_PY" scripts/oracle_speed.py "$ORACLE_DIR" "$work/events.ber" "$secs")
tshark_rate=null
if command -v tshark >/dev/null 2>&1; then
  # One TCP segment per PDU, dissected as generic BER; tshark's rate counts PDUs per wall second.
  "$ORACLE_PY" - "$ORACLE_DIR" "$work/events.ber" "$work/events.pcap" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import csta_oracle as O
data = open(sys.argv[2], "rb").read()
pdus, i = [], 0
while i < len(data):
    n = O.tlv_len(data, i); pdus.append(data[i:i + n]); i += n
open(sys.argv[3], "wb").write(O.pcap_bytes(pdus * max(1, 20000 // len(pdus))))
PY
  start=$(date +%s.%N)
  count=$(tshark -r "$work/events.pcap" -o tcp.check_checksum:FALSE -d tcp.port==4422,ber -T fields -e frame.number 2>/dev/null | wc -l)
  end=$(date +%s.%N)
  tshark_rate=$(python3 -c "print($count / ($end - $start))")
fi
python3 - "$ours" "$oracle" "$tshark_rate" <<'PY'
import json, sys
ours, oracle, tshark = json.loads(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[3])
r = ours["pdus_per_sec"]
out = {
    "hookflash_pdus_per_sec": round(r),
    "asn1tools_pdus_per_sec": round(oracle["asn1tools_pdus_per_sec"]),
    "oracle_json_pdus_per_sec": round(oracle["oracle_json_pdus_per_sec"]),
    "ratio_vs_asn1tools": round(r / oracle["asn1tools_pdus_per_sec"], 1),
    "ratio_vs_oracle_json": round(r / oracle["oracle_json_pdus_per_sec"], 1),
    "event_pdus": oracle["pdus_in_file"],
}
if tshark:
    out["tshark_ber_pdus_per_sec"] = round(tshark)
    out["ratio_vs_tshark"] = round(r / tshark, 1)
print(json.dumps(out))
PY
