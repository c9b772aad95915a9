#!/usr/bin/env python3
"""Sample class, broken on purpose: the lab's server serving one connection at a time.

It handles each connection on the accepting thread instead of a thread of its own, so a second
client waits until the first one hangs up. ten-concurrent-clients catches it.
"""
import sys

import lab_server


def serve_one_at_a_time(self):
    while True:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        self.handle(conn)  # no thread: the next connection waits until this one closes


lab_server.TCPServer.serve_forever = serve_one_at_a_time

if __name__ == "__main__":
    sys.exit(lab_server.main())
