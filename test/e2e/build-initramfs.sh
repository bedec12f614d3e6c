#!/usr/bin/env bash
# Builds the end-to-end tests' guest initramfs: static busybox, the guest
# kernel's storage modules and the guest test scripts, as a gzip'd newc cpio.
#
#   build-initramfs.sh KERNEL_DIR [OUT_DIR]
#
# KERNEL_DIR is what test/e2e/fetch-kernel.sh prints (boot/vmlinuz-<kver>,
# lib/modules/<kver>/ with modules.dep). OUT_DIR defaults to build/e2e. Prints
# the path of the image, OUT_DIR/initramfs-<hash>.cpio.gz, where <hash>
# covers every input (this script, init, guest/*.sh, the busybox binary, the
# kernel package and the module list): an unchanged input set reuses the
# image, any change builds a new one.
#
# Modules go in the order `modprobe --show-depends` gives for each wanted
# module (dependencies first, each once); /etc/modules.load lists them and
# /init insmods them in that order. Built-in ones need nothing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
kdir=${1:?usage: $0 KERNEL_DIR [OUT_DIR]}
out=${2:-$repo/build/e2e}
kdir=$(cd "$kdir" && pwd)
busybox=${BUSYBOX:-/bin/busybox}

# virtio-pci transport, virtio-blk (vhost-user-blk), virtio-scsi + sd for
# vhost-user-scsi, nvme for the NVMe work later on.
wanted=(virtio virtio_ring virtio_pci virtio_blk virtio_scsi sd_mod nvme)

kver=$(ls "$kdir/lib/modules" | head -1)
[ -n "$kver" ] && [ -e "$kdir/lib/modules/$kver/modules.dep" ] ||
	{ echo "build-initramfs: no depmod'ed modules under $kdir/lib/modules" >&2; exit 1; }
[ -x "$busybox" ] || { echo "build-initramfs: $busybox missing (busybox-static)" >&2; exit 1; }

# Ordered, de-duplicated module paths.
mods=()
declare -A seen=()
for m in "${wanted[@]}"; do
	deps=$(modprobe -d "$kdir" -S "$kver" --show-depends "$m") ||
		{ echo "build-initramfs: modprobe --show-depends $m failed" >&2; exit 1; }
	while read -r verb path _; do
		[ "$verb" = insmod ] || continue     # "builtin <name>" needs nothing
		[ -n "${seen[$path]:-}" ] && continue
		seen[$path]=1
		mods+=("$path")
	done <<< "$deps"
done

key=$( {
	sha256sum "$0" "$here/init" "$here"/guest/*.sh "$busybox" | awk '{print $1}'
	cat "$kdir/.package" 2>/dev/null || true
	echo "$kver"
	printf '%s\n' "${mods[@]##*/}"
} | sha256sum | cut -c1-16)
img=$out/initramfs-$key.cpio.gz
if [ -s "$img" ]; then
	touch "$img"    # in use: see the pruning below
	echo "$img"
	exit 0
fi

mkdir -p "$out"
stage=$(mktemp -d "$out/initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,lib/modules,guest}
cp "$busybox" "$stage/bin/busybox"
cp "$here/init" "$stage/init"
chmod 755 "$stage/init"
cp "$here"/guest/*.sh "$stage/guest/"
: > "$stage/etc/modules.load"
for p in "${mods[@]}"; do
	cp "$p" "$stage/lib/modules/"
	echo "${p##*/}" >> "$stage/etc/modules.load"
done
echo "$kver" > "$stage/etc/kernel-version"
# No device nodes in the image (building it needs no root): /init mounts
# devtmpfs and reopens its stdio on /dev/console itself.
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) |
	gzip -1 > "$stage.cpio.gz"
mv "$stage.cpio.gz" "$img"
# Images of other input sets: a run in progress elsewhere may still be
# about to boot one (its path was handed out already), so only those unused
# for a day go.
find "$out" -maxdepth 1 -name 'initramfs-*.cpio.gz' ! -name "${img##*/}" -mtime +0 -delete
echo "$img"
