#!/usr/bin/python3
# Stands in for the after-install-chroot stage of Harvester's installer (harvester-installer
# master 8b8f0f22: os.after_install_chroot_commands become that stage's commands,
# pkg/config/cos.go:254-261 and pkg/config/templates/cos-after-install-chroot.yaml, run by
# `elemental install` without --strict, harv-install:568), as Elemental toolkit runs it:
#   --elemental 1: v1.1.6 (e9f70ce5), what Harvester <= 1.6 ships: the new system at
#     /run/cos/workingtree (pkg/constants/constants.go:80, pkg/action/install.go:194); binds
#     /dev /dev/pts /proc /sys (pkg/utils/chroot.go:43); the persistent partition, mounted at
#     /run/cos/persistent, bound to /usr/local and the OEM partition (/run/cos/oem) to /oem
#     (pkg/action/install.go:44-55, pkg/config/config.go:231-268).
#   --elemental 2: v2.2.4 (f29ac269): the new system at /run/elemental/workingtree
#     (constants.go:104), the same four binds, the persistent partition bound to
#     /run/elemental/persistent (constants.go:59,100) and OEM to /oem (install.go:95-110);
#     nothing at /usr/local.
# The new system is the OS image (a second read-only mount of it) under a tmpfs overlay. There
# is no resolver: /etc/resolv.conf is removed from it (Harvester's docs: no DNS in this stage).
# Each command runs as yip's commands plugin runs it in the chroot (mudler/yip v1.4.0
# pkg/plugins/commands.go:12-24: `sh -c`, after the template's guard `if`); not strict, as
# Elemental 1.1.6 runs hooks (pkg/utils/runstage.go:107-116, pkg/action/common.go:27-39): a
# failed command is logged and the next one runs; the exit status is 0.
# Refuses a command with "{{" (yip would expand it as a Go template) and a configuration
# without os.after_install_chroot_commands.
#   after-install-chroot-standin.py --elemental 1|2 --image DEV --persistent DEV --oem DEV
#       --config FILE [--replace OLD=NEW] [--log FILE]
# Logs to FILE (the commands' output too); lists what they wrote into the image in FILE.upper.
import argparse
import os
import subprocess
import sys

import yaml

LAYOUTS = {
    "1": {"root": "/run/cos/workingtree", "persistent": "/run/cos/persistent", "oem": "/run/cos/oem",
          "binds": {"/run/cos/persistent": "/usr/local", "/run/cos/oem": "/oem"}},
    "2": {"root": "/run/elemental/workingtree", "persistent": "/run/elemental/persistent",
          "oem": "/run/elemental/oem",
          "binds": {"/run/elemental/persistent": "/run/elemental/persistent", "/run/elemental/oem": "/oem"}},
}
# cos-after-install-chroot.yaml's guard.
GUARD = '[ ! -f "/run/cos/recovery_mode" ]'


def sh(*command):
    subprocess.run(command, check=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--elemental", choices=LAYOUTS, required=True)
    parser.add_argument("--image", required=True)
    parser.add_argument("--persistent", required=True)
    parser.add_argument("--oem", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--replace", action="append", default=[])
    parser.add_argument("--log", default="/run/after-install-chroot.log")
    args = parser.parse_args()
    layout = LAYOUTS[args.elemental]
    with open(args.config) as stream:
        commands = ((yaml.safe_load(stream) or {}).get("os") or {}).get("after_install_chroot_commands")
    if not commands:
        sys.exit("after-install-chroot-standin: %s has no os.after_install_chroot_commands" % args.config)
    for pair in args.replace:
        old, new = pair.split("=", 1)
        commands = [command.replace(old, new) for command in commands]

    root, mounted = layout["root"], []

    def mount(*arguments):
        sh("mount", *arguments)
        mounted.append(arguments[-1])

    log = open(args.log, "a")
    failed = 0
    try:
        for folder in ("/run/vmtest/image", "/run/vmtest/overlay", root, layout["persistent"], layout["oem"]):
            os.makedirs(folder, exist_ok=True)
        mount("-o", "ro", args.image, "/run/vmtest/image")
        mount("-t", "tmpfs", "tmpfs", "/run/vmtest/overlay")
        os.makedirs("/run/vmtest/overlay/upper")
        os.makedirs("/run/vmtest/overlay/work")
        mount("-t", "overlay", "overlay", "-o",
              "lowerdir=/run/vmtest/image,upperdir=/run/vmtest/overlay/upper,workdir=/run/vmtest/overlay/work", root)
        if os.path.lexists(root + "/etc/resolv.conf"):
            os.remove(root + "/etc/resolv.conf")
        for path in ("/dev", "/dev/pts", "/proc", "/sys"):
            mount("--bind", path, root + path)
        mount(args.persistent, layout["persistent"])
        mount(args.oem, layout["oem"])
        for source, target in layout["binds"].items():
            os.makedirs(root + target, exist_ok=True)
            mount("--bind", source, root + target)
        if subprocess.run(["chroot", root, "sh", "-c", GUARD]).returncode != 0:
            print("after-install-chroot-standin: skipped: recovery mode", file=log, flush=True)
            return
        for number, command in enumerate(commands, 1):
            if "{{" in command:
                raise SystemExit("after-install-chroot-standin: command %d has {{, which yip expands as a template" % number)
            result = subprocess.run(["chroot", root, "sh", "-c", command], cwd="/", stdout=log, stderr=log)
            if result.returncode != 0:
                failed += 1
                print("after-install-chroot-standin: command %d failed (exit %d); going on" % (number, result.returncode),
                      file=log, flush=True)
            else:
                print("after-install-chroot-standin: command %d succeeded" % number, file=log, flush=True)
        print("after-install-chroot-standin: %d of %d commands failed" % (failed, len(commands)), file=log, flush=True)
    finally:
        # What the commands wrote into the new system's image (the overlay's upper layer), for the checks.
        if os.path.isdir("/run/vmtest/overlay/upper"):
            with open(args.log + ".upper", "w") as listing:
                subprocess.run(["find", ".", "-mindepth", "1"], cwd="/run/vmtest/overlay/upper", stdout=listing)
        for target in reversed(mounted):
            subprocess.run(["umount", target])


if __name__ == "__main__":
    main()
