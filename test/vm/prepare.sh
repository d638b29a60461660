#!/usr/bin/env bash
# Prepares a second kernel for the kernel tests: Debian 12's stock kernel (BTF, kprobes, fentry and
# the BPF LSM active), booted under qemu with the host's root file system shared read-only over 9p.
# Caches the kernel and the initramfs in $KITE_VM_CACHE (default /var/cache/kite/vm), outside the
# repository; rebuilt from Debian's packages when missing. Prints the cache folder on stdout.
set -euo pipefail
CACHE=${KITE_VM_CACHE:-/var/cache/kite/vm}
HERE=$(cd "$(dirname "$0")" && pwd)
log() { echo "[vm] $*" >&2; }
mkdir -p "$CACHE"

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx insmod || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "${need[@]}" >&2 || { apt-get update -qq >&2 && apt-get install -y -qq "${need[@]}" >&2; }
fi

pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
if [ -z "$pkg" ]; then apt-get update -qq >&2; pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}'); fi
ver=${pkg#linux-image-}
if [ ! -f "$CACHE/$ver/vmlinuz" ]; then
  log "fetching $pkg from Debian's archive"
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download "$pkg" >&2)
  mkdir -p "$CACHE/$ver/root"
  dpkg -x "$tmp"/*.deb "$CACHE/$ver/root"
  cp "$CACHE/$ver/root/boot/vmlinuz-$ver" "$CACHE/$ver/vmlinuz"
  rm -rf "$tmp"
fi

initrd="$CACHE/$ver/initrd.gz"
if [ ! -f "$initrd" ] || [ "$HERE/init" -nt "$initrd" ]; then
  log "building the initramfs"
  work=$(mktemp -d)
  mkdir -p "$work"/{bin,sbin,proc,sys,dev,host,results,modules,tmp}
  cp /bin/busybox "$work/bin/busybox"
  for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci netfs fscache 9pnet 9pnet_virtio 9p veth; do
    f=$(find "$CACHE/$ver/root/lib/modules" -name "$m.ko*" | head -1)
    if [ -z "$f" ]; then log "module $m not in $pkg (built in?)"; continue; fi
    case "$f" in
      *.xz) xz -dc "$f" > "$work/modules/$m.ko" ;;
      *.zst) zstd -dcq "$f" > "$work/modules/$m.ko" ;;
      *) cp "$f" "$work/modules/$m.ko" ;;
    esac
    echo "$m" >> "$work/modules/order"
  done
  cp "$HERE/init" "$work/init"
  chmod +x "$work/init"
  (cd "$work" && find . | /bin/busybox cpio -o -H newc 2>/dev/null | gzip -1 > "$initrd")
  rm -rf "$work"
fi
echo "$CACHE/$ver"
