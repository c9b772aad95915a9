#!/usr/bin/env python3
"""Sample class, hostile on purpose: the lab's server, which first allocates without end.

The sandbox's memory limit ends it (the kernel's OOM killer) before it listens, so every scenario
that starts it fails the same way: "exceeded N MiB of memory".
"""
import sys

import lab_server


def allocate_forever():
    hoard = []
    while True:
        hoard.append(b"\1" * (16 << 20))  # written, not just reserved: each block really costs 16 MiB


if __name__ == "__main__":
    allocate_forever()
    sys.exit(lab_server.main())
