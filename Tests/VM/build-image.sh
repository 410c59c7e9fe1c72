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
initrd_modules=(virtio_pci virtio_blk crc32c_generic ext4 overlay)
copy_modules "$initramfs" "${initrd_modules[@]}"
# Without vmtest.layout=harvester on the kernel command line: /dev/vda, read-write.
# With it, the disks and mounts of Harvester's Elemental OS (harvester-installer
# pkg/config/templates/cos-rootfs.yaml; docs/harvester.md): the OS image read-only, /etc
# /var /srv as tmpfs overlays rebuilt at every boot, the persistent partition (vdb) on
# /usr/local with PERSISTENT_STATE_PATHS bind-mounted from it (copied from the image the
# first time), the OEM partition (vdc) on /oem, then the /oem yip files' initramfs stage
# (Tests/VM/guest/yip-standin.py), all before systemd starts. vmtest.mode=installer boots
# the installer's live system instead (no partitions mounted; the test mounts them under
# /run/cos/target); vmtest.mode=recovery a recovery boot (no persistent partition).
cat > "$initramfs/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for module in MODULES; do modprobe $module; done
for i in $(seq 50); do [ -b /dev/vda ] && break; sleep 0.1; done
fail() { echo "initramfs: $*"; poweroff -f; }
arg() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^$1=//p"; }
if [ "$(arg vmtest.layout)" != harvester ]; then
  mount -t ext4 -o rw /dev/vda /newroot || fail "cannot mount /dev/vda"
else
  mode=$(arg vmtest.mode)
  mount -t ext4 -o ro /dev/vda /newroot || fail "cannot mount the OS image"
  mount -t tmpfs -o mode=755 tmpfs /newroot/run
  mount -t tmpfs -o mode=1777 tmpfs /newroot/tmp
  mkdir -p /newroot/run/cos /newroot/run/overlay
  case "$mode" in
    installer) touch /newroot/run/cos/live_mode ;;
    recovery) touch /newroot/run/cos/recovery_mode ;;
    *) touch /newroot/run/cos/active_mode ;;
  esac
  for path in /etc /var /srv; do
    mkdir -p /newroot/run/overlay$path/upper /newroot/run/overlay$path/work
    mount -t overlay overlay -o lowerdir=/newroot$path,upperdir=/newroot/run/overlay$path/upper,workdir=/newroot/run/overlay$path/work \
      /newroot$path || fail "cannot overlay $path"
  done
  echo "/dev/vda / ext4 ro 0 0" > /newroot/etc/fstab
  if [ "$mode" != installer ]; then
    mount -t ext4 /dev/vdc /newroot/oem || fail "cannot mount the OEM partition"
  fi
  if [ -z "$mode" ]; then
    mount -t ext4 /dev/vdb /newroot/usr/local || fail "cannot mount the persistent partition"
    for path in PERSISTENT_STATE_PATHS; do
      [ -d /newroot$path ] || mkdir -p /newroot$path 2>/dev/null || continue
      state=/newroot/usr/local/.state/$(echo ${path#/} | tr / -).bind
      if [ ! -d $state ]; then
        mkdir -p $state && cp -a /newroot$path/. $state/
      fi
      mount --bind $state /newroot$path
    done
  fi
fi
mount --move /dev /newroot/dev 2>/dev/null || umount /dev
if [ "$(arg vmtest.layout)" = harvester ] && [ "$mode" != installer ]; then
  # yip runs the initramfs stage in the initrd, before systemd starts in the new root.
  chroot /newroot /usr/bin/python3 /usr/lib/vmtest/yip-standin.py initramfs /system/oem /oem /usr/local/cloud-config \
    > /newroot/run/yip-initramfs.log 2>&1 || echo "initramfs: the yip stage failed; see /run/yip-initramfs.log"
fi
umount /proc /sys
exec switch_root /newroot /sbin/init
INIT
# harvester-installer's PERSISTENT_STATE_PATHS (cos-rootfs.yaml).
persistent="/etc/NetworkManager /etc/systemd /etc/rancher /etc/ssh /etc/iscsi /etc/nvme /etc/cni /etc/pki/trust/anchors"
persistent+=" /home /opt /root /usr/libexec /var/log /var/lib/rancher /var/lib/kubelet /var/lib/wicked"
persistent+=" /var/lib/NetworkManager /var/lib/cni /var/lib/third-party /var/crash /var/lib/longhorn"
sed -i -e "s|MODULES|${initrd_modules[*]}|" -e "s|PERSISTENT_STATE_PATHS|$persistent|" "$initramfs/init"
chmod +x "$initramfs/init"
(cd "$initramfs" && find . | cpio -o -H newc --quiet | gzip -1) > "$out/initrd.gz"

# 3. The root: Debian 12 with systemd and udev, and the libraries the shipped binary needs
# (no libyaml or libnl: it carries them); Python and PyYAML for the stand-ins; curl, which
# the example install configuration fetches the release archive with (Harvester OS has it).
root="$work/root"
log "debootstrap (a minute)"
debootstrap --variant=minbase \
  --include=systemd-sysv,udev,kmod,iproute2,pciutils,pci.ids,libudev1,libpci3,python3-minimal,python3-yaml,curl \
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
mkdir -p "$root/usr/lib/vmtest" "$root/oem"
cp "$here/guest/vmtest.sh" "$root/usr/lib/vmtest/vmtest"
cp "$here/guest/yip-standin.py" "$here/guest/pcidevices-standin.sh" "$here/guest/pcidevices-claim-standin.sh" \
  "$here/guest/after-install-chroot-standin.py" "$repo/installer-scripts/harvester-config-example.yaml" "$root/usr/lib/vmtest/"
cp "$here/guest/vmtest.service" "$here/guest/vmtest-yip-boot.service" "$root/etc/systemd/system/"
ln -sf ../vmtest.service "$root/etc/systemd/system/multi-user.target.wants/vmtest.service"
ln -sf ../vmtest-yip-boot.service "$root/etc/systemd/system/multi-user.target.wants/vmtest-yip-boot.service"
mkdir -p "$root/var/lib/vmtest"
echo install > "$root/var/lib/vmtest/phase"

echo 1 > "$root/etc/vmtest-os-version"

log "root images"
rm -f "$out"/*.img
# The Harvester OS image has /oem (the OEM partition's mount point); the generic root
# must not, or the hook would choose the harvester layout there too.
mkfs.ext4 -q -L vmroot -d "$root" "$out/harvester-os.img" 1G
rmdir "$root/oem"
mkfs.ext4 -q -L vmroot -d "$root" "$out/rootfs.img" 1G
# The upgrade: a new OS image, different in /etc (whose non-persistent parts revert to it).
echo 2 > "$root/etc/vmtest-os-version"
mkdir "$root/oem"
mkfs.ext4 -q -L vmroot -d "$root" "$out/harvester-os-v2.img" 1G
# Elemental's partitions: persistent (/usr/local), OEM (/oem); empty as after partitioning.
mkfs.ext4 -q -L COS_PERSISTENT "$out/persistent.img" 256M
mkfs.ext4 -q -L COS_OEM "$out/oem.img" 64M
rm -rf "$work"
log "done: $out/{vmlinuz,initrd.gz,*.img}"
