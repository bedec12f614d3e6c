# readonly: the disk is read-only (ro=1) and a write fails, while a read works.
ro=$(cat "$SYS/ro")
[ "$ro" = 1 ] || fail "ro=$ro"
dd if="$DEV" of=/dev/null bs=$BS count=16 iflag=direct status=none || fail "read failed"
if dd if=/dev/zero of="$DEV" bs=$BS count=1 oflag=direct conv=notrunc status=none \
		2>/tmp/ro.err; then
	fail "write to the read-only disk succeeded"
fi
pass "ro=1 write_error=$(head -1 /tmp/ro.err | tr ' ' '_')"
