# reboot: the guest reboots once (reboot -f; QEMU reconnects the same device
# after the reset) and does I/O on both boots. Block lvstor.rb_block holds the
# boot marker: first boot (no marker) writes the pattern and the marker and
# reboots; the second verifies the pattern, writes and reads again, and
# reports. Must be the last test of the list.
mb=${P_rb_block:-8000} seed=${P_seed:-1}
first=$((mb - 128))
marker=$(dd if="$DEV" bs=$BS skip="$mb" count=1 iflag=direct status=none | head -c 16)
if [ "$marker" != "lvstor-rebooted!" ]; then
	write_pattern "$seed" "$first" 64 || fail "first boot: write failed"
	printf 'lvstor-rebooted!' | dd of="$DEV" bs=$BS seek="$mb" count=1 conv=sync,notrunc \
		oflag=direct status=none || fail "first boot: marker write failed"
	ready "rebooting"
	sync
	reboot -f
	sleep 30
	fail "reboot -f returned"
fi
got=$(read_md5 "$first" 64) || fail "second boot: read failed"
[ "$got" = "$(pattern_md5 "$seed" "$first" 64)" ] || fail "second boot: first boot's data differs"
write_pattern $((seed + 1)) $((first + 64)) 64 || fail "second boot: write failed"
got=$(read_md5 $((first + 64)) 64) || fail "second boot: read back failed"
[ "$got" = "$(pattern_md5 $((seed + 1)) $((first + 64)) 64)" ] || fail "second boot: read back mismatch"
pass "second_boot=yes"
