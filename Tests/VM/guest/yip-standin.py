#!/usr/bin/python3
# Stands in for mudler/yip v1.4.0 (commit bc142b6), the yip vendored by Elemental toolkit
# 1.1.5-1.1.7 (go.mod:16), which Harvester <= 1.6 ships (docs/harvester.md), as Elemental runs
# it at boot, in the VM tests, for the plugins harvester-sriov's /oem files use: `if`, `files`
# (content expanded as a Go text/template, uint32 permissions, owner, group), `directories`,
# `commands` (the installer's failure note) and `systemctl`. It follows v1.4.0's
# pkg/schema/schema.go, pkg/schema/loader_yip.go, pkg/executor/executor.go and pkg/plugins
# (files.go, dir.go, commands.go, systemctl.go, if.go, common.go), and refuses what rancher/yip
# v1.9.6 (Elemental 2.x) would read differently, so the files stay valid for both. It is
# stricter in one way: a key yip does not know is an error here, where both yips ignore it
# silently (yaml.Unmarshal without strict mode), so a misspelt key fails the test instead of
# doing nothing on a node.
#   yip-standin.py STAGE DIR...
# Reads DIR/*.yaml in name order, runs the steps of STAGE in order; exits 1 when a file or
# a step failed, after running the others.
import os
import re
import subprocess
import sys

import yaml

# mudler/yip v1.4.0 pkg/schema/schema.go: Stage (lines 135-164), File (41-48; no YAML tags, so
# yaml.v2 (loader_yip.go:13) lower-cases the field names), Directory (59-63), Systemctl (167-172).
# v1.4.0's Stage also has `modules` (line 151), which rancher/yip v1.9.6 dropped: refused here.
STEP_KEYS = {
    "commands", "files", "downloads", "directories", "if", "ensure_entities", "delete_entities", "dns",
    "hostname", "name", "sysctl", "authorized_keys", "node", "users", "systemctl", "environment",
    "environment_file", "after", "datasource", "layout", "systemd_firstboot", "timesyncd", "git",
}
ONLY_V140 = {"modules"}
FILE_KEYS = {"path", "permissions", "owner", "group", "content", "encoding", "ownerstring"}
DIRECTORY_KEYS = {"path", "permissions", "owner", "group"}
SYSTEMCTL_KEYS = {"enable", "disable", "start", "mask"}
SUPPORTED = {"name", "if", "files", "directories", "commands", "systemctl"}


class StepError(Exception):
    pass


def warn(message):
    print("yip-standin: warning: " + message, file=sys.stderr)


def expand_template(text):
    """yip v1.4.0's plugins/common.go (templateSysData, 31-53) and utils/text.go (14-24): content
    goes through Go text/template with sprig's functions (v1.9.6: utils/text.go 12-21). Text outside
    actions is literal; a string constant
    action ({{"{{"}}) prints itself. Other actions would read yip's system data, which this
    stand-in does not have: like a template yip cannot parse or execute, the content is
    then written unchanged, with a warning (the tests require that there is none)."""
    out, position = [], 0
    for match in re.finditer(r'\{\{(-?)\s*("(?:[^"\\]|\\.)*"|`[^`]*`)\s*(-?)\}\}|\{\{', text):
        if match.group(2) is None:
            warn("template: an action other than a string constant; content written unchanged")
            return text
        out.append(text[position:match.start()])
        literal = match.group(2)
        out.append(literal[1:-1] if literal.startswith("`") else bytes(literal[1:-1], "utf-8").decode("unicode_escape"))
        position = match.end()
    out.append(text[position:])
    return "".join(out)


def check_keys(kind, mapping, known):
    only_old = sorted(set(mapping) & ONLY_V140)
    if only_old:
        raise StepError("%s: keys only mudler/yip v1.4.0 knows (rancher/yip v1.9.6 ignores them): %s" % (kind, ", ".join(only_old)))
    unknown = sorted(set(mapping) - known)
    if unknown:
        raise StepError("%s: keys yip v1.4.0 does not know: %s" % (kind, ", ".join(unknown)))


