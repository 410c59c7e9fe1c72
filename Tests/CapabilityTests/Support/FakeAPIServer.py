# Test double: stands in for kube-apiserver (its REST paths) with Harvester's admission webhooks and the PCI
# devices addon's claim controller: harvester/pcidevices bdd80256 (pkg/webhook/pcideviceclaim.go,
# pkg/controller/pcideviceclaim/pcideviceclaim_controller.go) and harvester/network-controller-harvester 2e5cbea3
# (pkg/webhook/nad/validator.go); each rule below cites its line.
"""Serves the requests kubectl makes to merge-patch a Node's labels, and to list and merge-patch
SRIOVNetworkDevice objects (devices.harvesterhci.io/v1beta1).

Usage: FakeAPIServer.py STATE_DIR NODE [MODE]

Writes its port to STATE_DIR/port once it listens on 127.0.0.1 (an ephemeral port), one line
per request ("METHOD PATH STATUS") to STATE_DIR/requests, and the stored Node, after every
change, to STATE_DIR/node.json. MODE: ok (default), 401, 403, 404 (the node is not
registered), 500x2 (the first two PATCHes fail with 500, then ok), 500x2-odd and 429x2-odd (the
same with 500 or 429 and an unusual reason, StorageRebalancing), slow (PATCH answers after
30 seconds). When STATE_DIR/sriovnetworkdevices.json (a JSON list of objects) exists at start, the
devices.harvesterhci.io group is served, list requests honour labelSelector key=value, and the
objects are written back to that file after every change.

When STATE_DIR/pcidevices.json (a JSON list of PCIDevice objects) exists at start, the cluster is a Harvester
one: pcidevices and pcideviceclaims are served with the addon's webhook and a stand-in of its claim controller
(claims are kept in pcideviceclaims.json, the KubeVirt CR in kubevirt.json), and NetworkAttachmentDefinitions go
through Harvester's network webhook (ClusterNetworks from clusternetworks.json, default ["mgmt"]; accepted ones
are kept in nads.json).
"""
import http.server
import json
import os
import re
import sys
import time
import urllib.parse

STATE, NODE = sys.argv[1], sys.argv[2]
MODE = sys.argv[3] if len(sys.argv) > 3 else "ok"
node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE, "labels": {"kubernetes.io/hostname": NODE}}}
if os.path.exists(os.path.join(STATE, "node-labels.json")):  # the Node's labels at start, besides the host name
    with open(os.path.join(STATE, "node-labels.json")) as source:
        node["metadata"]["labels"].update(json.load(source))
patches_failed = 0
DEVICES_FILE = os.path.join(STATE, "sriovnetworkdevices.json")
devices = None
if os.path.exists(DEVICES_FILE):
    with open(DEVICES_FILE) as source:
        devices = {d["metadata"]["name"]: d for d in json.load(source)}
GROUP, VERSION = "devices.harvesterhci.io", "v1beta1"


def load(name, default):
    path = os.path.join(STATE, name)
    if not os.path.exists(path):
        return default
    with open(path) as source:
        return json.load(source)


def save(name, value):
    with open(os.path.join(STATE, name + ".tmp"), "w") as out:
        json.dump(value, out)
    os.rename(os.path.join(STATE, name + ".tmp"), os.path.join(STATE, name))


def pci_names(vendor, device):
    """The vendor's and device's names from pci.ids, as ghw (which pcidevices uses) reads them."""
    vendor_name = device_name = None
    with open("/usr/share/misc/pci.ids", encoding="utf-8", errors="replace") as ids:
        for line in ids:
            if line.startswith("#") or not line.strip():
                continue
            if not line.startswith("\t"):
                if vendor_name is not None:
                    break
                if line[:4] == vendor:
                    vendor_name = line[4:].strip()
            elif vendor_name is not None and not line.startswith("\t\t") and line[1:5] == device:
                device_name = line[5:].strip()
    return vendor_name or vendor, device_name or device


