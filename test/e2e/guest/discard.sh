# discard: blkdiscard a written range (lvstor.dc_first/dc_count blocks); the
# device must advertise discard and the request must succeed. Whether the
# range then reads as zeroes is reported (zeroes=yes|no), not required:
# virtio-blk does not promise it.
first=${P_dc_first:-1024} count=${P_dc_count:-256}
dmax=$(cat "$SYS/queue/discard_max_bytes")
[ "$dmax" -gt 0 ] || fail "no discard support (discard_max_bytes=0)"
write_pattern 77 "$first" "$count" || fail "write before discard failed"
blkdiscard -o $((first * BS)) -l $((count * BS)) "$DEV" 2>/tmp/dc.err ||
	fail "blkdiscard: $(cat /tmp/dc.err)"
drop_caches
got=$(read_md5 "$first" "$count") || fail "read after discard failed"
zero=$(dd if=/dev/zero bs=$BS count="$count" status=none | md5sum)
z=no
[ "$got" = "${zero%% *}" ] && z=yes
pass "discard_max=$dmax zeroes=$z"
