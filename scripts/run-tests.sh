#!/usr/bin/env bash
# Runs lvstor's tests and ends with one summary line, "N passed, N failed".
#
#   run-tests.sh unit        unit tests (build/)
#   run-tests.sh asan        unit tests built with ASan+UBSan (build-asan/)
#   run-tests.sh functional  real lvstord driven by rpc.py (pytest)
#   run-tests.sh e2e         a real Linux guest in QEMU on lvstord's vhost
#                            controllers (pytest, test/e2e; needs
#                            `scripts/pkgdep.sh --e2e` first)
#   run-tests.sh all         all of the above
#
# Each cmocka binary runs on its own with a time limit; its "[  PASSED  ]" /
# "[  FAILED  ]" lines are added up. A binary that dies before printing its
# summary counts as one failure.
set -uo pipefail
cd "$(dirname "$0")/.."

# The SPDK-written fixture lives in shared/ beside the checkout (CI and
# developers alike); tests that read it find it through LVSTOR_FIXTURE.
export LVSTOR_FIXTURE=${LVSTOR_FIXTURE:-$(cd .. && pwd)/shared/fixtures/spdk-lvs-4k.img.xz}

passed=0
failed=0
failures=()
UNIT_TIMEOUT=${UNIT_TIMEOUT:-120}

run_unit_dir() {
	local dir=$1 label=$2
	local bins
	bins=$(find "$dir/test/unit" -type f -name '*_ut' -perm -u+x 2>/dev/null | sort)
	if [ -z "$bins" ]; then
		echo "no unit tests under $dir (build them first)"
		failed=$((failed + 1))
		failures+=("$label: no test binaries")
		return
	fi
	# The blob crash sweeps run the offline checker of the same build
	# (test/unit/blob/ut_check_image.h); unset, they skip it with a note.
	if [ -x "$dir/bin/lvstor-check" ]; then
		export LVSTOR_CHECK="$PWD/$dir/bin/lvstor-check"
	else
		echo "note: $dir/bin/lvstor-check not built (make BUILD=$dir all): image checks skipped"
		export LVSTOR_CHECK=
	fi
	for bin in $bins; do
		local out rc p f
		out=$(timeout "$UNIT_TIMEOUT" "$bin" 2>&1)
		rc=$?
		p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
		f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
		p=${p:-0}
		f=${f:-0}
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			f=1 # crashed, timed out, or a sanitizer report after the summary
		fi
		passed=$((passed + p))
		failed=$((failed + f))
		if [ "$f" -ne 0 ]; then
			failures+=("$label: $bin")
			printf '%s\n' "$out" | tail -40
			echo "FAILED: $label $bin (exit $rc)"
		else
			echo "ok: $label ${bin#"$dir"/test/unit/} ($p tests)"
		fi
	done
}

# run_pytest DIR LABEL: one pytest run; the "N passed" / "N failed" /
# "N error(s)" of its final summary line are added up (only that line: test
# output such as a guest's console can hold the same words). A run that fails
# without counting a failure (collection error, crash) counts as one.
run_pytest() {
	local dir=$1 label=$2 out rc p f summary
	out=$(/usr/bin/python3 -m pytest -q -p no:cacheprovider "$dir" 2>&1)
	rc=$?
	printf '%s\n' "$out" | tail -30
	summary=$(printf '%s\n' "$out" |
		grep -E '^=* *[0-9]+ (passed|failed|errors?|skipped|xfailed|xpassed|deselected|warnings?)\b.* in [0-9.]+s' |
		tail -1)
	p=$(printf '%s\n' "$summary" | grep -Eo '[0-9]+ passed' | grep -Eo '[0-9]+')
	f=$(printf '%s\n' "$summary" | grep -Eo '[0-9]+ (failed|error|errors)' | awk '{s+=$1} END {print s+0}')
	p=${p:-0}
	f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$f" -ne 0 ] && failures+=("$label")
}

run_functional() { run_pytest test/functional functional; }

# The e2e tests boot QEMU guests (TCG): a few minutes; the summary line gives
# the time. Guest console logs are in build/e2e/logs/.
run_e2e() {
	local t0=$SECONDS
	run_pytest test/e2e e2e
	echo "e2e: $((SECONDS - t0)) s"
}

mode=${1:-all}
case "$mode" in
unit) run_unit_dir build unit ;;
asan)
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
	run_unit_dir build-asan asan ;;
functional) run_functional ;;
e2e) run_e2e ;;
all)
	# `make test` builds the sanitizer daemon and tools: tests that use them
	# must not fall back to the plain build there.
	export LVSTOR_REQUIRE_ASAN=1
	run_unit_dir build unit
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
		run_unit_dir build-asan asan
	run_functional
	run_e2e
	;;
*) echo "usage: $0 unit|asan|functional|e2e|all" >&2; exit 2 ;;
esac

echo
if [ ${#failures[@]} -ne 0 ]; then
	echo "failures:"
	printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
