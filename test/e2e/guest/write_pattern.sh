# write_pattern: writes the pattern (seed lvstor.seed) to blocks
# lvstor.wp_first .. +lvstor.wp_count with O_DIRECT, flushes, and reads it
# back. The host checks the same bytes on the volume after the VM exits.
seed=${P_seed:?} first=${P_wp_first:-0} count=${P_wp_count:-256}
write_pattern "$seed" "$first" "$count" || fail "write failed"
sync
got=$(read_md5 "$first" "$count") || fail "read back failed"
want=$(pattern_md5 "$seed" "$first" "$count")
[ "$got" = "$want" ] || fail "read back md5 $got, want $want"
pass "blocks=$first+$count md5=$got"
