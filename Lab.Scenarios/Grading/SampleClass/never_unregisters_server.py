#!/usr/bin/env python3
"""Sample class, broken on purpose: the lab's server that never unregisters.

On Ctrl+C or SIGTERM it stops heartbeating and exits, but leaves its entry in the registry until
the registry evicts it. shutdown-registry-up-service-up catches it.
"""
import sys

import lab_server


def stop_without_unregistering(self):
    self.stopped.set()


lab_server.RegistryClient.stop = stop_without_unregistering

if __name__ == "__main__":
    sys.exit(lab_server.main())
