#!/usr/bin/env bash
# CSTA BER decode side by side, in one run, on the same PDUs (the 90 cSTAEventReport PDUs of the
# reference corpus): Hookflash (`hookflash bench decode`), the asn1tools reference oracle
# (scripts/oracle_speed.py) and tshark's generic BER dissector. Prints the three rates and the
# ratios as one JSON object.
#   scripts/bench-ber-peers.sh [SECONDS] [TSHARK_COPIES]
# tshark reads a pcap with one TCP segment per PDU, decoded as BER (`-d tcp.port==4422,ber`);
# the script checks that every frame was dissected as BER. Two tshark figures: `-T fields`
# (dissection, one field printed per frame) and `-V` (dissection plus the full text tree);
# tshark's start-up time is measured on a one-copy file and subtracted.
# HOOKFLASH=path/to/hookflash uses that binary instead of building one (default: the `dist`
# profile, PROFILE=release for the quick-start build).
# Needs: cargo, python3 (a venv with asn1tools is made by oracle-env.sh), tshark.
set -euo pipefail
source "$(dirname "$0")/oracle-env.sh"
secs=${1:-3}
copies=${2:-500}
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}
if [ -z "${HOOKFLASH:-}" ]; then
  cargo build --locked --profile "${PROFILE:-dist}" -q -p hookflash-cli
fi
hookflash=${HOOKFLASH:-$target/${PROFILE:-dist}/hookflash}
command -v tshark >/dev/null || { echo "tshark is not installed (apt-get install tshark)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for j in crates/hookflash-csta/tests/vectors/seed0/*.json; do
  if grep -q '"cSTAEventReport"' "$j"; then cat "${j%.json}.ber" >> "$work/events.ber"; fi
done

ours=$("$hookflash" bench decode --protocol csta-ber --seconds "$secs" "$work/events.ber")
oracle=$("$ORACLE_PY" scripts/oracle_speed.py "$ORACLE_DIR" "$work/events.ber" "$secs")

"$ORACLE_PY" - "$ORACLE_DIR" "$work/events.ber" "$work" "$copies" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import csta_oracle as O
data = open(sys.argv[2], "rb").read()
pdus, i = [], 0
while i < len(data):
    n = O.tlv_len(data, i); pdus.append(data[i:i + n]); i += n
open(sys.argv[3] + "/one.pcap", "wb").write(O.pcap_bytes(pdus))
open(sys.argv[3] + "/many.pcap", "wb").write(O.pcap_bytes(pdus * int(sys.argv[4])))
open(sys.argv[3] + "/count", "w").write(str(len(pdus)))
PY
per_copy=$(cat "$work/count")
ts=(tshark -n -o tcp.check_checksum:FALSE -d tcp.port==4422,ber)

# Every frame must carry a BER dissection, with no malformed-packet mark.
dissected=$("${ts[@]}" -r "$work/one.pcap" -T fields -e frame.protocols -e _ws.malformed 2>/dev/null \
  | awk -F'\t' '$1 ~ /:ber$/ && $2 == "" { n++ } END { print n + 0 }')
if [ "$dissected" -ne "$per_copy" ]; then
  echo "tshark dissected $dissected of $per_copy PDUs as BER" >&2
  exit 1
fi

seconds_of() { # command... → wall seconds
  local s e
  s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N)
  python3 -c "print($e - $s)"
}
fields=(-T fields -e frame.protocols -e ber.unknown.INTEGER)
f1=$(seconds_of "${ts[@]}" -r "$work/one.pcap" "${fields[@]}")
fn=$(seconds_of "${ts[@]}" -r "$work/many.pcap" "${fields[@]}")
v1=$(seconds_of "${ts[@]}" -r "$work/one.pcap" -V)
vn=$(seconds_of "${ts[@]}" -r "$work/many.pcap" -V)

python3 - "$ours" "$oracle" "$per_copy" "$copies" "$f1" "$fn" "$v1" "$vn" <<'PY'
import json, sys
ours, oracle = json.loads(sys.argv[1]), json.loads(sys.argv[2])
per_copy, copies = int(sys.argv[3]), int(sys.argv[4])
f1, fn, v1, vn = map(float, sys.argv[5:9])
n = per_copy * (copies - 1)
tshark_fields = n / max(fn - f1, 1e-9)
tshark_full = n / max(vn - v1, 1e-9)
r = ours["pdus_per_sec"]
a = oracle["asn1tools_pdus_per_sec"]
print(json.dumps({
    "event_pdus": per_copy,
    "hookflash_pdus_per_sec": round(r),
    "asn1tools_pdus_per_sec": round(a),
    "oracle_json_pdus_per_sec": round(oracle["oracle_json_pdus_per_sec"]),
    "tshark_ber_fields_pdus_per_sec": round(tshark_fields),
    "tshark_ber_full_tree_pdus_per_sec": round(tshark_full),
    "tshark_pdus": per_copy * copies,
    "tshark_startup_seconds": round(f1, 3),
    "ratio_vs_asn1tools": round(r / a, 1),
    "ratio_vs_tshark_fields": round(r / tshark_fields, 1),
    "ratio_vs_tshark_full_tree": round(r / tshark_full, 1),
    "asn1tools_vs_tshark_fields": round(a / tshark_fields, 2),
}))
PY
