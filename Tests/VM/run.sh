#!/usr/bin/env bash
# Proof on a real kernel: boots the image from build-image.sh in QEMU (TCG; Intel
# 82576 "igb" NICs with real SR-IOV, a virtual IOMMU) through the test phases, and
# checks what the guest reports on its serial console.
#   Tests/VM/run.sh [BUILD-FOLDER]
#   VM_PHASES="fault-boot soak-storm" Tests/VM/run.sh   only those phases, a soak phase too (while
#                                                       developing: the images must be as the phases
#                                                       before left them)
# Console logs stay in BUILD-FOLDER/logs for a failed run.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(cd "${1:-$here/../../.build-vm}" && pwd)
logs="$out/logs"
rm -rf "$logs"
mkdir -p "$logs"

# Every check the phases must report, by scenario (see guest/vmtest.sh).
expected=(
  "install hook" "install units-enabled"
  "1 pf1-numvfs" "1 pf2-numvfs" "1 pf1-drivers" "1 pf2-drivers" "1 vf-mtu" "1 vf-trust" "1 vf-spoof-check" "1 status" "1 before-network-pre"
  "1 vf-vlan-rate" "1 status-vlan-drift" "1 vlan-restored"
  "1 detect" "1 label" "1 macs-local" "1 permanent-mac"
  "9 doctor-passes" "9 apply" "9 held" "9 status-names-holders" "9 carried-out" "9 no-failed-units" "9 doctor-no-iommu"
  "7 journal" "7 no-write-war" "7 status-fix" "7 addon-unit-skipped" "7 restore-says-so"
  "3 vfs-back-after-reload" "3 vf-vlan-rate" "3 macs-kept"
  "2 pf1-numvfs" "2 pf2-numvfs" "2 same-macs"
  "4 apply" "4 restore" "4 pf1-numvfs" "4 status"
  "5 vfio-not-loaded" "5 apply" "5 restore" "5 pf2-drivers" "5 iommu" "5 status"
  "8 claims-exported" "8 claimed-on-vfio"
  "8 reboot-vfio" "8 reboot-mac-vlan" "8 reboot-netdev" "8 reboot-status" "8 reboot-no-failed-units" "8 reclaim-new-id"
  "8 reload-vfio" "8 reload-netdev" "8 reload-mac-vlan" "8 reload-status" "8 reload-no-failed-units" "8 control-new-id-takes-netdev"
  "8 unclaim-drift" "8 unclaim-restore"
  "6 stage" "6 booted" "6 pf1-numvfs" "6 unit-failed" "6 status-drift" "6 status-names-pf2" "6 journal"
  "A apply" "A hot-add-vfs" "A hot-add-status" "R reload-during-restore" "S storm-at-plan" "S one-restore-per-pf" "S no-failed-units"
  "D slow-write-bounded" "D restored-after"
  "U restore-bounded" "U status-bounded" "U detect-bounded" "U doctor-bounded" "U no-pile-up"
  "P files-whole" "P acked-is-new" "P vfs-at-plan" "P lock-free"
  "HF fetch-failed-went-on" "HF note-written" "HF boot-journal" "HF boot-console" "HF no-vfs" "HF no-failed-units"
  "H1 hook" "H1 only-oem-and-usr-local" "H1 note-removed"
  "H2 yip-stage" "H2 pf1-numvfs" "H2 pf2-numvfs" "H2 before-network-pre" "H2 status" "H2 label" "H2 no-failed-units" "H2 dropin-applied" "H2 dropin-removed"
  "H3 new-image" "H3 rule-recreated" "H3 pf1-numvfs" "H3 status" "H3 no-failed-units" "H3 newer-binary" "H3 status-after-install"
  "H4 binary-kept" "H4 pf2-numvfs" "H4 no-failed-units" "H4 uninstall"
  "H5 nothing-left" "H5 state-kept" "H5 no-vfs" "H5 no-failed-units" "H5 install-live" "H5 restore-live" "H5 purge"
  "H6 nothing-left" "H6 no-failed-units" "H6 reinstalled"
  "H7 recovery-mode" "H7 yip-skipped" "H7 no-vfs" "H7 nothing-ran" "H7 no-failed-units"
  "E2 hook" "E2 persistent-written" "E2 from-persistent" "E2 pf1-numvfs" "E2 pf2-numvfs" "E2 status" "E2 no-failed-units"
)

