#!/usr/bin/env python3
"""Sample class, broken on purpose: the lab's server serving one connection at a time.

It handles each connection on the accepting thread instead of a thread of its own, from the first
byte to the client hanging up (with no read timeout, as the lab's original server), so a second
client waits until the first one leaves. ten-concurrent-clients, hundred-connections and
timeout-server-read catch it, and a client that keeps its connection open for the next call
(ours does) blocks every other one. Each call takes 50 ms of work, as a real method does, so the
concurrent calls of a client really overlap and its second connection waits, every time: the
verdicts do not hang on how fast this machine happens to be.
"""
import sys
import time

import lab_server

answer = lab_server.ServerStub.call


def call_with_work(self, request):
    time.sleep(0.05)
    return answer(self, request)


def serve_one_at_a_time(self):
    while True:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        self.handle(conn)  # no thread: the next connection waits until this one closes


lab_server.TCPServer.serve_forever = serve_one_at_a_time
lab_server.ServerStub.call = call_with_work
lab_server.timeouts = lambda config: (None, None)

if __name__ == "__main__":
    sys.exit(lab_server.main())
