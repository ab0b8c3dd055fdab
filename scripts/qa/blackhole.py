"""A TCP listener on 127.0.0.1 that accepts connections and never responds.

Prints its port, then holds connections open for at most the given seconds.
Usage: blackhole.py [SECONDS]
"""

import socket
import sys
import time

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(64)
print(listener.getsockname()[1], flush=True)
listener.settimeout(0.5)
held = []
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    try:
        held.append(listener.accept()[0])
    except socket.timeout:
        pass