def resource_name(vendor, device):
    """pcidevices pkg/apis/devices.harvesterhci.io/v1beta1/pcidevice.go resourceName (l.94-124)."""
    vendor_name, device_name = pci_names(vendor, device)
    inner = re.search(r"\[([^\]]*)\]", vendor_name)
    word = inner.group(1).split("/")[0] if inner else vendor_name.split()[0]
    prefix = re.sub(r"[^a-zA-Z0-9]", "", word).lower() + ".com"
    product = re.sub(r"[/.\s]", "_", device_name.upper())
    product = re.sub(r"[^A-Za-z0-9_.]", "", product).rstrip("_.-") or device
    return f"{prefix}/{product}"


pcidevices = load("pcidevices.json", None)
HARVESTER = pcidevices is not None
if HARVESTER:
    pcidevices = {d["metadata"]["name"]: d for d in pcidevices}
    for d in pcidevices.values():
        d["status"].setdefault("resourceName", resource_name(d["status"]["vendorId"], d["status"]["deviceId"]))
    save("pcidevices.json", list(pcidevices.values()))
claims = {c["metadata"]["name"]: c for c in load("pcideviceclaims.json", [])}
clusternetworks = load("clusternetworks.json", ["mgmt"])
nads = load("nads.json", {})
kubevirt = load("kubevirt.json", {"apiVersion": "kubevirt.io/v1", "kind": "KubeVirt",
                                  "metadata": {"name": "kubevirt", "namespace": "harvester-system"},
                                  "spec": {"configuration": {"permittedHostDevices": {}}}})
NAD_GROUP = "k8s.cni.cncf.io"
KUBEVIRT_PATH = "/apis/kubevirt.io/v1/namespaces/harvester-system/kubevirts/kubevirt"


def denied(webhook, message):
    # What kube-apiserver answers for a validating webhook's denial.
    return status(400, "BadRequest", f'admission webhook "{webhook}" denied the request: {message}')


def admit_nad(nad):
    """network-controller-harvester pkg/webhook/nad/validator.go, checkNadConfig (l.195-278), FailurePolicy Fail
    in every namespace (vendor/github.com/harvester/webhook/pkg/server/server.go l.191)."""
    try:
        config = json.loads(nad.get("spec", {}).get("config") or "{}")
    except ValueError:
        return denied("validator.harvester-network-webhook", "failed to decode nad config")
    if config.get("type") == "kube-ovn":  # l.203-214: only the provider is checked
        return None
    bridge = config.get("bridge", "")
    # l.222 GetBridgeNamePrefix (pkg/utils/bridge.go l.57-76): 3 < length <= 15, suffix -br.
    if len(bridge) <= 3:
        return denied("validator.harvester-network-webhook", f"the length of bridge name {bridge} is less than 3")
    if len(bridge) > 15 or not bridge.endswith("-br"):
        return denied("validator.harvester-network-webhook", f"bridge name {bridge} is invalid")
    if bridge[:-3] not in clusternetworks:  # l.233-236
        return denied("validator.harvester-network-webhook",
                      f"nad refers to a none-existing cluster network {bridge[:-3]}")
    return None


def admit_claim(claim):
    """pcidevices pkg/webhook/pcideviceclaim.go, Create (l.51-109)."""
    name = claim["metadata"]["name"]
    device = pcidevices.get(name)
    if device is None:  # l.60-63
        return denied("validator.harvesterhci.io", f'pcidevices.devices.harvesterhci.io "{name}" not found')
    if not device.get("status", {}).get("iommuGroup"):  # l.65-68
        return denied("validator.harvesterhci.io", f"pcidevice {name} has no iommu group")
    return None


