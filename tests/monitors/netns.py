"""A network namespace for tests, and a way to open sockets inside it."""

import ctypes
import os
import shutil
import subprocess
import threading
import uuid

CLONE_NEWNET = 0x40000000


class NamespaceUnavailable(Exception):
    """This machine does not let the test create a network namespace."""


class NetworkNamespace:
    def __init__(self):
        if shutil.which("ip") is None:
            raise NamespaceUnavailable("the ip command (iproute2) is not installed")
        if os.geteuid() != 0:
            raise NamespaceUnavailable("creating a network namespace needs root")
        self.name = f"agent-test-{uuid.uuid4().hex[:8]}"
        result = subprocess.run(["ip", "netns", "add", self.name], capture_output=True, text=True)
        if result.returncode != 0:
            raise NamespaceUnavailable(f"ip netns add failed: {result.stderr.strip()}")

    def ip(self, *arguments):
        """Run `ip -n NAME ARGUMENTS` and raise with its stderr when it fails."""
        result = subprocess.run(["ip", "-n", self.name, *arguments], capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"ip {' '.join(arguments)} failed: {result.stderr.strip()}")

    def add_link(self, name):
        """Add a dummy link, or a veth pair where the kernel has no dummy driver; return the link name."""
        try:
            self.ip("link", "add", name, "type", "dummy")
        except RuntimeError:
            self.ip("link", "add", name, "type", "veth", "peer", "name", f"{name}p")
            self.ip("link", "set", f"{name}p", "up")
        self.ip("link", "set", name, "up")
        return name

    def inside(self, function):
        """Call function in a thread that entered the namespace; sockets it opens stay in it."""
        result = {}

        def enter_and_call():
            libc = ctypes.CDLL(None, use_errno=True)
            with open(f"/run/netns/{self.name}") as handle:
                if libc.setns(handle.fileno(), CLONE_NEWNET) != 0:
                    result["error"] = OSError(ctypes.get_errno(), "setns failed")
                    return
            try:
                result["value"] = function()
            except Exception as error:  # noqa: BLE001 - handed back to the caller's thread
                result["error"] = error

        thread = threading.Thread(target=enter_and_call)
        thread.start()
        thread.join()
        if "error" in result:
            raise result["error"]
        return result["value"]

    def delete(self):
        subprocess.run(["ip", "netns", "delete", self.name], capture_output=True)
