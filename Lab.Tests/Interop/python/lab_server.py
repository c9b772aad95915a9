#!/usr/bin/env python3
"""The lab's RPC server, written from the lab's documents: a TCP server that answers one JSON
request with one JSON reply (one recv(1024) per request, one sendall per reply, no newline), a
thread per connection, and a heartbeat thread that re-registers with the registry.

    python3 lab_server.py -l 127.0.0.1 -p 8001 [-c config.ini]
"""
import argparse
import inspect
import json
import math
import signal
import socket
import sys
import threading
import urllib.request

from lab_common import read_config, url_host


def add(a, b, c=10):
    return a + b + c


def subtract(a, b):
    return a - b


def multiply(a, b):
    return a * b


def divide(a, b):
    if b == 0:
        raise ZeroDivisionError("Division by zero error!")
    return a / b


def area_of_circle(radius):
    return math.pi * radius ** 2


def square(number):
    return number ** 2


def to_uppercase(string):
    return string.upper()


def reverse_string(string):
    return string[::-1]


def hi(user):
    return f"hi {user}, welcome"


def hello(name):
    return f"Hello, {name}!"


class ServerStub:
    """Method registration by name and dispatch."""

    def __init__(self):
        self.methods = {}

    def register(self, function):
        self.methods[function.__name__] = function

    def describe(self):
        described = []
        for name, function in self.methods.items():
            parameters = inspect.signature(function).parameters.values()
            described.append({
                "method_name": name,
                "method_args": [p.name for p in parameters if p.default is inspect.Parameter.empty],
                "method_kwargs": {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty},
            })
        return described

    def call(self, request):
        name = request.get("method_name")
        if name == "all_your_methods":
            return {"res": self.describe()}
        if name not in self.methods:
            return error("MethodNotFound", f"method {name} not found")
        args = request.get("method_args") or []
        kwargs = request.get("method_kwargs") or {}
        function = self.methods[name]
        try:
            inspect.signature(function).bind(*args, **kwargs)
        except TypeError as exception:
            return error("InvalidArguments", str(exception))
        try:
            return {"res": function(*args, **kwargs)}
        except Exception as exception:  # the method failed: the caller gets the reason
            return error("MethodFailed", str(exception))


def error(code, message):
    return {"res": message, "error": {"code": code, "message": message}}


def timeouts(config):
    """The read and write timeouts from config.ini's [server] section (None: wait forever)."""
    return config["read_timeout"], config["write_timeout"]


class TCPServer:
    def __init__(self, host, port, stub, timeouts=(None, None)):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(128)
        self.stub = stub
        self.read_timeout, self.write_timeout = timeouts

    def serve_forever(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # the listening socket was closed: stop
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn):
        with conn:
            while True:
                try:
                    conn.settimeout(self.read_timeout)  # a client that stalls is dropped after read_timeout
                    data = conn.recv(1024)
                except OSError:  # socket.timeout is an OSError too
                    return
                if not data:
                    return
                try:
                    request = json.loads(data.decode("utf-8"))
                    reply = self.stub.call(request) if isinstance(request, dict) else error("BadRequest", "not a JSON object")
                except ValueError as exception:
                    reply = error("BadRequest", f"not JSON: {exception}")
                try:
                    conn.settimeout(self.write_timeout)  # a client that never reads is dropped after write_timeout
                    conn.sendall(json.dumps(reply).encode("utf-8"))
                except OSError:
                    return


class RegistryClient:
    """Registers, heartbeats every heartbeat_interval, unregisters on stop."""

    def __init__(self, config, instance):
        base = f"http://{url_host(config['registry_host'])}:{config['registry_port']}/myRegistry"
        self.base = base
        self.instance = instance
        self.interval = config["heartbeat_interval"]
        self.stopped = threading.Event()

    def post(self, path):
        body = json.dumps(self.instance).encode("utf-8")
        request = urllib.request.Request(f"{self.base}/{path}", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=3) as response:
            return response.read()

    def heartbeat_forever(self):
        while not self.stopped.is_set():
            try:
                self.post("register")
            except OSError as exception:
                print(f"registry unreachable: {exception}", flush=True)
            self.stopped.wait(self.interval)

    def stop(self):
        self.stopped.set()
        try:
            self.post("unregister")
            print("unregistered", flush=True)
        except OSError as exception:
            print(f"could not unregister: {exception}", flush=True)


def main():
    parser = argparse.ArgumentParser(description="The lab's RPC server (Python peer)")
    parser.add_argument("-l", "--host", default="0.0.0.0")
    parser.add_argument("-p", "--port", type=int, required=True)
    parser.add_argument("-c", "--config", default=None)
    options = parser.parse_args()
    config = read_config(options.config)

    stub = ServerStub()
    for function in (add, subtract, multiply, divide, area_of_circle, square, to_uppercase, reverse_string, hi, hello):
        stub.register(function)
    server = TCPServer(options.host, options.port, stub, timeouts(config))
    registry = RegistryClient(config, {"protocol": "json", "host": options.host, "port": options.port,
                                       "status": True, "parameters": {"mode": "python"}})
    heartbeat = threading.Thread(target=registry.heartbeat_forever, daemon=True)
    heartbeat.start()

    def stop(signum, frame):
        # Graceful stop: no more heartbeats, unregister, stop accepting, exit 0.
        registry.stop()
        server.sock.close()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(f"Server listening on {options.host}:{options.port}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
