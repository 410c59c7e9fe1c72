# Test double: stands in for kube-apiserver, following its REST paths, for `kubectl patch node` and
# for `kubectl get`/`patch` of harvester/pcidevices' cluster-scoped SRIOVNetworkDevice kind.
"""Serves the requests kubectl makes to merge-patch a Node's labels, and to list and merge-patch
SRIOVNetworkDevice objects (devices.harvesterhci.io/v1beta1).

Usage: FakeAPIServer.py STATE_DIR NODE [MODE]

Writes its port to STATE_DIR/port once it listens on 127.0.0.1 (an ephemeral port), one line
per request ("METHOD PATH STATUS") to STATE_DIR/requests, and the stored Node, after every
change, to STATE_DIR/node.json. MODE: ok (default), 401, 403, 404 (the node is not
registered), 500x2 (the first two PATCHes fail with 500, then ok), slow (PATCH answers after
30 seconds). When STATE_DIR/sriovnetworkdevices.json (a JSON list of objects) exists at start, the
devices.harvesterhci.io group is served, list requests honour labelSelector key=value, and the
objects are written back to that file after every change.
"""
import http.server
import json
import os
import sys
import time
import urllib.parse

STATE, NODE = sys.argv[1], sys.argv[2]
MODE = sys.argv[3] if len(sys.argv) > 3 else "ok"
node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE, "labels": {"kubernetes.io/hostname": NODE}}}
patches_failed = 0
DEVICES_FILE = os.path.join(STATE, "sriovnetworkdevices.json")
devices = None
if os.path.exists(DEVICES_FILE):
    with open(DEVICES_FILE) as source:
        devices = {d["metadata"]["name"]: d for d in json.load(source)}
GROUP, VERSION = "devices.harvesterhci.io", "v1beta1"
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
            if devices is not None:
                version = {"groupVersion": f"{GROUP}/{VERSION}", "version": VERSION}
                groups.append({"name": GROUP, "versions": [version], "preferredVersion": version})
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
        if devices is not None and path == f"/apis/{GROUP}/{VERSION}":
            return 200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{GROUP}/{VERSION}",
                         "resources": [{"name": "sriovnetworkdevices", "singularName": "sriovnetworkdevice",
                                        "namespaced": False, "kind": "SRIOVNetworkDevice",
                                        "verbs": ["get", "list", "patch", "update", "watch"]}]}
        if devices is not None and path.startswith(DEVICES_PATH):
            return self.device_route(path[len(DEVICES_PATH):].lstrip("/"), body)
        if path == "/api/v1":
            return 200, RESOURCE_LIST
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

    def handle_any(self):
        code, body = self.route()
        self.answer(code, body)

    do_GET = do_PATCH = do_PUT = do_POST = do_DELETE = handle_any


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(os.path.join(STATE, "port.tmp"), "w") as out:
    out.write(str(server.server_address[1]))
os.rename(os.path.join(STATE, "port.tmp"), os.path.join(STATE, "port"))
server.serve_forever()
