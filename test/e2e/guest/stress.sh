# stress: write/read-verify rounds on blocks lvstor.st_first .. +st_count for
# lvstor.st_secs seconds (guest clock), each round with its own seed. Any
# failed dd, wrong data or kernel I/O error fails the test. Prints READY after
# the first round so the host can disturb the target (kill and restart it)
# while this runs.
first=${P_st_first:-6000} count=${P_st_count:-64} secs=${P_st_secs:-20}
end=$(($(date +%s) + secs))
n=0
while :; do
	s=$((1000 + n))
	write_pattern $s "$first" "$count" || fail "round $n: write failed"
	got=$(read_md5 "$first" "$count") || fail "round $n: read failed"
	[ "$got" = "$(pattern_md5 $s "$first" "$count")" ] || fail "round $n: data mismatch"
	[ $n -eq 0 ] && ready "io running"
	n=$((n + 1))
	[ "$(date +%s)" -ge "$end" ] && break
done
e=$(io_errors)
[ -z "$e" ] || fail "kernel I/O errors: $e"
pass "rounds=$n"
