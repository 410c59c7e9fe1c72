#!/usr/bin/env bash
# Builds what the VM tests boot, into $1 (default .build-vm): a Debian kernel, a busybox
# initramfs that mounts the root and switches to it, and a Debian 12 root image with
# systemd, udev, libpci3 (which the product needs from the node besides glibc and
# libudev), the shipped binary (dist/harvester-sriov, from scripts/build-release) as an
# installer would carry it, and the in-guest test driver. Everything comes from Debian's archive
# through apt and debootstrap; nothing else is downloaded.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=$(mkdir -p "${1:-$repo/.build-vm}" && cd "${1:-$repo/.build-vm}" && pwd)
work="$out/work"
rm -rf "$work"
mkdir -p "$work"
log() { echo "build-image: $*" >&2; }
binary="$repo/dist/harvester-sriov"
[ -f "$binary" ] || { log "no $binary: run scripts/build-release first"; exit 66; }

# 1. The kernel: the one linux-image-amd64 names today, unpacked, with modules.dep.
kernel_package=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$kernel_package" ] || { log "cannot find the kernel package (apt-get update?)"; exit 69; }
log "kernel: $kernel_package"
(cd "$work" && apt-get download -q "$kernel_package" 2>/dev/null)
dpkg -x "$work"/linux-image-*.deb "$work/kernel"
release=$(ls "$work/kernel/lib/modules")
depmod -b "$work/kernel" "$release"
cp "$work/kernel/boot/vmlinuz-$release" "$out/vmlinuz"

# The modules a module needs, itself last, from modules.dep.
modules_for() {
  local wanted=("$@") resolved=() seen=" "
  resolve() {
    local path
    path=$(awk -v m="/$1.ko:" 'index($0, m) { sub(/:.*/, ""); print; exit }' "$work/kernel/lib/modules/$release/modules.dep")
    [ -n "$path" ] || { log "no module $1"; exit 70; }
    case "$seen" in *" $path "*) return ;; esac
    seen="$seen$path "
    for dependency in $(awk -v p="$path:" '$1 == p { $1 = ""; print }' "$work/kernel/lib/modules/$release/modules.dep"); do
      resolve "$(basename "$dependency" .ko)"
    done
    resolved+=("$path")
  }
  for module in "${wanted[@]}"; do resolve "$module"; done
  printf '%s\n' "${resolved[@]}"
}

copy_modules() { # DEST MODULE...
  local dest=$1; shift
  for path in $(modules_for "$@"); do
    mkdir -p "$dest/lib/modules/$release/$(dirname "$path")"
    cp "$work/kernel/lib/modules/$release/$path" "$dest/lib/modules/$release/$path"
  done
  cp "$work/kernel/lib/modules/$release"/modules.{order,builtin,builtin.modinfo} "$dest/lib/modules/$release/"
  depmod -b "$dest" "$release"
}

# 2. The initramfs: busybox, virtio-blk and ext4, an init that switches to /dev/vda.
initramfs="$work/initramfs"
mkdir -p "$initramfs"/{bin,dev,proc,sys,newroot}
cp /bin/busybox "$initramfs/bin/busybox"
initrd_modules=(virtio_pci virtio_blk crc32c_generic ext4)
copy_modules "$initramfs" "${initrd_modules[@]}"
cat > "$initramfs/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for module in ${initrd_modules[*]}; do modprobe \$module; done
for i in \$(seq 50); do [ -b /dev/vda ] && break; sleep 0.1; done
mount -t ext4 -o rw /dev/vda /newroot || { echo "initramfs: cannot mount /dev/vda"; poweroff -f; }
umount /proc /sys
mount --move /dev /newroot/dev 2>/dev/null || umount /dev
exec switch_root /newroot /sbin/init
INIT
chmod +x "$initramfs/init"
(cd "$initramfs" && find . | cpio -o -H newc --quiet | gzip -1) > "$out/initrd.gz"

# 3. The root: Debian 12 with systemd and udev, and the libraries the shipped binary needs
# (no libyaml or libnl: it carries them).
root="$work/root"
log "debootstrap (a minute)"
debootstrap --variant=minbase \
  --include=systemd-sysv,udev,kmod,iproute2,pciutils,pci.ids,libudev1,libpci3 \
  bookworm "$root" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 \
  || { tail -20 "$work/debootstrap.log" >&2; exit 69; }
copy_modules "$root" igb igbvf vfio-pci vfio_iommu_type1
echo harvester-sriov-vm > "$root/etc/hostname"
echo "/dev/vda / ext4 rw,errors=remount-ro 0 1" > "$root/etc/fstab"
ln -sf /dev/null "$root/etc/systemd/system/getty@tty1.service"
ln -sf /dev/null "$root/etc/systemd/system/serial-getty@ttyS0.service"
# The journal lives on disk, so that the host can read it after a failed run.
mkdir -p "$root/var/log/journal"

# 4. What the installer carries: the binary, the glue, the policies; and the test driver.
media="$root/opt/harvester-sriov"
mkdir -p "$media"
cp "$binary" "$media/harvester-sriov"
cp "$repo/installer-scripts/harvester-sriov-hook.sh" "$media/"
cp -r "$here/policies" "$media/policies"
cp "$here/guest/vmtest.sh" "$root/usr/local/sbin/vmtest"
cp "$here/guest/vmtest.service" "$root/etc/systemd/system/"
ln -sf ../vmtest.service "$root/etc/systemd/system/multi-user.target.wants/vmtest.service"
mkdir -p "$root/var/lib/vmtest"
echo install > "$root/var/lib/vmtest/phase"

log "root image"
rm -f "$out/rootfs.img"
mkfs.ext4 -q -L vmroot -d "$root" "$out/rootfs.img" 1G
rm -rf "$work"
log "done: $out/{vmlinuz,initrd.gz,rootfs.img}"
