# Helpers for the guest tests (sourced by /init in each test's subshell).
#
# A test calls pass or fail exactly once; both print the LVSTOR-RESULT line
# and end the test's subshell. $T is the test's name, $DEV the block device
# (/dev/vda unless lvstor.dev= says otherwise), $BS the pattern block size.

DEV=/dev/${P_dev:-vda}
SYS=/sys/block/${P_dev:-vda}
BS=4096
T=$t

pass() {
	echo "LVSTOR-RESULT name=$T status=ok detail=$*"
	: > /tmp/reported
	exit 0
}

fail() {
	echo "LVSTOR-RESULT name=$T status=fail detail=$*"
	: > /tmp/reported
	exit 1
}

ready() {
	echo "LVSTOR-READY $T $*"
}

# pattern SEED FIRST COUNT: the bytes of 4 KiB blocks FIRST..FIRST+COUNT-1 of
# the test pattern. Every 64-byte line names the seed, its block and its line,
# so misplaced blocks, swapped sectors and stale data all show. The host
# builds the same bytes (test/e2e/qemu.py: pattern()).
pattern() {
	awk -v s="$1" -v a="$2" -v n="$3" 'BEGIN {
		for (b = a; b < a + n; b++)
			for (l = 0; l < 64; l++)
				printf "%-63s\n", "lvstor-e2e seed=" s " block=" b " line=" l
	}'
}

# write_pattern SEED FIRST COUNT: writes it with O_DIRECT; 0 on success.
write_pattern() {
	pattern "$1" "$2" "$3" |
		dd of="$DEV" bs=$BS seek="$2" count="$3" iflag=fullblock oflag=direct \
			conv=notrunc status=none
}

# read_md5 FIRST COUNT: md5 of those blocks read with O_DIRECT ("" on error).
read_md5() {
	local sum
	sum=$(dd if="$DEV" bs=$BS skip="$1" count="$2" iflag=direct status=none | md5sum) ||
		return 1
	echo "${sum%% *}"
}

pattern_md5() {
	local sum
	sum=$(pattern "$1" "$2" "$3" | md5sum)
	echo "${sum%% *}"
}

drop_caches() {
	sync
	echo 3 > /proc/sys/vm/drop_caches
}

# The kernel's complaints about a failed request on our disk.
io_errors() {
	dmesg | grep -iE "(I/O error|critical target|blk_update_request|print_req_error).*${P_dev:-vda}|${P_dev:-vda}.*(I/O error|error)" |
		head -3 | tr '\n' ';'
}
