#!/usr/bin/env bash
# Prints the --json configuration of `make run`'s embedded default for the
# device file $1. Until the bdev layer exists there is nothing to set up,
# so the document has no subsystems; later issues add the file bdev and
# the lvolstore here.
set -euo pipefail
dev=$1
[ -e "$dev" ] || { echo "default-config: $dev missing" >&2; exit 1; }
cat <<JSON
{
  "subsystems": []
}
JSON