def reconcile_claim(claim):
    """The claim controller (pcideviceclaim_controller.go): the device is the first ownerReference (l.560-573);
    a claim for another node is not this node's to handle (l.399); then attemptToEnablePassthrough (l.595-623)
    binds vfio-pci, and reconcileKubevirtCR (l.525-558) permits the device as an external resource."""
    owners = claim["metadata"].get("ownerReferences") or []
    if not owners or owners[0].get("kind") != "PCIDevice" or owners[0].get("name") not in pcidevices:
        return  # the real controller returns an error at every retry: the claim stays unbound
    device = pcidevices[owners[0]["name"]]
    if owners[0].get("uid") != device["metadata"].get("uid"):
        return
    if claim["spec"].get("nodeName") != device["status"].get("nodeName"):
        return
    if claim["spec"].get("address") != device["status"].get("address"):
        return  # deviceplugin.go l.51-60: the device would never be healthy
    claim["status"] = {"kernelDriverToUnbind": device["status"].get("kernelDriverInUse", ""),
                       "passthroughEnabled": True}
    device["status"]["kernelDriverInUse"] = "vfio-pci"
    permitted = kubevirt["spec"]["configuration"]["permittedHostDevices"].setdefault("pciHostDevices", [])
    selector = f'{device["status"]["vendorId"]}:{device["status"]["deviceId"]}'
    if not any(e["resourceName"] == device["status"]["resourceName"] for e in permitted):
        permitted.append({"pciVendorSelector": selector, "resourceName": device["status"]["resourceName"],
                          "externalResourceProvider": True})
    save("pcidevices.json", list(pcidevices.values()))
    save("kubevirt.json", kubevirt)
DEVICES_PATH = f"/apis/{GROUP}/{VERSION}/sriovnetworkdevices"

RESOURCE_LIST = {
    "kind": "APIResourceList", "groupVersion": "v1",
    "resources": [{"name": "nodes", "singularName": "node", "namespaced": False, "kind": "Node",
                   "verbs": ["get", "list", "patch", "update", "watch"], "shortNames": ["no"]}],
}