boot() { # LOG PHASE [OS-IMAGE MODE]: without an OS image, the generic root (rootfs.img, read-write)
  # no_timer_check: under TCG on a busy host the kernel's IO-APIC timer check can fail
  # and panic ("timer doesn't work through Interrupt-remapped IO-APIC").
  local disks append="console=ttyS0 panic=-1 no_timer_check root=/dev/vda systemd.show_status=false"
  # The virtual IOMMU, but for the fault boot, which shows what doctor says without one (scenario 9).
  local iommu=(-device intel-iommu)
  if [ "$2" = fault-boot ]; then iommu=(); else append+=" intel_iommu=on"; fi
  if [ -n "${3:-}" ]; then
    # Harvester OS: the image read-only, then the persistent and OEM partitions.
    disks=(-drive file="$out/$3",format=raw,if=virtio,readonly=on
           -drive file="$out/persistent.img",format=raw,if=virtio -drive file="$out/oem.img",format=raw,if=virtio)
    append+=" vmtest.layout=harvester${4:+ vmtest.mode=$4}"
  else
    disks=(-drive file="$out/rootfs.img",format=raw,if=virtio)
  fi
  append+=" vmtest.phase=$2${cut_acked:+ vmtest.acked=$cut_acked}"
  # No netdev backend: the NICs are never connected to anything. rp3 stays free for a hot-added
  # NIC; the monitor (HMP on a pair of FIFOs) takes the guest's hot-plug requests (host_side).
  rm -f "$out/monitor.in" "$out/monitor.out" "$out/qemu.pid"
  mkfifo "$out/monitor.in" "$out/monitor.out"
  timeout 420 qemu-system-x86_64 -accel tcg -m 1024 -smp 2 -nographic -no-reboot \
    -machine q35 "${iommu[@]}" \
    -kernel "$out/vmlinuz" -initrd "$out/initrd.gz" -append "$append" "${disks[@]}" \
    -device pcie-root-port,id=rp1,slot=1,chassis=1 -device igb,bus=rp1,id=nic1 \
    -device pcie-root-port,id=rp2,slot=2,chassis=2 -device igb,bus=rp2,id=nic2 \
    -device pcie-root-port,id=rp3,slot=3,chassis=3 \
    -monitor pipe:"$out/monitor" -pidfile "$out/qemu.pid" \
    < /dev/null > "$1" 2>&1 &
  local qemu=$!
  host_side "$1" "$qemu" > "${1%.log}.host" 2>&1 &
  local helper=$!
  wait "$qemu"
  local status=$?
  kill "$helper" 2>/dev/null
  wait "$helper" 2>/dev/null
  return $status
}

# The host's half of the fault scenarios: the guest asks on its console, one line each,
#   VMHOST monitor <HMP command>   e.g. device_add / device_del (hot-plug)
#   VMHOST cut <MAX-MS>            a power cut: QEMU killed (SIGKILL) after a random 0..MAX ms
host_side() { # LOG TIMEOUT-PID
  cat "$out/monitor.out" > "${1%.log}.monitor" &
  tail -n +1 -F -s 0.05 --pid="$2" "$1" 2>/dev/null | while IFS= read -r line; do
    line=${line%$'\r'}
    case "$line" in
      "VMHOST monitor "*)
        echo "$(date +%T.%N) monitor: ${line#VMHOST monitor }"
        echo "${line#VMHOST monitor }" > "$out/monitor.in" ;;
      "VMHOST cut "*)
        local max=${line#VMHOST cut } delay
        delay=$(( (RANDOM * 32768 + RANDOM) % (max + 1) ))
        echo "$(date +%T.%N) cut in $delay ms"
        sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
        kill -9 "$(cat "$out/qemu.pid")"
        echo "$(date +%T.%N) cut"
        echo "VMCUT after $delay ms" >> "$1" ;;
    esac
  done
}

# PHASE [OS-IMAGE [MODE]]: the generic root's phases, then Harvester OS's (docs/testing.md).
phases=(
  install first-boot second-boot claims-boot fault-boot
  "h-installer-fails harvester-os.img installer" "h-failed-boot harvester-os.img"
  "h-installer harvester-os.img installer" "h-first-boot harvester-os.img" "h-upgrade harvester-os-v2.img"
  "h-updated harvester-os-v2.img" "h-uninstalled harvester-os-v2.img" "h-purged harvester-os-v2.img"
  "h-recovery harvester-os-v2.img recovery" "h-e2-boot harvester-os-v2.img"
)
# scripts/vm-test --soak (VM_SOAK=N): not CI's phases but the loops, on fresh images: N power cuts on the
# generic root (during policy apply, install, uninstall and the boot-time restore in turn, each checked by
# the next boot), event storms in a row, hot-unplugs during restores, then N power cuts on Harvester OS.
if [ -n "${VM_SOAK:-}" ]; then
  phases=(install)
  for try in $(seq "$VM_SOAK"); do phases+=("soak-cut-$try"); done
  phases+=(soak-storm soak-unplug "h-installer harvester-os.img installer")
  for try in $(seq "$VM_SOAK"); do phases+=("h-soak-cut-$try harvester-os.img"); done
  # The last try is checked by one more boot.
  phases+=("h-soak-cut-$((VM_SOAK + 1)) harvester-os.img")
  expected=()
