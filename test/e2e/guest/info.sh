# info: what the guest sees of the disk. Passes when the disk exists; the
# host checks the values: size (bytes, from sysfs 512-byte sectors and from
# blockdev), ro, queues (blk-mq hardware queues), lbs, discard_max,
# write_cache, cpus, serial (VIRTIO_BLK_T_GET_ID, spaces as _), and the
# negotiated virtio features (f_<name>=0|1).
[ -b "$DEV" ] || fail "no $DEV"
sectors=$(cat "$SYS/size")
bytes=$(blockdev --getsize64 "$DEV")
ro=$(cat "$SYS/ro")
queues=$(ls "$SYS/mq" | wc -l)
lbs=$(cat "$SYS/queue/logical_block_size")
dmax=$(cat "$SYS/queue/discard_max_bytes")
wc=$(cat "$SYS/queue/write_cache" | tr ' ' '_')
cpus=$(grep -c ^processor /proc/cpuinfo)
serial=$(cat "$SYS/serial" 2>/dev/null | tr ' ' '_')
# The virtio device's negotiated feature bits, bit n at character n+1.
feat=$(cat "$SYS/device/features" 2>/dev/null)
f=
for nb in ro:5 flush:9 mq:12 discard:13 write_zeroes:14 indirect:28 event_idx:29 \
		version_1:32 packed:34; do
	f="$f f_${nb%%:*}=$(echo "$feat" | cut -c$((${nb#*:} + 1)))"
done
pass "size=$((sectors * 512)) getsize64=$bytes ro=$ro queues=$queues lbs=$lbs" \
	"discard_max=$dmax write_cache=$wc cpus=$cpus serial=$serial$f"
