"""Reads `perf script -F ip,sym` of a call-graph profile on stdin and prints, as Markdown, the
share of samples in each stage of a request. A sample belongs to the first stage (in the order
below) that any frame of its stack matches, so the SQL that authentication runs counts as
authentication, and an allocation counts for the stage that made it.
Usage: stages.py REQUESTS (the requests the profile covers, for a per-request figure; 0: none)."""
import re
import sys

STAGES = [
    ("authentication (Basic header, app-password lookup)", r"kith::core::auth|kith::dav::auth|authenticate"),
    ("SQL (sqlx and SQLite)", r"sqlx|sqlite3|libsqlite"),
    ("XML request parsing", r"quick_xml::reader|NsReader|kith_dav::.*(parse|request)"),
    ("response rendering (XML, vCard)", r"quick_xml::writer|kith_dav::.*(render|write|multistatus|response)|calcard"),
    ("access log, tracing, metrics", r"tracing|kith::metrics|access_log"),
    ("routing and handlers (axum, tower, Kith's fronts)", r"axum|tower|kith::router|kith::dav::|kith::app"),
    ("HTTP (hyper) and the runtime (tokio)", r"hyper|tokio|mio"),
]
COMPILED = [(name, re.compile(p)) for name, p in STAGES]


def samples(lines):
    stack = []
    for line in lines:
        line = line.strip()
        if not line:
            if stack:
                yield stack
            stack = []
            continue
        parts = line.split(None, 1)
        stack.append(parts[1] if len(parts) > 1 else "[unknown]")
    if stack:
        yield stack


def main():
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    counts = {name: 0 for name, _ in STAGES}
    counts["kernel and other (syscalls, TCP, unattributed)"] = 0
    total = 0
    for stack in samples(sys.stdin):
        total += 1
        for name, rx in COMPILED:
            if any(rx.search(f) for f in stack):
                counts[name] += 1
                break
        else:
            counts["kernel and other (syscalls, TCP, unattributed)"] += 1
    print(f"| stage | share of CPU samples |")
    print("|---|---:|")
    for name, c in counts.items():
        print(f"| {name} | {100.0 * c / max(total, 1):.1f}% |")
    print(f"\n{total:,} samples" + (f" over {requests:,} requests of the mix" if requests else "") + ".")


main()
