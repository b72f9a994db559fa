# Sourced by the bench scripts. kith_bench_start BIN CPU: a fresh data directory set up as a
# deployment is (the account made with the CLI, the benchmark device on an app password, so the
# server process never runs argon2 during a measurement), and `BIN serve` on 127.0.0.1 pinned
# to CPU. Prints "PID URL USER PASS STORAGE", as ../shared/bench/peers/*.sh do.
kith_bench_start() {
  local bin=$1 cpu=$2 d l pid url token
  d=$(mktemp -d -t kith-bench.XXXXXX)
  l=$(mktemp -d -t kith-bench-log.XXXXXX)
  echo bench-account-pw | "$bin" user add bench --password-stdin --data-dir "$d" >/dev/null
  token=$("$bin" user app-password add bench --label cardbench --data-dir "$d" 2>/dev/null)
  setsid taskset -c "$cpu" "$bin" serve --listen 127.0.0.1:0 --data-dir "$d" \
    > "$l/stdout" 2> "$l/server.log" &
  pid=$!
  for _ in $(seq 1 300); do
    url=$(sed -n 's/^kith: listening on //p' "$l/stdout"); [ -n "$url" ] && break
    kill -0 "$pid" || { cat "$l/server.log" >&2; return 1; }
    sleep 0.1
  done
  echo "$pid $url bench $token $d"
}