def merge(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge(result.get(key), value)
    return result


def status(code, reason, message):
    return code, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": message, "reason": reason, "code": code}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, code, body, content_type="application/json"):
        data = json.dumps(body).encode()
        with open(os.path.join(STATE, "requests"), "a") as log:
            log.write(f"{self.command} {self.path} {code}\n")
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def route(self):
        global node, patches_failed
        path = self.path.split("?")[0]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if MODE == "401":
            return status(401, "Unauthorized", "Unauthorized")
        if path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"],
                         "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}
        if path == "/apis":
            groups = []
            if HARVESTER:
                for group, version in ((NAD_GROUP, "v1"), ("kubevirt.io", "v1")):
                    entry = {"groupVersion": f"{group}/{version}", "version": version}
                    groups.append({"name": group, "versions": [entry], "preferredVersion": entry})
            if devices is not None or HARVESTER:
                version = {"groupVersion": f"{GROUP}/{VERSION}", "version": VERSION}
                groups.append({"name": GROUP, "versions": [version], "preferredVersion": version})
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
        if (devices is not None or HARVESTER) and path == f"/apis/{GROUP}/{VERSION}":
            kinds = [("sriovnetworkdevices", "SRIOVNetworkDevice")] if devices is not None else []
            if HARVESTER:
                kinds += [("pcidevices", "PCIDevice"), ("pcideviceclaims", "PCIDeviceClaim")]
            return 200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{GROUP}/{VERSION}",
                         "resources": [{"name": plural, "singularName": kind.lower(), "namespaced": False,
                                        "kind": kind, "verbs": ["create", "get", "list", "patch", "update",
                                                                "delete", "watch"]}
                                       for plural, kind in kinds]}
        if HARVESTER and path == f"/apis/{NAD_GROUP}/v1":
            return 200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{NAD_GROUP}/v1",
                         "resources": [{"name": "network-attachment-definitions", "singularName":
                                        "network-attachment-definition", "namespaced": True,
                                        "kind": "NetworkAttachmentDefinition", "shortNames": ["net-attach-def"],
                                        "verbs": ["create", "get", "list", "patch", "update", "delete"]}]}
        if HARVESTER and path == "/apis/kubevirt.io/v1":
            return 200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "kubevirt.io/v1",
                         "resources": [{"name": "kubevirts", "singularName": "kubevirt", "namespaced": True,
                                        "kind": "KubeVirt", "verbs": ["get", "list", "patch", "update"]}]}
        if HARVESTER and path.startswith(f"/apis/{GROUP}/{VERSION}/pcidevices"):
            return self.object_route(pcidevices, "pcidevices", path, body, writable=False)
        if HARVESTER and path.startswith(f"/apis/{GROUP}/{VERSION}/pcideviceclaims"):
            return self.object_route(claims, "pcideviceclaims", path, body, writable=True)
        if HARVESTER and path.startswith(f"/apis/{NAD_GROUP}/v1/namespaces/"):
            return self.nad_route(path, body)
        if HARVESTER and path == KUBEVIRT_PATH and self.command == "GET":
            return 200, kubevirt
        if devices is not None and path.startswith(DEVICES_PATH):
            return self.device_route(path[len(DEVICES_PATH):].lstrip("/"), body)
        if path == "/api/v1":
            return 200, RESOURCE_LIST
        if path == "/openapi/v3":
            # kubectl's client-side validation: each group's document, with no schema in it, as for a CRD
            # without one (kubectl then validates nothing and the server decides).
            groups = ["api/v1", f"apis/{GROUP}/{VERSION}", f"apis/{NAD_GROUP}/v1", "apis/kubevirt.io/v1"]
            return 200, {"paths": {g: {"serverRelativeURL": f"/openapi/v3/{g}?hash=1"} for g in groups}}
        if path.startswith("/openapi/v3/"):
            group_version = path[len("/openapi/v3/"):].split("/", 1)[1] if path.startswith("/openapi/v3/apis/") \
                else "v1"
            group, _, version = group_version.rpartition("/")
            kinds = {f"{GROUP}/{VERSION}": ["PCIDevice", "PCIDeviceClaim", "SRIOVNetworkDevice"],
                     f"{NAD_GROUP}/v1": ["NetworkAttachmentDefinition"], "kubevirt.io/v1": ["KubeVirt"]}
            schemas = {f"{group}.{version}.{kind}": {
                "type": "object", "x-kubernetes-preserve-unknown-fields": True,
                "x-kubernetes-group-version-kind": [{"group": group, "version": version, "kind": kind}]}
                for kind in kinds.get(group_version, [])}
            return 200, {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.30.0"}, "paths": {},
                         "components": {"schemas": schemas}}
        if path == "/version":
            return 200, {"major": "1", "minor": "30", "gitVersion": "v1.30.0"}
        if path.startswith("/api/v1/nodes/"):
            name = path[len("/api/v1/nodes/"):]
            if MODE == "403":
                return status(403, "Forbidden", f'nodes "{name}" is forbidden: node "other" is not allowed to '
                              f'modify node "{name}"')
            if MODE == "404" or name != NODE:
                return status(404, "NotFound", f'nodes "{name}" not found')
            if self.command == "GET":
                return 200, node
            if self.command == "PATCH":
                if MODE == "500x2" and patches_failed < 2:
                    patches_failed += 1
                    return status(500, "InternalError", "etcdserver: request timed out")
                if MODE in ("500x2-odd", "429x2-odd") and patches_failed < 2:
                    patches_failed += 1
                    # A reason kubectl has no name of its own for: only the HTTP status says it is worth a retry.
                    return status(int(MODE[:3]), "StorageRebalancing", "the store is rebalancing, try again")
                if MODE == "slow":
                    time.sleep(30)
                if self.headers.get("Content-Type") != "application/merge-patch+json":
                    return status(415, "UnsupportedMediaType", "only merge patches here")
                node = merge(node, json.loads(body))
                with open(os.path.join(STATE, "node.json"), "w") as out:
                    json.dump(node, out)
                return 200, node
        return status(404, "NotFound", "the server could not find the requested resource")

    def device_route(self, name, body):
        if MODE == "403":
            return status(403, "Forbidden", f'sriovnetworkdevices.{GROUP} is forbidden: User "system:node:{NODE}" '
                          f'cannot list resource "sriovnetworkdevices" in API group "{GROUP}" at the cluster scope')
        if not name and self.command == "GET":
            query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
            selector = query.get("labelSelector", [""])[0]
            items = list(devices.values())
            if selector:
                key, _, value = selector.partition("=")
                items = [d for d in items if d["metadata"].get("labels", {}).get(key) == value]
            return 200, {"apiVersion": f"{GROUP}/{VERSION}", "kind": "SRIOVNetworkDeviceList",
                         "metadata": {"resourceVersion": "1"}, "items": items}
        if name not in devices:
            return status(404, "NotFound", f'sriovnetworkdevices.{GROUP} "{name}" not found')
        if self.command == "GET":
            return 200, devices[name]
        if self.command == "PATCH":
            if self.headers.get("Content-Type") != "application/merge-patch+json":
                return status(415, "UnsupportedMediaType", "only merge patches here")
            devices[name] = merge(devices[name], json.loads(body))
            with open(DEVICES_FILE, "w") as out:
                json.dump(list(devices.values()), out)
            return 200, devices[name]
        return status(405, "MethodNotAllowed", "not here")

    def object_route(self, store, plural, path, body, writable):
        name = path.split(f"/{plural}", 1)[1].lstrip("/")
        kind = {"pcidevices": "PCIDevice", "pcideviceclaims": "PCIDeviceClaim"}[plural]
        if not name and self.command == "GET":
            return 200, {"apiVersion": f"{GROUP}/{VERSION}", "kind": f"{kind}List",
                         "metadata": {"resourceVersion": "1"}, "items": list(store.values())}
        if not name and self.command == "POST" and writable:
            claim = json.loads(body)
            if claim["metadata"]["name"] in store:
                return status(409, "AlreadyExists",
                              f'{plural}.{GROUP} "{claim["metadata"]["name"]}" already exists')
            refusal = admit_claim(claim)
            if refusal:
                return refusal
            claim["metadata"]["uid"] = f'claim-{len(store) + 1}'
            store[claim["metadata"]["name"]] = claim
            reconcile_claim(claim)
            save("pcideviceclaims.json", list(store.values()))
            return 201, claim
        if name in store and self.command == "GET":
            return 200, store[name]
        if name not in store:
            return status(404, "NotFound", f'{plural}.{GROUP} "{name}" not found')
        return status(405, "MethodNotAllowed", "not here")

    def nad_route(self, path, body):
        parts = path.split("/")  # /apis/GROUP/v1/namespaces/NS/network-attachment-definitions[/NAME]
        namespace = parts[5]
        name = parts[7] if len(parts) > 7 else ""
        key = f"{namespace}/{name}"
        if self.command == "GET" and name:
            if key in nads:
                return 200, nads[key]
            return status(404, "NotFound", f'network-attachment-definitions.{NAD_GROUP} "{name}" not found')
        if self.command == "POST":
            nad = json.loads(body)
            refusal = admit_nad(nad)
            if refusal:
                return refusal
            nad["metadata"]["namespace"] = namespace
            nads[f'{namespace}/{nad["metadata"]["name"]}'] = nad
            save("nads.json", nads)
            return 201, nad
        return status(405, "MethodNotAllowed", "not here")

    def handle_any(self):
        code, body = self.route()
        self.answer(code, body)

    do_GET = do_PATCH = do_PUT = do_POST = do_DELETE = handle_any


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(os.path.join(STATE, "port.tmp"), "w") as out:
    out.write(str(server.server_address[1]))
os.rename(os.path.join(STATE, "port.tmp"), os.path.join(STATE, "port"))
server.serve_forever()
