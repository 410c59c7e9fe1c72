#!/bin/sh
# The glue the Harvester installer runs once it has written the new system, for a new
# cluster (create), a node joining one (join), or a binaries-only install (install):
#
#   harvester-sriov-hook.sh [MODE] [TARGET]
#
# MODE defaults to $HARVESTER_INSTALL_MODE, then "install". TARGET to $TARGET, then
# /run/cos/target when it exists (the live installer system's mount of the new system),
# else / (Elemental's after-install chroot, where / is the new system: the example
# configuration passes / explicitly). Policies are the *.yaml files in
# $HARVESTER_SRIOV_POLICIES (default: the folder harvester-sriov-policies beside this script,
# then /oem/harvester-sriov). Node labels for policies' nodeSelector come from
# $HARVESTER_SRIOV_NODE_LABELS (space-separated key=value). Everything is logged to
# $HARVESTER_SRIOV_LOG (default /var/log/harvester-sriov-hook.log) as well as to the
# installer's output. The exit status is harvester-sriov's: non-zero means nothing was written.
#
# The installer does not stop on a failed command (Elemental runs after-install-chroot not
# strictly), so on a harvester target a failure also leaves
# TARGET/oem/90_harvester_sriov_not_installed.yaml: a yip file whose boot stage prints, at every
# boot, one line on the console and to the journal (`journalctl -t harvester-sriov`) saying
# harvester-sriov was not installed, and why. A successful run removes it (docs/harvester.md).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
mode=${1:-${HARVESTER_INSTALL_MODE:-install}}
if [ -d /run/cos/target ]; then default_target=/run/cos/target; else default_target=/; fi
target=${2:-${TARGET:-$default_target}}
log=${HARVESTER_SRIOV_LOG:-/var/log/harvester-sriov-hook.log}

find_binary() {
  for candidate in "${HARVESTER_SRIOV_BIN:-}" "$here/harvester-sriov" "$(command -v harvester-sriov 2>/dev/null || true)" \
                   /usr/local/bin/harvester-sriov; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

say() {
  echo "harvester-sriov-hook: $*" | tee -a "$log" >&2
}

# The failure note, on a harvester target (one with /oem). The reason is kept to characters
# that need no quoting in YAML or sh and cannot start a Go template action (yip expands them).
note="${target%/}/oem/90_harvester_sriov_not_installed.yaml"
not_installed() { # STATUS REASON
  [ -d "${target%/}/oem" ] || return 0
  reason=$(printf '%s' "$2" | tr -c 'A-Za-z0-9 ._,:;=()/+@-' ' ')
  line="harvester-sriov was not installed: $reason; see the installer log, run harvester-sriov install once fixed, then remove /oem/90_harvester_sriov_not_installed.yaml"
  cat > "$note.tmp" <<EOF &&
# Written by harvester-sriov-hook.sh during installation (exit status $1); removed by the next
# successful run. Prints, at every boot, why harvester-sriov is not installed.
name: harvester-sriov not installed
stages:
  boot:
    - name: harvester-sriov-not-installed
      if: '[ ! -f "/run/cos/recovery_mode" ]'
      commands:
        - |
          logger -t harvester-sriov -p user.err '$line'
          echo '$line' > /dev/console
EOF
  mv "$note.tmp" "$note" && say "wrote $note: every boot will say harvester-sriov is not installed"
}

mkdir -p "$(dirname "$log")" 2>/dev/null || true
if ! binary=$(find_binary); then
  say "no harvester-sriov binary: set HARVESTER_SRIOV_BIN or put it beside $0"
  not_installed 69 "the installer found no harvester-sriov binary" || say "could not write $note"
  exit 69
fi

set -- hook --mode "$mode" --root "$target"
if [ -d "$target/oem" ]; then
  set -- "$@" --layout harvester
fi
policies=${HARVESTER_SRIOV_POLICIES:-}
if [ -z "$policies" ]; then
  for folder in "$here/harvester-sriov-policies" /oem/harvester-sriov; do
    if [ -d "$folder" ]; then policies=$folder; break; fi
  done
fi
if [ -n "$policies" ]; then
  for file in "$policies"/*.yaml; do
    [ -e "$file" ] && set -- "$@" --policy "$file"
  done
fi
for label in ${HARVESTER_SRIOV_NODE_LABELS:-}; do
  set -- "$@" --node-label "$label"
done

say "running $binary $*"
status_file=$(mktemp)
output=$(mktemp)
{ set +e; "$binary" "$@" 2>&1; echo $? > "$status_file"; } | tee -a "$log" "$output"
status=$(cat "$status_file")
rm -f "$status_file"
say "finished with status $status"
if [ "$status" -eq 0 ]; then
  if [ -e "$note" ] && rm -f "$note"; then say "removed $note"; fi
else
  last=$(grep -v '^note: ' "$output" | tail -1)
  not_installed "$status" "harvester-sriov hook exited $status: ${last:-it printed nothing}" || say "could not write $note"
fi
rm -f "$output"
exit "$status"
