#!/usr/bin/env bash
# Prints the --json configuration of `make run`'s embedded default for the
# device file $1: the file as bdev "Default0" through the file back end
# (io_uring, libaio where io_uring is unavailable), 4 KiB blocks.
set -euo pipefail
dev=$1
[ -e "$dev" ] || { echo "default-config: $dev missing" >&2; exit 1; }
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
        {"method": "bdev_wait_for_examine"}
      ]
    }
  ]
}
JSON
