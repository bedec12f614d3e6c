#!/usr/bin/env bash
# `make bench`: runs the benchmarks and rewrites doc/benchmarks.md with the
# numbers measured now on this machine. Nothing here passes or fails on a
# number; the point is a record with the command that produced it.
set -euo pipefail
cd "$(dirname "$0")/.."
out=doc/benchmarks.md
tmp=$(mktemp)

run() { echo "\$ $*" >&2; "$@"; }

{
	echo "# Benchmarks"
	echo
	echo "Measured by \`make bench\` on $(date -u +%Y-%m-%d), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), no hugepages."
	echo "Rewritten on every run; the analysis below the tables is kept in doc/benchmarks-notes.md."
	echo
	echo "## Reactor and messages (build/test/bench/thread_bench)"
	echo
	echo '```'
	run build/test/bench/thread_bench 2>&1
	echo '```'
	echo
	echo "## Daemon (test/bench/daemon_bench.py)"
	echo
	echo '```'
	run python3 test/bench/daemon_bench.py 10 2>&1
	echo '```'
	echo
	echo "## Block device layer (test/bench/bdev_bench.py, build/bin/lvstor-perf)"
	echo
	run python3 test/bench/bdev_bench.py "${BDEV_BENCH_SECONDS:-3}" "${BDEV_BENCH_REPEAT:-3}"
	echo
	echo "### QoS accuracy (test/bench/bdev_bench.py qos)"
	echo
	run python3 test/bench/bdev_bench.py qos "${QOS_BENCH_SECONDS:-10}"
	echo
	if command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null; then
		echo "### Instructions per I/O (test/bench/bdev_profile.py, callgrind)"
		echo
		run python3 test/bench/bdev_profile.py Null0 randread 128 || echo "(callgrind profile failed)"
		echo
		run python3 test/bench/bdev_profile.py Null0 randread 1 || echo "(callgrind profile failed)"
		echo
	fi
	[ -f doc/benchmarks-notes.md ] && cat doc/benchmarks-notes.md
} > "$tmp"
mv "$tmp" "$out"
cat "$out"
