#!/usr/bin/env python3
"""deny.toml's license, ban and source rules over `cargo metadata`, for machines without
cargo-deny: installing it compiles it from source, a third of a clean CI run.

It checks, as cargo-deny does with this deny.toml:
- licenses: each dependency's SPDX expression is satisfied by the allowed licenses;
- bans: no wildcard version requirement (path dependencies may have one);
- sources: every dependency comes from crates.io.
Exit 1 with one line per finding, naming the crate and what to do.
"""

import json
import re
import subprocess
import sys
import tomllib

CRATES_IO = ("registry+https://github.com/rust-lang/crates.io-index", "sparse+https://index.crates.io/")


def tokens(expr):
    # "MIT/Apache-2.0" is the old way to write "MIT OR Apache-2.0".
    return re.findall(r"\(|\)|[^\s()/]+|/", expr)


def satisfied(expr, allowed):
    """Whether the SPDX expression can be met with the allowed licenses alone."""
    toks = tokens(expr)
    pos = 0

    def peek():
        return toks[pos] if pos < len(toks) else None

    def take():
        nonlocal pos
        pos += 1
        return toks[pos - 1]

    def leaf():
        t = take()
        if t == "(":
            v = either()
            if take() != ")":
                raise ValueError(f"unbalanced: {expr}")
            return v
        name = t
        if peek() == "WITH":
            take()
            name = f"{name} WITH {take()}"
        return name.rstrip("+") in allowed or name in allowed

    def both():
        v = leaf()
        while peek() == "AND":
            take()
            v = leaf() and v
        return v

    def either():
        v = both()
        while peek() in ("OR", "/"):
            take()
            v = both() or v
        return v

    v = either()
    if pos != len(toks):
        raise ValueError(f"trailing tokens: {expr}")
    return v


def main():
    with open("deny.toml", "rb") as f:
        deny = tomllib.load(f)
    allowed = set(deny["licenses"]["allow"])
    targets = deny.get("graph", {}).get("targets", [])
    packages, members = {}, set()
    for target in targets or [None]:
        cmd = ["cargo", "metadata", "--format-version", "1", "--locked"]
        if target:
            cmd += ["--filter-platform", target]
        meta = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        members |= set(meta["workspace_members"])
        for p in meta["packages"]:
            packages[p["id"]] = p
    problems = []
    for p in sorted(packages.values(), key=lambda p: (p["name"], p["version"])):
        who = f'{p["name"]} {p["version"]}'
        if p["id"] in members:
            for d in p["dependencies"]:
                if d["req"] == "*" and not d.get("path"):
                    problems.append(f"ban: {p['name']} depends on {d['name']} = \"*\"; give it a version")
            continue
        if not (p["source"] or "").startswith(CRATES_IO):
            problems.append(f"source: {who} comes from {p['source']}; only crates.io is allowed")
        lic = p.get("license")
        try:
            ok = bool(lic) and satisfied(lic, allowed)
        except (ValueError, IndexError):
            ok = False
        if not ok:
            problems.append(
                f"license: {who} is {lic or 'unlicensed'}; not allowed by deny.toml [licenses] allow"
            )
    for line in problems:
        print(line)
    print(f"{len(packages) - len(members)} dependencies checked: "
          f"{'ok' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
