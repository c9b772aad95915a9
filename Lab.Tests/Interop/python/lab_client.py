#!/usr/bin/env python3
"""The lab's RPC client, written from the lab's documents: each call opens a new connection,
sends one JSON object with sendall (no newline), reads the reply with one recv(1024), and closes.
In registry mode (the default) it asks the registry for the servers and picks one at random per call.

    python3 lab_client.py -m server -i 127.0.0.1 -p 8001
    python3 lab_client.py -c config.ini                # registry mode

It calls the ten demo methods, then hi(0) ... hi(29) as a lab client does, prints each result and
exits 0 only if every call was answered without an error.
"""
import argparse
import json
import random
import socket
import sys
import urllib.request

from lab_common import read_config, url_host

CALLS = [
    ("add", [1, 2], {}), ("add", [1, 2], {"c": 5}), ("subtract", [5, 3], {}), ("multiply", [4, 2.5], {}),
    ("divide", [1, 4], {}), ("area_of_circle", [2], {}), ("square", [7], {}), ("to_uppercase", ["abc"], {}),
    ("reverse_string", ["abc"], {}), ("hi", ["lab"], {}), ("hello", ["world"], {}),
] + [("hi", [i], {}) for i in range(30)]


class TCPClient:
    def __init__(self, host, port, config):
        self.address = (host, port)
        self.connect_timeout = config["connect_timeout"]
        self.call_timeout = config["call_timeout"]

    def call(self, request):
        family = socket.AF_INET6 if ":" in self.address[0] else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(self.connect_timeout)
            sock.connect(self.address)
            sock.settimeout(self.call_timeout)  # sending, and waiting for the reply
            sock.sendall(json.dumps(request).encode("utf-8"))
            data = sock.recv(1024)
        return json.loads(data.decode("utf-8"))


def find_servers(config):
    url = f"http://{url_host(config['registry_host'])}:{config['registry_port']}/myRegistry/findAllInstances?proto=json"
    with urllib.request.urlopen(url, timeout=3) as response:
        return [(instance["host"], instance["port"]) for instance in json.loads(response.read())]


def main():
    parser = argparse.ArgumentParser(description="The lab's RPC client (Python peer)")
    parser.add_argument("-m", "--mode", choices=["server", "registry"], default="registry")
    parser.add_argument("-i", "--host")
    parser.add_argument("-p", "--port", type=int)
    parser.add_argument("-c", "--config", default=None)
    options = parser.parse_args()

    config = read_config(options.config)
    if options.mode == "server":
        servers = [(options.host, options.port)]
    else:
        servers = find_servers(config)
    if not servers:
        print("no server available", flush=True)
        return 1

    failed = 0
    for name, args, kwargs in CALLS:
        host, port = random.choice(servers)
        shown = ", ".join([json.dumps(a) for a in args] + [f"{k}={json.dumps(v)}" for k, v in kwargs.items()])
        try:
            reply = TCPClient(host, port, config).call({"method_name": name, "method_args": args, "method_kwargs": kwargs})
        except (OSError, ValueError) as exception:
            print(f"{name}({shown}) failed: {exception} [{host}:{port}]", flush=True)
            failed += 1
            continue
        if "error" in reply:
            failed += 1
        print(f"{name}({shown}) = {json.dumps(reply.get('res'))} [{host}:{port}]{' ERROR' if 'error' in reply else ''}", flush=True)

    print(f"answered {len(CALLS) - failed} of {len(CALLS)} calls", flush=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
