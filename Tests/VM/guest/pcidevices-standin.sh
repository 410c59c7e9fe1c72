#!/bin/sh
# Stand-in for harvester/pcidevices' SRIOVNetworkDevice controller, for one object whose spec.numVFs is 0.
# It follows ensureDeviceIsDisabled (pkg/controller/sriovdevice/sriovdevice_controller.go): read the PF's
# sriov_numvfs (nichelper.CurrentVFConfigured) and, when VFs exist, write 0 to it (nichelper.ConfigureVF).
#   pcidevices-standin.sh PCI-ADDRESS
set -eu
numvfs="/sys/bus/pci/devices/$1/sriov_numvfs"
if [ "$(cat "$numvfs")" != 0 ]; then
  printf 0 > "$numvfs"
fi
