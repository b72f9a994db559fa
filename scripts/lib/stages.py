"""Reads `perf script -F comm,ip,sym` of a call-graph profile of Kith on stdin and prints, as
Markdown, the share of CPU samples in each stage of a request.

Samples on sqlx's SQLite worker threads are the queries' execution. A sample on a tokio worker
belongs to the first stage (in the order below) that a frame of its stack matches, kernel
frames included: the thread switch that sending a query causes counts for the stage that sent
it, and an allocation for the stage that made it.
Usage: stages.py REQUESTS (the requests the profile covers, for a per-request figure; 0: none)."""
import re
import sys

SQLITE_WORKER = "SQLite executing queries (sqlx's worker threads)"
STAGES = [
    ("authentication (Basic header, app-password lookup)",
     r"user_for_login|touch_app_password|core::auth|parse_basic|Authenticator"),
    ("finding the collection", r"Collections>::collection|Ctx::collection|shared_cards|access::shared"),
    ("XML request parsing", r"kith_dav::request|quick_xml::reader|NsReader|kith_dav::xml::parse"),
    ("listing rows and rendering the multistatus",
     r"member_response|multistatus|Multistatus|escape|list_changes|list_named|list_objects|"
     r"report::|propfind::|props::|address_data|spawn_rows"),
    ("access log, tracing, metrics", r"tracing|kith::metrics|access_log"),
    ("HTTP: hyper's reads and writes, axum's routing", r"hyper|axum|tower|writev|recv|kith::router"),
    ("the tokio runtime (scheduling, epoll, timers)", r"tokio|mio|epoll"),
]
COMPILED = [(name, re.compile(p)) for name, p in STAGES]
OTHER = "other"


def samples(lines):
    comm, stack = None, []
    for line in lines:
        if not line.strip():
            if comm is not None:
                yield comm, stack
            comm, stack = None, []
            continue
        if not line[0].isspace():
            comm = line.strip()
            continue
        parts = line.strip().split(None, 1)
        stack.append(parts[1] if len(parts) > 1 else "[unknown]")
    if comm is not None:
        yield comm, stack


def main():
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    counts = {SQLITE_WORKER: 0}
    counts.update({name: 0 for name, _ in STAGES})
    counts[OTHER] = 0
    total = 0
    for comm, stack in samples(sys.stdin):
        total += 1
        if comm.startswith("sqlx-sqlite"):
            counts[SQLITE_WORKER] += 1
            continue
        for name, rx in COMPILED:
            if any(rx.search(f) for f in stack):
                counts[name] += 1
                break
        else:
            counts[OTHER] += 1
    print("| stage | share of CPU samples |")
    print("|---|---:|")
    for name, c in counts.items():
        print(f"| {name} | {100.0 * c / max(total, 1):.1f}% |")
    per = f" ({total / requests:.2f} per request)" if requests else ""
    print(f"\n{total:,} samples" + (f" over {requests:,} requests of the mix" if requests else "")
          + per + ".")


main()
