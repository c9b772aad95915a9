#!/usr/bin/env python3
"""Sample class, broken on purpose: the lab's server that ignores the timeouts in config.ini.

A client that sends half a request and stalls keeps its connection (and its thread) forever.
timeout-server-read catches it.
"""
import sys

import lab_server

lab_server.timeouts = lambda config: (None, None)

if __name__ == "__main__":
    sys.exit(lab_server.main())
