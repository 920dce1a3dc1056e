#!/usr/bin/env bash
# Per-feature cost table for issue 16 (docs/performance.md): the shared harness's raw probe,
# bench/feature-floor.js with each FLOOR feature alone and all together, and Gerbang itself,
# in interleaved rounds, pinned as the harness pins (contender on CPU 1; wrk, the nginx upstream
# and Redis on CPU 0). Prints req/s and the contender's CPU time per request (user + system, from
# /proc), which a busy machine disturbs less than req/s.
#
#   npm run build && HARNESS=/tmp/gwbench bench/floor-table.sh raw log ids forward hash metrics headers full gerbang
#
# A variant is raw (the harness's probe), gerbang (the harness's gerbang.sh; LOG_LEVEL passes
# through), gerbang-warn (the same with no access lines) or a FLOOR value. ROUNDS (3), DURATION (6s);
# ACCESS_LOG: where the floor writes its access lines (default a file in a temporary directory).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
harness=${HARNESS:?the shared harness copied out of ../shared/bench, npm ci run in it}
rounds=${ROUNDS:-3}
duration=${DURATION:-6s}
work=$(mktemp -d /tmp/floor-table.XXXXXX)
mkdir -p "$work/logs" "$work/tmp"
pids=()
cleanup () { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
wait_port () { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

taskset -c 0 nginx -p "$work/" -c "$harness/nginx/upstream.conf" -e logs/error.log >/dev/null 2>&1 &
pids+=($!)
taskset -c 0 redis-server --port 6393 --save '' --appendonly no >/dev/null 2>&1 &
pids+=($!)
wait_port 9001 && wait_port 6393

ticks=$(getconf CLK_TCK)
echo "| round | variant | req/s | CPU µs/request |"
echo "|---:|---|---:|---:|"
for round in $(seq 1 "$rounds"); do
  for variant in "$@"; do
    key=bench-key-floor-table
    case $variant in
      raw) BENCH_KEY=$key GATEWAY_PORT=9006 taskset -c 1 node "$harness/raw-undici.mjs" >/dev/null 2>&1 & ;;
      gerbang|gerbang-warn)
        level=${LOG_LEVEL:-info}; [[ $variant == gerbang-warn ]] && level=warn
        LOG_LEVEL=$level REDIS_URL=redis://127.0.0.1:6393 UPSTREAM_URL=http://127.0.0.1:9001 GATEWAY_PORT=9006 \
          GATEWAY_KEY_FILE="$work/key" taskset -c 1 "$harness/gerbang.sh" "$here" 2>"$work/logs/gerbang.err" & ;;
      *) FLOOR=$variant BENCH_KEY=$key GATEWAY_PORT=9006 taskset -c 1 node "$here/dist/bench/feature-floor.js" \
           >"${ACCESS_LOG:-$work/access.log}" 2>/dev/null & ;;
    esac
    pid=$!
    wait_port 9006 || { echo "$variant did not start" >&2; exit 1; }
    [[ $variant == gerbang* ]] && key=$(cat "$work/key")
    # gerbang.sh execs the gateway, so $pid is the process that serves.
    taskset -c 0 wrk -t1 -c50 -d3s -H "x-api-key: $key" http://127.0.0.1:9006/api/bench >/dev/null
    before=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    out=$(taskset -c 0 wrk -t1 -c50 -d"$duration" -H "x-api-key: $key" http://127.0.0.1:9006/api/bench)
    after=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    requests=$(awk '/requests in/ {print $1}' <<<"$out")
    echo "| $round | $variant | $rps | $(awk -v t=$((after - before)) -v n="$requests" -v hz="$ticks" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }') |"
    kill -INT "$pid"; wait "$pid" 2>/dev/null || true
    while (exec 3<>/dev/tcp/127.0.0.1/9006) 2>/dev/null; do sleep 0.1; done
  done
done
