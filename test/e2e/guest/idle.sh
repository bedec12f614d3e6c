# idle: a little I/O, then READY and lvstor.idle_secs seconds without any,
# so the host can measure what an idle connected guest costs the target.
dd if="$DEV" of=/dev/null bs=$BS count=16 iflag=direct status=none || fail "read failed"
ready "idle from now"
sleep "${P_idle_secs:-6}"
pass "idle_secs=${P_idle_secs:-6}"
