#!/usr/bin/env bash
# Installs every Debian package lvstor's build, tests and benchmarks need.
# Idempotent: when everything is present it prints nothing and exits 0.
#
#   pkgdep.sh          what `make test`, `make run` and `make bench` need
#   pkgdep.sh --fuzz   also clang and its sanitizer/libFuzzer runtimes
#                      (`make fuzz`; not needed by anything else)
set -euo pipefail

fuzz=0
for arg in "$@"; do
	case "$arg" in
	--fuzz) fuzz=1 ;;
	*) echo "usage: $0 [--fuzz]" >&2; exit 2 ;;
	esac
done

packages=(
	build-essential pkg-config
	libdpdk-dev        # lib/env: EAL, rings, mempools; lib/vhost: rte_vhost
	libisal-dev        # crc32c
	uuid-dev libjansson-dev
	liburing-dev libaio-dev
	libcmocka-dev      # unit tests
	python3 python3-pytest   # rpc.py and functional tests
	procps psmisc            # ps/pkill in functional tests
	xz-utils                 # the SPDK fixture image is xz-compressed
)
if [ "$fuzz" -eq 1 ]; then
	packages+=(
		clang                 # make fuzz: -fsanitize=fuzzer,address,undefined
		libclang-rt-14-dev    # libFuzzer, ASan and UBSan runtimes of clang 14
	)
fi

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "pkgdep: missing packages: ${missing[*]} (run as root to install)" >&2
	exit 1
fi
echo "pkgdep: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
