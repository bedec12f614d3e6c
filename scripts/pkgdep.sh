#!/usr/bin/env bash
# Installs every Debian package lvstor's build, tests and benchmarks need.
# Idempotent: when everything is present it prints nothing and exits 0.
#
#   pkgdep.sh          what `make run`, `make bench` and the unit and
#                      functional tests need
#   pkgdep.sh --e2e    also the end-to-end tests' QEMU, busybox, kmod and
#                      cpio, and their guest kernel (`make test`, `make e2e`)
#   pkgdep.sh --fuzz   also clang and its sanitizer/libFuzzer runtimes
#                      (`make fuzz`; not needed by anything else)
#
# The guest kernel is Debian's linux-image-amd64, fetched with apt-get
# download and unpacked into a cache (test/e2e/fetch-kernel.sh), never
# installed: the host's /boot and its package hooks stay untouched.
set -euo pipefail

fuzz=0
e2e=0
for arg in "$@"; do
	case "$arg" in
	--fuzz) fuzz=1 ;;
	--e2e) e2e=1 ;;
	*) echo "usage: $0 [--e2e] [--fuzz]" >&2; exit 2 ;;
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
if [ "$e2e" -eq 1 ]; then
	packages+=(
		qemu-system-x86    # the guest VM (TCG; no /dev/kvm needed)
		busybox-static     # the guest's userland
		kmod               # modprobe --show-depends, depmod on the guest modules
		cpio               # the initramfs archive
	)
fi
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
if [ ${#missing[@]} -ne 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "pkgdep: missing packages: ${missing[*]} (run as root to install)" >&2
		exit 1
	fi
	echo "pkgdep: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$e2e" -eq 1 ]; then
	"$(dirname "$0")/../test/e2e/fetch-kernel.sh" --quiet
fi
exit 0
