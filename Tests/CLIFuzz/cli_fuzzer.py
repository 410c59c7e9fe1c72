#!/usr/bin/python3
"""Fuzzes harvester-sriov's command line: random subcommands with random flags, values and arguments, each
run as a user would run the binary, on a fake /sys under umockdev's preload and in a throwaway root.

Usage: cli_fuzzer.py BINARY TESTBED SECONDS FINDINGS_DIR

Every subcommand and option comes from the binary itself (--experimental-dump-help), so a new flag is fuzzed
without a change here. A run fails on a signal (a trap), a run past its deadline (a hang) or an exit status
the documentation does not list; each failing case is saved as a shell line in FINDINGS_DIR. Safety: every
command that takes --root is given a fresh folder as its root and --runtime-directory where it has one; the
internal sysfs-write is not fuzzed; kubectl is a stub on PATH (and for --kubectl) that answers at once, the
way a real one might (an answer, a server error, a child left running).
"""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

BINARY, TESTBED, SECONDS, FINDINGS = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
# README's exit statuses.
LISTED = {0, 1, 3, 64, 65, 68, 69, 74, 77}
# Every wait is at most 3 s (see value()): restore's longest path is its wait plus its timeout per PF, and
# kubectl's 3 request timeouts plus 2 s per attempt within --retry-for.
DEADLINE = 60
SKIP = {"sysfs-write", "help"}

work = tempfile.mkdtemp(prefix="cli-fuzz-")
os.makedirs(FINDINGS, exist_ok=True)


def write(path, text, mode=0o644):
    with open(path, "w") as out:
        out.write(text)
    os.chmod(path, mode)


POLICY = ("apiVersion: sriovnetwork.openshift.io/v1\nkind: SriovNetworkNodePolicy\nmetadata: {name: p}\n"
          "spec: {resourceName: r, nodeSelector: {}, numVfs: 2, nicSelector: {pfNames: [enp59s0f0]}}\n")
NETWORK = ("apiVersion: sriovnetwork.openshift.io/v1\nkind: SriovNetwork\nmetadata: {name: n}\n"
           "spec: {resourceName: r, vlan: 10, ipam: '{}'}\n")
files = {
    "policy": POLICY, "network": NETWORK, "bad": "spec: [\n", "empty": "", "null": "null\n",
    "big": "# " + "x" * (2 << 20) + "\n",
}
paths = []
for name, text in files.items():
    paths.append(os.path.join(work, name + ".yaml"))
    write(paths[-1], text)
fifo = os.path.join(work, "fifo.yaml")
os.mkfifo(fifo)
paths += [fifo, work, "/dev/null", "/nonexistent/p.yaml", os.path.join(work, "link.yaml")]
os.symlink(paths[0], paths[-1])
# kubectl stubs: each answers at once, one way.
stubs = []
for name, body in {
    "ok": 'echo "node/x patched"; echo \'{"items": [], "metadata": {"labels": {}}}\'',
    "500": 'echo "Error from server (InternalError): etcdserver: request timed out" >&2; exit 1',
    "403": 'echo "Error from server (Forbidden): nope" >&2; exit 1',
    "odd": 'echo "Error from server (SomethingNew): what" >&2; exit 1',
    "child": 'sleep 120 & echo "node/x patched"',
    "junk": 'printf "\\033[31m\\n\\x01not json"',
}.items():
    folder = os.path.join(work, "kubectl-" + name)
    os.makedirs(folder)
    write(os.path.join(folder, "kubectl"), "#!/bin/sh\n" + body + "\n", 0o755)
    stubs.append(os.path.join(folder, "kubectl"))
kubeconfig = os.path.join(work, "kubeconfig")
write(kubeconfig, "apiVersion: v1\nkind: Config\nclusters: []\n")

# A stored state to start from.
template = os.path.join(work, "template")
os.makedirs(template)
env = dict(os.environ, UMOCKDEV_DIR=TESTBED, LD_PRELOAD="libumockdev-preload.so.0", SWIFT_BACKTRACE="enable=no")
subprocess.run([BINARY, "policy", "apply", "--root", template, paths[0]], env=env, capture_output=True)
os.makedirs(os.path.join(template, "etc/harvester-sriov/policies.d"), exist_ok=True)
shutil.copy(paths[0], os.path.join(template, "etc/harvester-sriov/policies.d/dropin.yaml"))

tree = json.loads(subprocess.run([BINARY, "--experimental-dump-help"], capture_output=True, text=True).stdout)


def commands(command, prefix):
    name = prefix + [command["commandName"]]
    if command.get("subcommands"):
        for sub in command["subcommands"]:
            yield from commands(sub, name)
    elif command["commandName"] not in SKIP:
        yield name[1:], command.get("arguments", [])


