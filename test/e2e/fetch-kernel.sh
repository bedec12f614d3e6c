#!/usr/bin/env bash
# Fetches the guest kernel of the end-to-end tests: Debian's linux-image-amd64,
# unpacked into a cache directory -- never installed on the host (no /boot
# entry, no initramfs-tools or bootloader hooks run).
#
#   fetch-kernel.sh          make sure the kernel is there; print its directory
#   fetch-kernel.sh --quiet  same, without printing
#
# The directory (<cache>/linux-<kver>/) holds boot/vmlinuz-<kver> and
# lib/modules/<kver>/ with only the module trees the guest can need (virtio,
# block, scsi, nvme and the lib/crypto/block/arch helpers they depend on) and
# a modules.dep built by depmod, so `modprobe -d <dir> -S <kver>
# --show-depends` works on it. <cache>/current points at the newest one.
#
# Cache: $LVSTOR_E2E_CACHE, else /var/cache/lvstor-e2e when writable (root),
# else build/e2e/cache in the checkout. A directory is used only when its
# .complete stamp exists, so an interrupted run is redone, never half-used.
# Quick when done: one apt-cache lookup. Offline (nothing resolvable) an
# already unpacked kernel is still used.
set -euo pipefail

quiet=0
case "${1:-}" in
--quiet) quiet=1 ;;
"") ;;
*) echo "usage: $0 [--quiet]" >&2; exit 2 ;;
esac

repo=$(cd "$(dirname "$0")/../.." && pwd)
if [ -n "${LVSTOR_E2E_CACHE:-}" ]; then
	cache=$LVSTOR_E2E_CACHE
elif mkdir -p /var/cache/lvstor-e2e 2>/dev/null && [ -w /var/cache/lvstor-e2e ]; then
	cache=/var/cache/lvstor-e2e
else
	cache=$repo/build/e2e/cache
fi
mkdir -p "$cache"

say() { [ "$quiet" -eq 1 ] || echo "$@"; }
log() { echo "fetch-kernel: $*" >&2; }

# linux-image-amd64 is a metapackage; its one dependency names the real
# package, linux-image-<kver>.
resolve() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -1
}

pkg=$(resolve || true)
if [ -z "$pkg" ] && [ "$(id -u)" -eq 0 ]; then
	# A clean machine may have no package lists yet.
	if [ ! -e "$cache/current/.complete" ]; then
		log "updating package lists"
		apt-get update -qq >/dev/null || true
		pkg=$(resolve || true)
	fi
fi
if [ -z "$pkg" ]; then
	if [ -e "$cache/current/.complete" ]; then
		say "$(readlink -f "$cache/current")"
		exit 0
	fi
	log "cannot resolve linux-image-amd64 (apt-cache depends) and nothing cached in $cache"
	exit 1
fi
kver=${pkg#linux-image-}
dir=$cache/linux-$kver

if [ ! -e "$dir/.complete" ]; then
	log "fetching $pkg into $dir"
	tmp=$(mktemp -d "$cache/tmp.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	# apt-get download writes into the current directory; as root it warns
	# that the _apt sandbox user cannot write there, which is harmless.
	download() {
		(cd "$tmp" && apt-get download -qq "$pkg" 2>&1 | grep -v 'unsandboxed' >&2 || true)
		deb=$(ls "$tmp"/linux-image-*.deb 2>/dev/null | head -1)
	}
	download
	if [ -z "$deb" ] && [ "$(id -u)" -eq 0 ]; then
		# Stale lists can name a kernel the mirror no longer has.
		log "retrying after apt-get update"
		apt-get update -qq >/dev/null || true
		pkg=$(resolve || true)
		[ -n "$pkg" ] && [ "${pkg#linux-image-}" = "$kver" ] && download
	fi
	if [ -z "$deb" ]; then
		log "apt-get download $pkg failed"
		exit 1
	fi
	mkdir "$tmp/root"
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp/root" --wildcards \
		"./boot/vmlinuz-$kver" "./boot/config-$kver" \
		"./lib/modules/$kver/modules.*" \
		"./lib/modules/$kver/kernel/drivers/virtio" \
		"./lib/modules/$kver/kernel/drivers/block" \
		"./lib/modules/$kver/kernel/drivers/scsi" \
		"./lib/modules/$kver/kernel/drivers/nvme" \
		"./lib/modules/$kver/kernel/lib" \
		"./lib/modules/$kver/kernel/crypto" \
		"./lib/modules/$kver/kernel/block" \
		"./lib/modules/$kver/kernel/arch"
	depmod -b "$tmp/root" "$kver"
	echo "$pkg" > "$tmp/root/.package"
	touch "$tmp/root/.complete"
	rm -rf "$dir"
	mv "$tmp/root" "$dir"
	rm -rf "$tmp"
	trap - EXIT
	log "kernel $kver ready"
fi
ln -sfn "linux-$kver" "$cache/current"
say "$dir"
