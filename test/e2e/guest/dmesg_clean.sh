# dmesg_clean: the kernel logged no I/O error for the disk during this boot.
e=$(io_errors)
[ -z "$e" ] || fail "$e"
pass "no I/O errors"
