#!/usr/bin/env python3
"""Dependency review: the licence of every package in the workspace's resolved graph (from
`cargo metadata --locked`), with non-permissive licences flagged; with --latest, the locked and
the newest released version of each direct dependency (from `cargo info`, one registry query per
direct dependency).

    scripts/deps-review.py [--latest] [--fuzz] [--markdown] [--audit ADVISORY_DB]

Exits 1 when a licence is flagged (not on the permissive list below, and not reviewed in
REVIEWED), else 0.

With --audit ADVISORY_DB (a local clone of the RustSec advisory database,
https://github.com/rustsec/advisory-db), `cargo audit` checks Cargo.lock (and, with --fuzz,
fuzz/Cargo.lock) against it without fetching (`--no-fetch --stale`), and every finding is
printed with its advisory; a vulnerability also makes the exit status 1, an informational
warning (unmaintained, unsound, yanked) does not. Needs cargo-audit
(`cargo install cargo-audit --locked`).
"""

import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# SPDX identifiers that let Hookflash (Apache-2.0) be used, changed and shipped without conditions
# beyond notices.
PERMISSIVE = {
    "MIT",
    "MIT-0",
    "Apache-2.0",
    "Apache-2.0 WITH LLVM-exception",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "0BSD",
    "ISC",
    "Zlib",
    "Unicode-3.0",
    "Unicode-DFS-2016",
    "CC0-1.0",
    "Unlicense",
    "BSL-1.0",
    "CDLA-Permissive-2.0",
    "NCSA",
}

# Licences that were looked at and accepted, with the reason.
REVIEWED = {
    "MPL-2.0": "file-level copyleft: changes to those files only would have to be published; "
    "Hookflash ships them unchanged",
}


def cargo_metadata(manifest):
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked", "--manifest-path", manifest],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


def clauses(expr):
    """The alternatives of an SPDX expression (AND binds tighter than OR, parentheses group), each
    a set of licences that all apply."""
    tokens = re.findall(r"\(|\)|[^\s()]+", expr.replace("/", " OR "))
    pos = 0

    def peek():
        return tokens[pos] if pos < len(tokens) else None

    def take():
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def atom():
        if peek() == "(":
            take()
            r = disj()
            if peek() == ")":
                take()
            return r
        lic = take()
        if peek() == "WITH":
            take()
            lic = f"{lic} WITH {take()}"
        return [{lic}]

    def conj():
        r = atom()
        while peek() == "AND":
            take()
            rhs = atom()
            r = [a | b for a in r for b in rhs]
        return r

    def disj():
        r = conj()
        while peek() == "OR":
            take()
            r = r + conj()
        return r

    return disj() if tokens else []


def verdict(expr):
    if not expr:
        return "flag", "no licence field"
    alts = clauses(expr)
    for a in alts:
        if a <= PERMISSIVE:
            return "ok", " AND ".join(sorted(a))
    for a in alts:
        if a <= PERMISSIVE | set(REVIEWED):
            why = "; ".join(REVIEWED[x] for x in a if x in REVIEWED)
            return "reviewed", why
    return "flag", "no permissive alternative"


def direct_dependencies():
    text = open(os.path.join(ROOT, "Cargo.toml")).read()
    section = text.split("[workspace.dependencies]", 1)[1].split("\n[", 1)[0]
    names = []
    for line in section.splitlines():
        m = re.match(r"^([A-Za-z0-9_-]+)\s*=", line)
        if m and "path" not in line:
            names.append(m.group(1))
    return names


def latest(name):
    """The newest version the registry has, from `cargo info` run outside the workspace."""
    with tempfile.TemporaryDirectory() as d:
        r = subprocess.run(["cargo", "info", name], cwd=d, capture_output=True, text=True)
    m = re.search(r"^version: (\S+)", r.stdout, re.M)
    return m.group(1) if m else "?"


