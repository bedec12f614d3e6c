# info: what the guest sees of the disk. Passes when the disk exists; the
# host checks the values: size (bytes, from sysfs 512-byte sectors and from
# blockdev), ro, queues (blk-mq hardware queues), lbs, discard_max,
# write_cache, cpus.
[ -b "$DEV" ] || fail "no $DEV"
sectors=$(cat "$SYS/size")
bytes=$(blockdev --getsize64 "$DEV")
ro=$(cat "$SYS/ro")
queues=$(ls "$SYS/mq" | wc -l)
lbs=$(cat "$SYS/queue/logical_block_size")
dmax=$(cat "$SYS/queue/discard_max_bytes")
wc=$(cat "$SYS/queue/write_cache" | tr ' ' '_')
cpus=$(grep -c ^processor /proc/cpuinfo)
pass "size=$((sectors * 512)) getsize64=$bytes ro=$ro queues=$queues lbs=$lbs" \
	"discard_max=$dmax write_cache=$wc cpus=$cpus"