fi
# A phase named in VM_PHASES that is not in the list (a soak phase) boots the generic root.
for wanted in ${VM_PHASES:-}; do
  printf '%s\n' "${phases[@]}" | grep -q "^$wanted\( \|$\)" || phases+=("$wanted")
done
cut_acked=""
for entry in "${phases[@]}"; do
  read -r phase image mode <<< "$entry"
  [ -z "${VM_PHASES:-}" ] || [[ " $VM_PHASES " == *" $phase "* ]] || continue
  log="$logs/$phase.log"
  for try in 1 2 3; do
    start=$(date +%s)
    boot "$log" "$phase" "$image" "$mode"
    status=$?
    echo "vm: phase $phase: qemu exited $status after $(( $(date +%s) - start )) s (console: $log)"
    # QEMU 10's TCG with the virtual IOMMU now and then aborts while the kernel probes PCI
    # (an assertion in physmem.c, exit 134), or the kernel panics early on a busy host,
    # before the test driver ran: boot again. A hang (timeout's 124) is not retried.
    # A power cut the guest asked for (VMCUT) is no crash, even before the test driver started.
    if ! grep -a -q "VMTEST phase $phase start\|^VMCUT after" "$log" && { [ "$status" -ge 128 ] || grep -q "Kernel panic" "$log"; }; then
      echo "vm: phase $phase: the guest stopped before the test driver started (try $try of 3)"
      cp "$log" "$log.crash-$try"
      continue
    fi
    break
  done
  # A boot that ended in a power cut tells the next one whether the command under the cut had
  # printed its success (exit 0) before it: only the console knows.
  cut_acked=""
  if grep -a -q '^VMCUT after' "$log"; then
    if grep -a -q '^VMCUT acked' "$log"; then cut_acked=yes; else cut_acked=no; fi
    echo "vm: phase $phase: power cut $(grep -a -o 'after [0-9]* ms' "$log" | tail -1) of $(grep -a '^VMCUT during' "$log" | tr -d '\r' | sed 's/VMCUT during //' | tail -1), acknowledged: $cut_acked"
  fi
  if ! grep -a -q "VMTEST phase $phase done\|^VMCUT after" "$log"; then
    echo "vm: phase $phase did not finish; last console lines:"
    tail -25 "$log" | sed 's/^/    /'
    break
  fi
done

# The failure line of a node installed without harvester-sriov, on the console itself (the
# guest cannot read its own console): printed by the /oem note's boot step, not by a check.
if grep -a -q '^harvester-sriov was not installed: the installer could not fetch http://127.0.0.1:8081/' "$logs/h-failed-boot.log" 2>/dev/null; then
  echo "VMTEST HF boot-console PASS the line is on the console" >> "$logs/host.log"
else
  echo "VMTEST HF boot-console FAIL no 'harvester-sriov was not installed' line on the console" >> "$logs/host.log"
fi

passed=0 failed=0
for check in "${expected[@]}"; do
  line=$(grep -h -a "^VMTEST $check " "$logs"/*.log 2>/dev/null | tr -d '\r' | tail -1)
  case "$line" in
    "VMTEST $check PASS"*) passed=$((passed + 1)); echo "vm: PASS $check${line#VMTEST $check PASS}" ;;
    "VMTEST $check FAIL"*) failed=$((failed + 1)); echo "vm: FAIL $check${line#VMTEST $check FAIL}" ;;
    *) [ -n "${VM_PHASES:-}" ] && continue  # a check of a phase not run
       failed=$((failed + 1)); echo "vm: MISSING $check (the phase did not report it)" ;;
  esac
done
if [ -n "${VM_SOAK:-}" ]; then
  # The soak's checks are as many as its boots made: every one reported counts.
  passed=$(cat "$logs"/*.log | tr -d '\r' | grep -a -c '^VMTEST [^ ]* [^ ]* PASS')
  failed=$(cat "$logs"/*.log | tr -d '\r' | grep -a -c '^VMTEST [^ ]* [^ ]* FAIL')
  cat "$logs"/*.log | tr -d '\r' | grep -a '^VMTEST [^ ]* [^ ]* FAIL' | sed 's/^VMTEST /vm: FAIL /'
  echo "vm: soak: $(cat "$logs"/*.log | grep -a -c '^VMCUT after') power cuts, $(cat "$logs"/*.log | grep -a -c '^VMCUT acked') of them after the command's success"
fi
grep -h -a "^VMFIGURE" "$logs"/*.log 2>/dev/null | tr -d '\r' | sed 's/^VMFIGURE /vm: figure /'
echo "vm: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
