#!/usr/bin/env bash
# Prints the --json configuration of `make run`'s embedded default for the
# device file $1: the file as bdev "Default0" through the file back end
# (io_uring, libaio where io_uring is unavailable), 4 KiB blocks, and the
# lvolstore "lvs0" on it ($LVSTOR_DEFAULT_LVS to name it otherwise).
#
# The store is created only on a device that holds no blobstore at all
# (first run): a device whose first bytes say SPDKBLOB already has one,
# which the daemon loads by itself when it examines Default0 (later runs).
# So this never formats over existing data; a blobstore of another type, or
# one too damaged to load, is left alone and reported on stderr.
set -euo pipefail
dev=$1
lvs=${LVSTOR_DEFAULT_LVS:-lvs0}
[ -e "$dev" ] || { echo "default-config: $dev missing" >&2; exit 1; }

# Superblock (spec/blobstore-format.md §2): signature at 0, bstype at 56.
sig=$(head -c 8 "$dev" | tr -d '\0')
bstype=$(dd if="$dev" bs=1 skip=56 count=16 status=none | tr -d '\0')
create_lvs=""
if [ "$sig" != "SPDKBLOB" ]; then
	create_lvs=$(cat <<JSON
        {
          "method": "bdev_lvol_create_lvstore",
          "params": {"bdev_name": "Default0", "lvs_name": "$lvs"}
        },
JSON
)
	echo "default-config: no lvolstore on $dev yet: creating \"$lvs\"" >&2
elif [ -n "$bstype" ] && [ "$bstype" != "LVOLSTORE" ]; then
	echo "default-config: $dev holds a blobstore of type \"$bstype\", not an lvolstore;" \
		"leaving it alone" >&2
fi

cat <<JSON
{
  "subsystems": [
    {
      "subsystem": "bdev",
      "config": [
        {
          "method": "bdev_aio_create",
          "params": {"name": "Default0", "filename": "$dev", "block_size": 4096}
        },
$create_lvs
        {"method": "bdev_wait_for_examine"}
      ]
    }
  ]
}
JSON