COMMANDS = list(commands(tree["command"], []))
NUMBERS = ["0", "1", "-1", "3", "59", "86400", "86401", "3600", "2147483648", "3074457345618258602",
           "9223372036854775807", "99999999999999999999999", "1e3", "0x10", "", " 5"]
STRINGS = ["", "a", "x" * 300, "a\nb", "\x1b[31mred", "é", "/", "..", "key=value", "a=", "=b", "a=b=c",
           "network-sriov.capable", "net.kubernetes.io/sriov", "feature.node.kubernetes.io/network-sriov.capable",
           "0000:3b:00.0", "3b:00.0", "enp59s0f0", "fhs", "harvester", "create", "join", "install", "Node1"]


TIMES = {"timeout", "wait", "retry-for", "request-timeout", "wait-for"}


def value(name):
    if name in TIMES:
        # Values the commands accept are kept short so that a run ends well within DEADLINE; out-of-range and
        # malformed ones go through as they are.
        chosen = random.choice(NUMBERS)
        return "3" if chosen.isdigit() and 3 < int(chosen) <= 86400 else chosen
    if name in {"kubectl"}:
        return random.choice(stubs + [work, "/nonexistent/kubectl", fifo])
    if name in {"kubeconfig"}:
        return random.choice([kubeconfig, fifo, work, "/nonexistent", paths[0]])
    if name in {"policy"}:
        return random.choice(paths)
    if name in {"layout"}:
        return random.choice(["fhs", "harvester", "other", ""])
    if name in {"mode"}:
        return random.choice(["create", "join", "install", "upgrade", ""])
    return random.choice(STRINGS + paths[:3])


def case():
    words, arguments = random.choice(COMMANDS)
    root = tempfile.mkdtemp(dir=work)
    shutil.copytree(template, root, dirs_exist_ok=True)
    if random.random() < 0.2:
        os.makedirs(os.path.join(root, "oem"))
    argv = [BINARY] + words
    names = {a.get("names", [{}])[0].get("name") if a.get("names") else None for a in arguments}
    for argument in arguments:
        kind = argument["kind"]
        name = argument.get("names", [{}])[0].get("name") if argument.get("names") else None
        if name in {"root", "runtime-directory", "version", "h"}:
            continue
        if kind == "flag":
            if random.random() < 0.3:
                argv.append("--" + name)
        elif kind == "option":
            for _ in range(random.choice([0, 0, 1, 1, 2])):
                argv += ["--" + name, value(name)]
        elif kind == "positional":
            argv += [random.choice(paths + STRINGS) for _ in range(random.choice([0, 1, 1, 2]))]
    # Waits a command has by default are shortened the same way, unless the case set them.
    for name in sorted(TIMES & names - set(argv)):
        if "--" + name not in argv:
            argv += ["--" + name, "3" if name != "wait" else "1"]
    if "root" in names:
        argv += ["--root", root]
    if "runtime-directory" in names:
        argv += ["--runtime-directory", os.path.join(root, "run")]
    return argv, root


runs = traps = hangs = unlisted = 0
statuses = {}
start = time.time()
stub_path = os.path.dirname(stubs[0])
while time.time() - start < SECONDS:
    argv, root = case()
    run_env = dict(env, PATH=stub_path + ":" + os.environ.get("PATH", ""), HOME=root)
    began = time.time()
    try:
        result = subprocess.run(argv, env=run_env, capture_output=True, timeout=DEADLINE, start_new_session=True)
        status = result.returncode
    except subprocess.TimeoutExpired as expired:
        status = "hang"
        result = expired
    runs += 1
    statuses[status] = statuses.get(status, 0) + 1
    problem = None
    if status == "hang":
        hangs += 1
        problem = f"no exit within {DEADLINE} s"
    elif status < 0 or status >= 128:
        traps += 1
        problem = f"killed by signal {-status if status < 0 else status - 128}"
    elif status not in LISTED:
        unlisted += 1
        problem = f"exit {status} is not a listed status"
    if problem:
        with open(os.path.join(FINDINGS, f"case-{runs}.sh"), "w") as out:
            out.write(f"# {problem}; stderr: {(result.stderr or b'')[-300:]!r}\n")
            out.write(" ".join(repr(word) for word in argv) + "\n")
    shutil.rmtree(root, ignore_errors=True)

elapsed = time.time() - start
print(f"cli-fuzz: {runs} runs of {len(COMMANDS)} subcommands in {elapsed:.0f} s; exit statuses "
      + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items(), key=lambda kv: str(kv[0]))))
print(f"cli-fuzz: {traps} traps, {hangs} hangs, {unlisted} unlisted statuses (cases in {FINDINGS})")
shutil.rmtree(work, ignore_errors=True)
sys.exit(1 if traps or hangs or unlisted else 0)
