#!/usr/bin/env python3
"""Decode speed of the CSTA reference oracle (asn1tools) over a file of back-to-back BER PDUs.

Prints one JSON object: asn1tools' own decode (ROSE envelope, then the CSTA argument by opcode)
and the oracle's full decode (with the JER conversion it prints), in PDUs per second.
    oracle_speed.py ORACLE_DIR FILE [SECONDS]
"""
import json
import sys
import time

sys.path.insert(0, sys.argv[1])
import csta_oracle as O  # noqa: E402

S = O.spec()
data = open(sys.argv[2], "rb").read()
seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 3.0
pdus = []
i = 0
while i < len(data):
    n = O.tlv_len(data, i)
    pdus.append(data[i:i + n])
    i += n


def asn1tools_decode(b):
    kind, v = S.t(O.ROSE_MOD, "ROSE-PDU").decode(b)
    if kind == "invoke" and "argument" in v:
        name = S.op_by_code[v["opcode"][1]]
        return S.t(S.mod_of[name], S.ops[name]["argument"]).decode(v["argument"])
    return v


out = {"pdus_in_file": len(pdus)}
for label, fn in (("asn1tools_pdus_per_sec", asn1tools_decode), ("oracle_json_pdus_per_sec", O.decode)):
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for b in pdus:
            fn(b)
        n += len(pdus)
    out[label] = n / (time.perf_counter() - t0)
print(json.dumps(out))
