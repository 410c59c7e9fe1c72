# Test double: stands in for KubeVirt's virt-launcher (kubevirt v1.8.3, 540f37cf) finding a VM's devices, fed by
# stand-ins of the device plugins that allocate them: harvester/pcidevices bdd80256 and the SR-IOV network
# device plugin 40b6f507. Each rule cites its upstream line.
"""Usage: VirtLauncherStandIn.py API_STATE_DIR VM.yaml [EXTRA_ENV.json]

Allocates every hostDevices entry of the VM (a VirtualMachine, or its spec.template.spec) through the
environment the device plugins give the pod, then resolves each device as virt-launcher does. API_STATE_DIR is
FakeAPIServer.py's state (PCIDevices, claims, the KubeVirt CR). EXTRA_ENV.json adds variables another plugin
sets (e.g. the SR-IOV network device plugin's PCIDEVICE_...). Prints one line per device resolved; exits 1 with
KubeVirt's words for the first device that cannot be.
"""
import json
import os
import sys

import yaml


def env_name(prefix, resource):
    # kubevirt pkg/util/util.go ResourceNameToEnvVar (l.115-120 at v1.8.3): upper case, '/' and '.' to '_'.
    return f'{prefix}_{resource.upper().replace("/", "_").replace(".", "_")}'


def load(state, name, default):
    path = os.path.join(state, name)
    if not os.path.exists(path):
        return default
    with open(path) as source:
        return json.load(source)


def pcidevices_plugin(state):
    """pcidevices pkg/deviceplugins/device_manager.go: one plugin per resourceName of the claimed, bound devices
    (passthroughEnabled); Allocate sets PCI_RESOURCE_<name> (l.47, 258, 284-287) to their addresses. KubeVirt
    lets the pod ask for it only when permittedHostDevices names it (externalResourceProvider: true)."""
    devices = {d["metadata"]["name"]: d for d in load(state, "pcidevices.json", [])}
    claims = load(state, "pcideviceclaims.json", [])
    permitted = load(state, "kubevirt.json", {}).get("spec", {}).get("configuration", {}) \
        .get("permittedHostDevices", {}).get("pciHostDevices", [])
    served = {e["resourceName"] for e in permitted if e.get("externalResourceProvider")}
    pools = {}
    for claim in claims:
        device = devices.get(claim["metadata"]["name"])
        if not device or not (claim.get("status") or {}).get("passthroughEnabled"):
            continue
        resource = device["status"]["resourceName"]
        if resource in served:
            pools.setdefault(resource, []).append(device["status"]["address"])
    return pools


def main():
    state, vm_file = sys.argv[1], sys.argv[2]
    with open(vm_file) as source:
        vm = yaml.safe_load(source)
    spec = vm.get("spec", {}).get("template", {}).get("spec", vm) if vm.get("kind") == "VirtualMachine" else vm
    devices = spec.get("domain", {}).get("devices", {})
    pools = pcidevices_plugin(state)
    # pcidevices' VM webhook (pkg/webhook/vm_validatation.go l.115-148): a hostDevice must name a PCIDevice's
    # status.resourceName.
    names = {d["status"]["resourceName"] for d in load(state, "pcidevices.json", [])}
    environment = {}
    for host_device in devices.get("hostDevices", []):
        resource = host_device["deviceName"]
        if names and resource not in names:
            print(f'admission webhook "validator.harvesterhci.io" denied the request: hostDevice '
                  f'{host_device["name"]}: no PCIDevice has resourceName {resource}')
            return 1
        # The kubelet gives the pod one device per request from the plugin that serves the resource.
        pool = pools.get(resource, [])
        if pool:
            variable = env_name("PCI_RESOURCE", resource)
            environment[variable] = ",".join(filter(None, [environment.get(variable, ""), pool.pop(0)]))
    if len(sys.argv) > 3:
        with open(sys.argv[3]) as source:
            environment.update(json.load(source))
    # virt-launcher: pkg/virt-launcher/virtwrap/device/hostdevice/generic/addresspool.go l.30-32 and
    # hostdevice/addresspool.go l.46-62 read PCI_RESOURCE_<resource> only; a missing one is skipped, then
    # generic/hostdev.go l.90-100 fails the VM.
    taken = set()
    for host_device in devices.get("hostDevices", []):
        variable = env_name("PCI_RESOURCE", host_device["deviceName"])
        addresses = [a for a in environment.get(variable, "").rstrip(",").split(",") if a and a not in taken]
        if not addresses:
            print("failed to create hostdevice: the number of device plugin HostDevice/s do not match the number "
                  f"of devices ({variable} not set for resource {host_device['deviceName']})")
            return 1
        taken.add(addresses[0])
        print(f'hostDevice {host_device["name"]}: {addresses[0]}')
    # sriov/hostdev.go l.44-66 (v1.8.3): SR-IOV interfaces find their VF only in the Multus network-status that
    # the downward API gives (/etc/podinfo/network-info); no plugin's environment is read any more.
    network_info = load(state, "network-info.json", {})
    for interface in devices.get("interfaces", []):
        if "sriov" not in interface:
            continue
        if interface["name"] not in network_info:
            print("failed to create SR-IOV hostdevices: found no SR-IOV networks to PCI-Address mapping")
            return 1
        print(f'interface {interface["name"]}: {network_info[interface["name"]]}')
    return 0


sys.exit(main())
