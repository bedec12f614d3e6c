#!/usr/bin/env bash
# `make run`: starts lvstord in the foreground on its embedded default.
#
# The default is a sparse file under var/ in the checkout (4 GiB, using no
# space until written) as bdev Default0 with the lvolstore "lvs0" on it
# (created on the first run, found again by examine on later runs; see
# default-config.sh), and the RPC socket at the default path so that
# `scripts/rpc.py` works without -s. Stop with Ctrl-C (SIGINT): lvstord
# shuts down cleanly and the store is unloaded clean.
set -euo pipefail
cd "$(dirname "$0")/.."

STATE_DIR=${LVSTOR_STATE_DIR:-$PWD/var}
DEFAULT_DEV=$STATE_DIR/lvstor-default.img
DEFAULT_SIZE=${LVSTOR_DEFAULT_SIZE:-4G}
mkdir -p "$STATE_DIR/vhost"
if [ ! -e "$DEFAULT_DEV" ]; then
	truncate -s "$DEFAULT_SIZE" "$DEFAULT_DEV"
	echo "created sparse default device $DEFAULT_DEV ($DEFAULT_SIZE)"
fi
CONFIG=$STATE_DIR/default-config.json
scripts/default-config.sh "$DEFAULT_DEV" > "$CONFIG"
echo "starting lvstord (RPC socket /var/tmp/lvstord.sock)"
echo "try: scripts/rpc.py bdev_lvol_get_lvstores; scripts/rpc.py bdev_lvol_create -l ${LVSTOR_DEFAULT_LVS:-lvs0} vol0 1024"
exec build/bin/lvstord -m "${LVSTOR_CPUMASK:-0x3}" -S "$STATE_DIR/vhost" --json "$CONFIG" "$@"
