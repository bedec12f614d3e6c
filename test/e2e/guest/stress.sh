# stress: write/read-verify rounds on blocks lvstor.st_first .. +st_count for
# lvstor.st_secs seconds (guest clock), each round with its own seed, while a
# background reader keeps O_DIRECT reads of another range in flight all the
# time. Any failed dd, wrong data or kernel I/O error fails the test. Prints
# READY after the first round so the host can disturb the target (kill and
# restart it) while this runs.
first=${P_st_first:-6000} count=${P_st_count:-64} secs=${P_st_secs:-20}
end=$(($(date +%s) + secs))
rm -f /tmp/st.stop /tmp/st.bad
(
	r=0
	while [ ! -e /tmp/st.stop ]; do
		dd if="$DEV" of=/dev/null bs=$BS skip=$((first + count)) count=256 iflag=direct \
			status=none 2>>/tmp/st.bad.msg || echo "read $r" >> /tmp/st.bad
		r=$((r + 1))
	done
	echo $r > /tmp/st.reads
) &
reader=$!
n=0
while :; do
	s=$((1000 + n))
	write_pattern $s "$first" "$count" || { touch /tmp/st.stop; fail "round $n: write failed"; }
	got=$(read_md5 "$first" "$count") || { touch /tmp/st.stop; fail "round $n: read failed"; }
	[ "$got" = "$(pattern_md5 $s "$first" "$count")" ] ||
		{ touch /tmp/st.stop; fail "round $n: data mismatch"; }
	[ $n -eq 0 ] && ready "io running"
	n=$((n + 1))
	[ "$(date +%s)" -ge "$end" ] && break
done
touch /tmp/st.stop
wait $reader
[ ! -e /tmp/st.bad ] || fail "background reads failed: $(head -2 /tmp/st.bad.msg | tr '\n' ';')"
e=$(io_errors)
[ -z "$e" ] || fail "kernel I/O errors: $e"
pass "rounds=$n reads=$(cat /tmp/st.reads)"
