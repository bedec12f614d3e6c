# flush: with a volatile write cache advertised (VIRTIO_BLK_F_FLUSH -> "write
# back"), buffered writes followed by fsync / sync must succeed and read back
# after the page cache is dropped.
first=${P_fl_first:-2048} count=${P_fl_count:-64}
wc=$(cat "$SYS/queue/write_cache")
[ "$wc" = "write back" ] || fail "write_cache is '$wc', want 'write back'"
pattern 91 "$first" "$count" |
	dd of="$DEV" bs=$BS seek="$first" count="$count" iflag=fullblock conv=notrunc,fsync \
		status=none || fail "dd conv=fsync failed"
pattern 92 "$first" "$count" |
	dd of="$DEV" bs=$BS seek="$first" count="$count" iflag=fullblock conv=notrunc \
		status=none || fail "buffered write failed"
sync || fail "sync failed"
drop_caches
got=$(read_md5 "$first" "$count") || fail "read back failed"
[ "$got" = "$(pattern_md5 92 "$first" "$count")" ] || fail "read back mismatch"
pass "write_cache=write_back"
