#!/usr/bin/env python3
"""Sample class, hostile on purpose: the lab's server, which first forks until the kernel refuses.

Each child becomes a sleep that outlives the server. The sandbox's process limit stops the forks
before the server even listens, so every scenario that starts it fails the same way: "forked more
than N processes and threads".
"""
import os
import sys

import lab_server


def fork_until_refused():
    children = 0
    while True:
        try:
            if os.fork() == 0:
                os.execv("/bin/sleep", ["sleep", "3600"])  # a small process: the limit hit is the process count, not memory
            children += 1
        except OSError as error:
            print(f"fork refused after {children} children: {error}", flush=True)
            return


if __name__ == "__main__":
    fork_until_refused()
    sys.exit(lab_server.main())
