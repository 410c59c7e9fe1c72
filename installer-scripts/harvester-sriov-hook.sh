#!/bin/sh
# The glue the Harvester installer runs once it has written the new system to its
# target (/run/cos/target), for a new cluster (create), a node joining one (join), or
# a binaries-only install (install):
#
#   harvester-sriov-hook.sh [MODE] [TARGET]
#
# MODE defaults to $HARVESTER_INSTALL_MODE, then "install"; TARGET to $TARGET, then
# /run/cos/target. Policies are the *.yaml files in $HARVESTER_SRIOV_POLICIES (default:
# the folder harvester-sriov-policies beside this script, then /oem/harvester-sriov).
# Node labels for policies' nodeSelector come from $HARVESTER_SRIOV_NODE_LABELS
# (space-separated key=value). Everything is logged to $HARVESTER_SRIOV_LOG
# (default /var/log/harvester-sriov-hook.log) as well as to the installer's output.
# The exit status is harvester-sriov's: non-zero means nothing was written.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
mode=${1:-${HARVESTER_INSTALL_MODE:-install}}
target=${2:-${TARGET:-/run/cos/target}}
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

mkdir -p "$(dirname "$log")" 2>/dev/null || true
if ! binary=$(find_binary); then
  say "no harvester-sriov binary: set HARVESTER_SRIOV_BIN or put it beside $0"
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
{ set +e; "$binary" "$@" 2>&1; echo $? > "$status_file"; } | tee -a "$log"
status=$(cat "$status_file")
rm -f "$status_file"
say "finished with status $status"
exit "$status"
