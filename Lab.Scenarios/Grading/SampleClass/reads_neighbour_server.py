#!/usr/bin/env python3
"""Sample class, hostile on purpose: the lab's server, which first tries to read the other students'
submissions and to write outside its work folder, and prints what it managed.

    python3 reads_neighbour_server.py --class-folder /path/to/class alice,bob -l HOST -p PORT -c CONFIG

In the sandbox every attempt fails (the class folder is hidden, the other copies belong to other
users, the world-writable folders are read-only), so it prints "read 0 of N" and "wrote nothing";
without one it reads the whole class.
"""
import os
import sys

import lab_server


def snoop(class_folder, neighbours):
    own_copy = os.path.dirname(os.path.abspath(__file__))
    grading_folder = os.path.dirname(os.path.dirname(own_copy))  # in the sandbox: where every submission's copy is
    places = [os.path.join(class_folder, name, "lab.ini") for name in neighbours]
    places += [os.path.join(grading_folder, name, "submission", "lab.ini") for name in neighbours]
    tried, read = 0, 0
    for place in places:
        tried += 1
        try:
            with open(place, encoding="utf-8") as file:
                file.read()
            read += 1
            print(f"snoop: read {place}", flush=True)
        except OSError as error:
            print(f"snoop: could not read {place}: {error.strerror}", flush=True)
    wrote = []
    for folder in ("/tmp", "/var/tmp", "/dev/shm", os.path.dirname(own_copy)):
        try:
            stolen = os.path.join(folder, f"stolen-{os.getpid()}")
            with open(stolen, "w", encoding="utf-8") as file:
                file.write("written by a submission\n")
            wrote.append(folder)
            # The log line is the evidence; graded without a sandbox, the file must not stay behind.
            os.remove(stolen)
        except OSError as error:
            print(f"snoop: could not write in {folder}: {error.strerror}", flush=True)
    print(f"snoop: read {read} of {tried}; wrote {', '.join(wrote) if wrote else 'nothing'}", flush=True)


if __name__ == "__main__":
    at = sys.argv.index("--class-folder")
    class_folder, neighbours = sys.argv[at + 1], sys.argv[at + 2].split(",")
    del sys.argv[at:at + 3]
    snoop(class_folder, neighbours)
    sys.exit(lab_server.main())
