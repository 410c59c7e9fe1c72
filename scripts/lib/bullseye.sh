# Sourced by scripts/build-release and scripts/check-release: the Debian 11 "bullseye"
# roots (glibc 2.31, the glibc of SLE Micro 5.x, which Harvester's OS comes from) that
# the shipped binary is linked against and run in. Cached in .build-sysroot/ (git-ignored);
# each root is made in a ".partial" folder and renamed when complete, so an interrupted
# run is redone and a finished one is reused.
bullseye_mirror=${BULLSEYE_MIRROR:-http://deb.debian.org/debian}
bullseye_cache="$repo/.build-sysroot"

# A minbase root with libpci3 (and its dependencies) added: what the node is assumed to
# have. check-release runs the binary in a copy; the sysroot starts as another copy.
bullseye_base() {
  local base="$bullseye_cache/base"
  [ -d "$base" ] && return
  mkdir -p "$bullseye_cache"
  rm -rf "$base.partial"
  echo "bullseye: debootstrap --variant=minbase bullseye into ${base#"$repo/"} (once)" >&2
  debootstrap --variant=minbase --include=libpci3 bullseye "$base.partial" "$bullseye_mirror" \
    >"$bullseye_cache/debootstrap.log" 2>&1 \
    || { tail -20 "$bullseye_cache/debootstrap.log" >&2; echo "bullseye: debootstrap failed" >&2; return 69; }
  rm -f "$base.partial"/var/cache/apt/archives/*.deb # smaller copies
  mv "$base.partial" "$base"
}

# The base plus the -dev packages of the libraries the binary links, and GCC 10's crt files
# and libgcc (built for glibc 2.31): headers are the host's, but libraries, start files and
# symbol versions come from here.
bullseye_sysroot() {
  local sysroot="$bullseye_cache/sysroot"
  local packages="libc6-dev libgcc-10-dev libudev-dev libpci-dev libyaml-dev libnl-route-3-dev"
  # Made again when this list changes.
  [ "$(cat "$sysroot/.packages" 2>/dev/null)" = "$packages" ] && return
  bullseye_base
  rm -rf "$sysroot" "$sysroot.partial"
  cp -a "$bullseye_cache/base" "$sysroot.partial"
  echo "bullseye: apt-get install the -dev packages into the sysroot" >&2
  { chroot "$sysroot.partial" apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive chroot "$sysroot.partial" apt-get install -y -qq --no-install-recommends \
      $packages; } >"$bullseye_cache/apt.log" 2>&1 \
    || { tail -20 "$bullseye_cache/apt.log" >&2; echo "bullseye: apt-get in the sysroot failed" >&2; return 69; }
  # Debian's -dev symlinks are absolute (libpthread.so -> /lib/x86_64-linux-gnu/...): the
  # linker would follow them to the host's libraries. Make them relative to the sysroot.
  local link target
  while IFS= read -r link; do
    target=$(readlink "$link")
    ln -sfn "$(realpath -s -m --relative-to="$(dirname "$link")" "$sysroot.partial$target")" "$link"
  done < <(find "$sysroot.partial/usr" -type l -lname '/*')
  echo "$packages" > "$sysroot.partial/.packages"
  mv "$sysroot.partial" "$sysroot"
}
