#!/usr/bin/env bash
# `make run`: starts lvstord in the foreground on its embedded default.
#
# The default is a sparse file under var/ in the checkout (4 GiB, using no
# space until written), ready for an lvolstore, and the RPC socket at the
# default path so that `scripts/rpc.py` works without -s. Later runs reuse
# the same file. Stop with Ctrl-C (SIGINT): lvstord shuts down cleanly.
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
echo "starting lvstord (RPC socket /var/tmp/lvstord.sock; try: scripts/rpc.py rpc_get_methods)"
exec build/bin/lvstord -m "${LVSTOR_CPUMASK:-0x3}" -S "$STATE_DIR/vhost" --json "$CONFIG" "$@"
