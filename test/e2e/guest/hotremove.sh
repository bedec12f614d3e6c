# hotremove: reads work; the host then deletes the bdev under the connected
# controller (after READY); every later read and write must fail with an
# I/O error (VIRTIO_BLK_S_IOERR), promptly and without hanging the guest.
dd if="$DEV" of=/dev/null bs=$BS count=8 iflag=direct status=none || fail "read before removal failed"
ready "delete the bdev now"
i=0
while dd if="$DEV" of=/dev/null bs=$BS count=1 iflag=direct status=none 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 300 ] || fail "reads still succeed 60 s after READY"
	sleep 0.2
done
dd if=/dev/zero of="$DEV" bs=$BS count=1 oflag=direct conv=notrunc status=none 2>/dev/null &&
	fail "a write succeeded after the bdev was removed"
errs=$(io_errors)
[ -n "$errs" ] || fail "the failed read left no I/O error in dmesg"
pass "polls=$i"
