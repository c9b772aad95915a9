#!/usr/bin/env python3
"""The lab's registry center, written from the lab's documents: Python's http.server with a
BaseHTTPRequestHandler that reads Content-Length bytes of JSON, answers HTTP/1.0 (the body ends
when the connection closes), and a thread that evicts instances whose heartbeat is too old.

    python3 lab_registry.py -l 127.0.0.1 -p 9999 [-c config.ini]
"""
import argparse
import json
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from lab_common import read_config

instances = {}  # (protocol, host, port) -> instance dict with its "timestamp"
lock = threading.Lock()


class RequestHandler(BaseHTTPRequestHandler):
    def answer(self, status, value):
        self.send_response(status)
        self.send_header("Content-type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(value).encode("utf-8"))

    def do_POST(self):
        length = int(self.headers["Content-Length"])  # the lab reads exactly this many bytes
        try:
            instance = json.loads(self.rfile.read(length))
            key = (instance["protocol"], instance["host"], int(instance["port"]))
        except (ValueError, KeyError, TypeError) as exception:
            self.answer(400, {"error": f"bad instance: {exception}"})
            return
        if instance["host"] in ("", "0.0.0.0", "::"):
            instance["host"] = self.client_address[0]
            key = (instance["protocol"], instance["host"], key[2])
        path = urlparse(self.path).path
        with lock:
            if path == "/myRegistry/register":
                instance["status"] = True
                instance["timestamp"] = time.time()
                instances[key] = instance
            elif path == "/myRegistry/unregister":
                instances.pop(key, None)
                instance["status"] = False
            else:
                self.answer(404, {"error": "Not Found"})
                return
        self.answer(200, instance)

    def do_GET(self):
        url = urlparse(self.path)
        if url.path != "/myRegistry/findAllInstances":
            self.answer(404, {"error": "Not Found"})
            return
        proto = parse_qs(url.query).get("proto", ["json"])[0]
        with lock:
            found = [instance for key, instance in instances.items() if key[0] == proto]
        self.answer(200, found)

    def log_message(self, format, *args):
        print(f"{self.address_string()} {format % args}", flush=True)


def evict_forever(config):
    while True:
        time.sleep(config["health_check_interval"])
        now = time.time()
        with lock:
            for key in [key for key, instance in instances.items() if now - instance["timestamp"] > config["heartbeat_timeout"]]:
                print(f"evicted {key}", flush=True)
                del instances[key]


def main():
    parser = argparse.ArgumentParser(description="The lab's registry center (Python peer)")
    parser.add_argument("-l", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=9999)
    parser.add_argument("-c", "--config", default=None)
    options = parser.parse_args()
    config = read_config(options.config)

    ThreadingHTTPServer.address_family = socket.AF_INET6 if ":" in options.host else socket.AF_INET
    server = ThreadingHTTPServer((options.host, options.port), RequestHandler)
    threading.Thread(target=evict_forever, args=(config,), daemon=True).start()

    def stop(signum, frame):
        raise KeyboardInterrupt

    # Set both explicitly: a program started in the background inherits an ignored SIGINT.
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(f"Registry listening on http://{options.host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
