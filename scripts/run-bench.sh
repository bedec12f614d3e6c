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
	echo "## Blobstore and logical volumes"
	echo
	echo "### Blob and lvol I/O against the bare bdev (test/bench/blob_bench.py perf)"
	echo
	run python3 test/bench/blob_bench.py perf "${BLOB_BENCH_SECONDS:-3}" "${BLOB_BENCH_REPEAT:-3}"
	echo
	echo "### Lvol against its base bdev, alternating pairs (test/bench/blob_bench.py pairs)"
	echo
	echo "Goal (issue 5): under 5 % IOPS loss, 4 KiB randread/randwrite QD 128, one core."
	echo
	run python3 test/bench/blob_bench.py pairs "${PAIRS_SECONDS:-2}" "${PAIRS_N:-15}"
	echo
	if command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null; then
		echo "### Instructions per I/O on a blob (test/bench/blob_bench.py profile, callgrind)"
		echo
		run python3 test/bench/blob_bench.py profile randread || echo "(callgrind profile failed)"
		echo
		echo "### Instructions per I/O on an lvol (test/bench/blob_bench.py profile randread lvol / malloc)"
		echo
		run python3 test/bench/blob_bench.py profile randread lvol || echo "(callgrind profile failed)"
		echo
		run python3 test/bench/blob_bench.py profile randread malloc || echo "(callgrind profile failed)"
		echo
	fi
	echo "### Blobstore metadata: 10,000-blob load, snapshot, clone, first write (build/test/bench/blob_md_bench)"
	echo
	echo "Goal (issue 4): a store with 10,000 blobs loads (and opens every blob) in under 2 s."
	echo
	echo '```'
	run build/test/bench/blob_md_bench 2>&1
	echo '```'
	echo
	echo "### Lvol create rate and restart (test/bench/blob_bench.py lvol)"
	echo
	echo "Goals (issue 5): 1,000 thin lvols in under 0.5 s one RPC at a time; a restart with 10,000 lvols in under 1 s and 200 MiB, clean and after kill -9."
	echo
	echo '```'
	run python3 test/bench/blob_bench.py lvol 1000 "${LVOL_BENCH_RESTART:-10000}" 2>&1 || echo "(lvol bench failed)"
	echo '```'
	echo
	[ -f doc/benchmarks-notes.md ] && cat doc/benchmarks-notes.md
} > "$tmp"
chmod 644 "$tmp"
mv "$tmp" "$out"
cat "$out"
