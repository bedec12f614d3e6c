# multiqueue: lvstor.queues hardware queues in blk-mq, and I/O from every CPU
# (each pinned with taskset, so each goes through its own queue) succeeds.
want=${P_queues:-2}
queues=$(ls "$SYS/mq" | wc -l)
[ "$queues" = "$want" ] || fail "queues=$queues, want $want"
cpus=$(grep -c ^processor /proc/cpuinfo)
pids=
c=0
while [ $c -lt "$cpus" ]; do
	first=$((4096 + c * 256))
	taskset -c $c sh -c ". /guest/lib.sh; write_pattern $((500 + c)) $first 256 &&
		[ \"\$(read_md5 $first 256)\" = \"\$(pattern_md5 $((500 + c)) $first 256)\" ]" \
		> /tmp/mq.$c 2>&1 &
	pids="$pids $!"
	c=$((c + 1))
done
bad=
for pid in $pids; do
	wait "$pid" || bad="$bad $pid"
done
[ -z "$bad" ] || fail "I/O on a CPU failed: $(cat /tmp/mq.* | head -3 | tr '\n' ';')"
pass "queues=$queues cpus=$cpus"
