#!/usr/bin/env bash
# Runs the wsdial benchmarks side by side with gorilla, coder, gobwas, gws
# and a raw-TCP baseline, and writes benchmarks/RESULTS.md.
#
#   ./run.sh          quick mode, under a minute
#   ./run.sh full     full mode, under five minutes
#
# Extra arguments go to benchclient (e.g. -libs wsdial,gorilla -skip hold).
# The server and the client are separate processes, both pinned with taskset
# to the same CPU (BENCH_CPU, default the last one), so that the numbers move
# less with the scheduler.
set -euo pipefail
cd "$(dirname "$0")"
# This module is not in the root's go.work, which would otherwise be found
# above and refuse its packages.
export GOWORK=off

mode="${1:-quick}"
shift || true
case "$mode" in
quick) delay_ms=10 ;;
full) delay_ms=20 ;;
*) echo "usage: $0 [quick|full] [benchclient flags]" >&2; exit 2 ;;
esac

cpu="${BENCH_CPU:-$(($(nproc) - 1))}"
tmp="$(mktemp -d)"
server_pid=""
cleanup() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

echo "== build"
go build -o "$tmp/benchserver" ./cmd/benchserver
go build -o "$tmp/benchclient" ./cmd/benchclient

commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if ! git diff --quiet HEAD -- .. 2>/dev/null; then
	commit="$commit (with uncommitted changes)"
fi

echo "== server, pinned to CPU $cpu"
taskset -c "$cpu" "$tmp/benchserver" -config "$tmp/config.json" -delay "$delay_ms" &
server_pid=$!
for _ in $(seq 100); do
	[ -f "$tmp/config.json" ] && break
	kill -0 "$server_pid" 2>/dev/null || { echo "benchserver exited" >&2; exit 1; }
	sleep 0.1
done
[ -f "$tmp/config.json" ] || { echo "benchserver did not start" >&2; exit 1; }

echo "== client ($mode), pinned to CPU $cpu"
taskset -c "$cpu" "$tmp/benchclient" -config "$tmp/config.json" -mode "$mode" -out RESULTS.md \
	-pinning "client and server pinned to CPU $cpu with taskset" -commit "$commit" "$@"
echo "== wrote $(pwd)/RESULTS.md"
