# host_data: the host wrote data before boot; blocks lvstor.hd_first ..
# +lvstor.hd_count must hash (sha256) to lvstor.hd_sha256.
first=${P_hd_first:?} count=${P_hd_count:?} want=${P_hd_sha256:?}
got=$(dd if="$DEV" bs=$BS skip="$first" count="$count" iflag=direct status=none |
	sha256sum) || fail "read failed"
got=${got%% *}
[ "$got" = "$want" ] || fail "sha256 $got, want $want"
pass "blocks=$first+$count sha256=$got"
