"""ram from /proc/meminfo, on fake trees and against free."""

import shutil
import subprocess

import psutil
import pytest

from agent.capture import capture
from agent.samples import Status
from agent.sources.host import HostSource


def test_ram_in_bytes(host):
    source = host({"/proc/meminfo": "MemTotal:       16303584 kB\nMemFree:         1234567 kB\n"})

    assert capture(source, "ram").value == 16303584 * 1024


def test_emulate_meminfo_without_total(host):
    sample = capture(host({"/proc/meminfo": "MemFree: 1 kB\n"}), "ram")

    assert sample.status is Status.UNAVAILABLE
    assert "MemTotal" in sample.reason


def test_emulate_missing_proc(host):
    assert capture(host(), "ram").status is Status.UNAVAILABLE


def test_against_free():
    if shutil.which("free") is None:
        pytest.skip("free is not installed (Debian package procps)")
    output = subprocess.run(["free", "-b"], capture_output=True, text=True, check=True).stdout
    total = int(next(line for line in output.splitlines() if line.startswith("Mem:")).split()[1])

    assert capture(HostSource(), "ram").value == total


def test_against_psutil():
    assert capture(HostSource(), "ram").value == psutil.virtual_memory().total