def run_files(files):
    # v1.4.0 plugins/files.go 27-85: missing parents get the file's permissions, plus 0100 below
    # 0700; the file is truncated and written in place (52), then chmod and chown (owner, group: 0).
    for entry in files:
        check_keys("files", entry, FILE_KEYS)
        path = entry["path"]
        content = expand_template(entry.get("content", ""))
        permissions = entry.get("permissions", 0)
        if not isinstance(permissions, int) or isinstance(permissions, bool) or not 0 <= permissions < 2 ** 32:
            raise StepError("files: %s: permissions must be a uint32, found %r" % (path, permissions))
        parent = os.path.dirname(path)
        if not os.path.isdir(parent):
            os.makedirs(parent, mode=permissions | (0o100 if permissions < 0o700 else 0))
        with open(path, "w") as stream:
            stream.write(content)
        os.chmod(path, permissions)
        os.chown(path, entry.get("owner", 0), entry.get("group", 0))


def run_directories(directories):
    for entry in directories:
        check_keys("directories", entry, DIRECTORY_KEYS)
        os.makedirs(entry["path"], exist_ok=True)
        os.chmod(entry["path"], entry.get("permissions", 0o755))
        os.chown(entry["path"], entry.get("owner", 0), entry.get("group", 0))


def run_commands(commands):
    # v1.4.0 plugins/commands.go 12-24: each command through the template, then the console
    # (`sh -c`); a failure is logged and the next command runs; the step then fails.
    failed = []
    for command in commands:
        result = subprocess.run(["sh", "-c", expand_template(command)])
        if result.returncode != 0:
            failed.append("%r exited %d" % (command, result.returncode))
    if failed:
        raise StepError("commands: " + "; ".join(failed))


def run_systemctl(systemctl):
    check_keys("systemctl", systemctl, SYSTEMCTL_KEYS)
    for verb in ("enable", "disable", "mask", "start"):
        for unit in systemctl.get(verb) or []:
            result = subprocess.run(["systemctl", verb, unit], capture_output=True, text=True)
            if result.returncode != 0:
                raise StepError("systemctl %s %s: %s" % (verb, unit, result.stderr.strip()))


def run_step(step):
    check_keys("step", step, STEP_KEYS)
    unsupported = sorted(set(step) - SUPPORTED)
    if unsupported:
        raise StepError("this stand-in does not implement: %s" % ", ".join(unsupported))
    # v1.4.0 plugins/if.go 11-20 and elemental's console: `sh -c`; non-zero skips the step.
    condition = step.get("if")
    if condition and subprocess.run(["sh", "-c", expand_template(condition)]).returncode != 0:
        print("yip-standin: skipped %r: if %s" % (step.get("name", ""), condition))
        return
    # The plugin order of v1.4.0 pkg/executor/executor.go 79-89: directories, files, commands, ..., systemctl.
    run_directories(step.get("directories") or [])
    run_files(step.get("files") or [])
    run_commands(step.get("commands") or [])
    run_systemctl(step.get("systemctl") or {})
    print("yip-standin: applied %r" % step.get("name", ""))


def main():
    stage, folders = sys.argv[1], sys.argv[2:]
    failed = False
    for folder in folders:
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            if not name.endswith((".yaml", ".yml")):
                continue
            try:
                with open(os.path.join(folder, name)) as stream:
                    # PyYAML reads YAML 1.1, as yaml.v2 does (v1.4.0 loader_yip.go:13).
                    document = yaml.safe_load(stream) or {}
                check_keys(name, document, {"name", "stages"})
                for step in (document.get("stages") or {}).get(stage) or []:
                    run_step(step)
            except (StepError, KeyError, OSError, yaml.YAMLError) as error:
                print("yip-standin: %s: %s" % (name, error), file=sys.stderr)
                failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
