#!/usr/bin/env python3
"""Sample class, hostile on purpose: the lab's server, which first starts a daemon that outlives it.

The daemon double-forks away from the server (so killing the server's process tree misses it) and
sleeps forever. The sandbox finds it in the server's cgroup when the scenario ends, kills it, and the
scenario fails with "left 1 process(es) running".
"""
import os
import sys
import time

import lab_server


def start_daemon():
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            while True:
                time.sleep(60)
        os._exit(0)
    os.wait()


if __name__ == "__main__":
    start_daemon()
    sys.exit(lab_server.main())