def audit(db, lockfiles):
    """Runs cargo-audit against a local advisory database; returns the number of vulnerabilities."""
    head = subprocess.run(
        ["git", "-C", db, "log", "-1", "--format=%h %cs"], capture_output=True, text=True
    ).stdout.strip()
    version = subprocess.run(["cargo", "audit", "--version"], capture_output=True, text=True)
    if version.returncode != 0:
        print("\ncargo-audit is not installed: cargo install cargo-audit --locked", file=sys.stderr)
        return 1
    print(f"\nadvisories: {version.stdout.strip()}, database {db} (commit {head or '?'})")
    vulnerable = 0
    for lock in lockfiles:
        r = subprocess.run(
            ["cargo", "audit", "--db", db, "--no-fetch", "--stale", "--json", "-f", lock],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        try:
            report = json.loads(r.stdout)
        except ValueError:
            print(f"  {lock}: cargo audit failed: {r.stderr.strip()}", file=sys.stderr)
            vulnerable += 1
            continue
        vulns = report["vulnerabilities"]["list"]
        warnings = [w for ws in report["warnings"].values() for w in ws]
        print(
            f"  {lock}: {report['lockfile']['dependency-count']} packages, "
            f"{report['database']['advisory-count']} advisories: "
            f"{len(vulns)} vulnerabilities, {len(warnings)} warnings"
        )
        for f in vulns + warnings:
            adv = f.get("advisory") or {}
            pkg = f["package"]
            kind = f.get("kind", "vulnerability")
            patched = ", ".join((f.get("versions") or {}).get("patched", [])) or "none"
            print(
                f"    {kind:13} {pkg['name']} {pkg['version']}: {adv.get('id', '-')} "
                f"{adv.get('title', '')} (patched: {patched})"
            )
        vulnerable += len(vulns)
    return vulnerable


def main():
    args = sys.argv[1:]
    manifests = [os.path.join(ROOT, "Cargo.toml")]
    if "--fuzz" in args:
        manifests.append(os.path.join(ROOT, "fuzz", "Cargo.toml"))
    packages = {}
    locked = {}
    for m in manifests:
        meta = cargo_metadata(m)
        members = set(meta["workspace_members"])
        for p in meta["packages"]:
            if p["id"] in members or p.get("source") is None:
                continue
            packages[(p["name"], p["version"])] = p.get("license") or ""
            locked.setdefault(p["name"], set()).add(p["version"])
    flagged = 0
    counts = {}
    md = "--markdown" in args
    if md:
        print("| crate | version | licence | verdict |")
        print("|---|---|---|---|")
    for (name, version), lic in sorted(packages.items()):
        v, why = verdict(lic)
        counts[v] = counts.get(v, 0) + 1
        if v == "flag":
            flagged += 1
        if md:
            print(f"| {name} | {version} | {lic or '-'} | {v}{': ' + why if v != 'ok' else ''} |")
        elif v != "ok" or "--all" in args:
            print(f"{v:9} {name} {version}: {lic or '-'} ({why})")
    by_licence = {}
    for lic in packages.values():
        by_licence[lic] = by_licence.get(lic, 0) + 1
    print(f"\n{len(packages)} third-party packages: " + ", ".join(f"{k} {n}" for k, n in sorted(counts.items())))
    for lic, n in sorted(by_licence.items(), key=lambda x: -x[1]):
        print(f"  {n:4}  {lic or '(none)'}")
    if "--latest" in args:
        print("\ndirect dependency: locked version(s) -> newest released")
        for name in direct_dependencies():
            have = ", ".join(sorted(locked.get(name, {"(not locked)"})))
            new = latest(name)
            mark = "" if new in locked.get(name, set()) else "   <- newer release"
            print(f"  {name}: {have} -> {new}{mark}")
    vulnerable = 0
    if "--audit" in args:
        i = args.index("--audit")
        if i + 1 >= len(args):
            print("--audit needs the path of an advisory database", file=sys.stderr)
            return 2
        locks = ["Cargo.lock"] + (["fuzz/Cargo.lock"] if "--fuzz" in args else [])
        vulnerable = audit(args[i + 1], locks)
    return 1 if flagged or vulnerable else 0


if __name__ == "__main__":
    sys.exit(main())
