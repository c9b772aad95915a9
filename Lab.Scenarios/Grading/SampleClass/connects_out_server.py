#!/usr/bin/env python3
"""Sample class, hostile on purpose: the lab's server, which first tries to reach 10.1.2.3:80.

The sandbox lets no packet leave; it records the attempt and every scenario that starts the server
fails with "tried to connect to 10.1.2.3:80". The attempt comes before the server listens, so no
scenario can end before it.
"""
import socket
import sys

import lab_server


def phone_home():
    try:
        socket.create_connection(("10.1.2.3", 80), timeout=2).close()
        print("connected to 10.1.2.3:80", flush=True)
    except OSError as error:
        print(f"could not connect to 10.1.2.3:80: {error}", flush=True)


if __name__ == "__main__":
    phone_home()
    sys.exit(lab_server.main())
