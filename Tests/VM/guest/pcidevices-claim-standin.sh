#!/bin/bash
# Stand-in for the PCIDeviceClaim controller of Harvester's PCI devices addon on this node (harvester/pcidevices at
# bdd80256a8548a4271f6ec4928e2203441a54bc0, pkg/controller/pcideviceclaim/pcideviceclaim_controller.go, "l." below);
# the cluster's PCIDeviceClaims are a file of PCI addresses, one a line.
#   start FILE      the controller's start (l.87-98): unbindOrphanedPCIDevices (l.92, 625-644; getOrphanedPCIDevices
#                   and pciDeviceIsClaimed l.306-337) unbinds every device bound to vfio-pci that no claim holds;
#                   loadVfioDrivers (l.97, 177-184) loads vfio-pci and vfio_iommu_type1; then the claims are
#                   reconciled, as the controller's informers do once it runs.
#   reconcile FILE  reconcilePCIDeviceClaims (l.397-) for every claim, as a PCIDevice change triggers it
#                   (OnDeviceChange l.646-668): attemptToEnablePassthrough (l.595-623) does nothing for a device
#                   already under /sys/bus/pci/drivers/vfio-pci; otherwise it unbinds the device from its driver
#                   (unbindDeviceFromDriver l.283-304), then bindDeviceToVFIOPCIDriver (l.219-255) writes
#                   "<vendor> <device>" (no 0x) to vfio-pci's new_id (EEXIST ignored, l.235), the address to its
#                   bind, and wants the device bound. The kernel's new_id_store binds every unbound device of that
#                   ID at once, so bind then fails with EBUSY: the controller returns that error and requeues, and
#                   the next pass finds the device bound; the stand-in reports the error and fails only if the
#                   device is not on vfio-pci.
#   claim FILE ADDRESS...  new claims, then reconciled.
#   unclaim FILE ADDRESS   a claim deleted: OnRemove (l.102-175) -> disablePassthrough (l.271-279) unbinds it from
#                   vfio-pci, then bindDeviceToOriginalDriver (l.670-708) writes the address to the bind file of the
#                   driver in the PCIDevice's harvesterhci.io/pcideviceDriver annotation (the driver the addon first
#                   saw on it, pkg/apis/devices.harvesterhci.io/v1beta1/pcidevice.go:159-166; here igbvf, override
#                   with ORIGINAL_DRIVER). Nothing writes remove_id. A failed bind is returned as an error (the
#                   claim's deletion is retried); the stand-in reports it and where the device ended up.
set -u
vfio=/sys/bus/pci/drivers/vfio-pci
original=${ORIGINAL_DRIVER:-igbvf}
say() { echo "pcidevices-claim-standin: $*"; }
bound_to() { [ -e "/sys/bus/pci/drivers/$2/$1" ]; }  # deviceBoundToDriver (l.710-713)
driver_of() { if [ -e "/sys/bus/pci/devices/$1/driver" ]; then basename "$(readlink -f "/sys/bus/pci/devices/$1/driver")"; else echo none; fi; }
write() { # FILE VALUE: prints the kernel's answer when it refuses
  local err
  if err=$( { printf '%s' "$2" > "$1"; } 2>&1 ); then return 0; fi
  echo "${err##*: }"
  return 1
}
claimed() { grep -qx "$1" "$claims" 2>/dev/null; }

unbind() { # ADDRESS DRIVER (unbindDeviceFromDriver)
  bound_to "$1" "$2" || return 0
  local err
  err=$(write "/sys/bus/pci/drivers/$2/unbind" "$1") || { say "$1: unbind from $2: $err"; return 1; }
  bound_to "$1" "$2" && { say "$1: still bound to $2"; return 1; }
  say "$1: unbound from $2"
}

enable() { # ADDRESS (attemptToEnablePassthrough)
  local address=$1 device=/sys/bus/pci/devices/$1 driver err id
  [ -e "$device" ] || { say "$address: no such device"; return 1; }
  if bound_to "$address" vfio-pci; then say "$address: on vfio-pci already"; return 0; fi
  driver=$(driver_of "$address")
  [ "$driver" = none ] || unbind "$address" "$driver" || return 1
  unbind "$address" "$original" || return 1
  id="$(sed 's/^0x//' "$device/vendor") $(sed 's/^0x//' "$device/device")"
  if err=$(write $vfio/new_id "$id"); then say "$address: wrote \"$id\" to vfio-pci/new_id"
  else case "$err" in
    *"File exists"*) say "$address: new_id \"$id\": $err (ignored, l.235)" ;;
    *) say "$address: new_id \"$id\": $err"; return 1 ;;
  esac; fi
  err=$(write $vfio/bind "$address") || say "$address: vfio-pci/bind: $err (the controller requeues the claim)"
  bound_to "$address" vfio-pci || { say "$address: not on vfio-pci but on $(driver_of "$address")"; return 1; }
  say "$address: on vfio-pci"
}

reconcile() {
  local failed=0 address
  # reconcilePCIDeviceClaims (l.403-411) waits for the vfio modules.
  grep -q '^vfio_pci ' /proc/modules || { say "vfio-pci not loaded"; return 1; }
  while read -r address; do
    [ -n "$address" ] && { enable "$address" || failed=1; }
  done < "$claims"
  return $failed
}

command=${1:-}; claims=${2:-}
[ -n "$claims" ] || { echo "usage: $0 start|reconcile FILE | claim FILE ADDRESS... | unclaim FILE ADDRESS" >&2; exit 64; }
shift 2
touch "$claims"
case "$command" in
start)
  failed=0
  for link in $vfio/0000:*; do
    [ -e "$link" ] || continue
    address=$(basename "$link")
    claimed "$address" || { say "$address: orphaned (on vfio-pci, no claim)"; unbind "$address" vfio-pci || failed=1; }
  done
  modprobe vfio-pci && modprobe vfio_iommu_type1
  reconcile || failed=1
  exit $failed
  ;;
reconcile) reconcile ;;
claim)
  for address in "$@"; do claimed "$address" || echo "$address" >> "$claims"; done
  reconcile
  ;;
unclaim)
  address=$1
  grep -vx "$address" "$claims" > "$claims.new"; mv "$claims.new" "$claims"
  unbind "$address" vfio-pci || exit 1
  bound_to "$address" "$original" && exit 0
  if err=$(write "/sys/bus/pci/drivers/$original/bind" "$address"); then say "$address: bound to $original"
  else say "$address: $original/bind: $err (OnRemove returns the error); now on $(driver_of "$address")"; exit 1; fi
  ;;
*) echo "unknown command $command" >&2; exit 64 ;;
esac
