"""connect_type and device_ip on fake /proc/net and /sys/class/net trees."""

import ipaddress
import json
import shutil
import subprocess

import pytest

from agent.capture import capture
from agent.collectors import network
from agent.samples import Status
from agent.sources.host import HostSource

HEADER = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"


def route(interface, destination, mask, metric=0, gateway="00000000", flags="0001"):
    return f"{interface}\t{destination}\t{gateway}\t{flags}\t0\t0\t{metric}\t{mask}\t0\t0\t0\n"


def link(kind="1", carrier="1", operstate="up", wireless=False, uevent="", bridge=False):
    entries = {"type": kind + "\n", "carrier": carrier + "\n", "operstate": operstate + "\n", "uevent": uevent}
    if wireless:
        entries["wireless"] = None
    if bridge:
        entries["bridge"] = None
    return entries


FIB_TRIE = """Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 172.17.0.0/16 2 0 2
        |-- 172.17.0.1
           /32 host LOCAL
     +-- 192.168.1.0/24 2 0 2
        |-- 192.168.1.0
           /24 link UNICAST
        |-- 192.168.1.23
           /32 host LOCAL
        |-- 192.168.1.255
           /32 link BROADCAST
Local:
  +-- 0.0.0.0/0 3 0 5
     |-- 192.168.1.23
        /32 host LOCAL
     |-- 127.0.0.1
        /32 host LOCAL
"""
IF_INET6 = """00000000000000000000000000000001 01 80 10 80       lo
fe80000000000000021122fffe334455 02 40 20 80   wlp2s0
20010db8000000000000000000000017 02 40 00 00   wlp2s0
20010db80000000000000000000000aa 02 40 00 40   wlp2s0
fd000000000000000000000000000005 03 40 00 80  docker0
"""


def laptop(**overrides):
    tree = {
        "/proc/net/route": HEADER
        + route("docker0", "00000000", "00000000", metric=0, flags="0003", gateway="010011AC")
        + route("wlp2s0", "00000000", "00000000", metric=600, flags="0003", gateway="0101A8C0")
        + route("wlp2s0", "0001A8C0", "00FFFFFF", metric=600)
        + route("docker0", "000011AC", "0000FFFF"),
        "/proc/net/fib_trie": FIB_TRIE,
        "/proc/net/if_inet6": IF_INET6,
        "/sys/class/net/wlp2s0": link(wireless=True),
        "/sys/class/net/docker0": link(bridge=True, uevent="DEVTYPE=bridge\n"),
        "/sys/class/net/enp0s31f6": link(carrier="0", operstate="down"),
    }
    tree.update(overrides)
    return tree


def test_docker_default_route_skipped(host):
    source = host(laptop())

    assert capture(source, "connect_type").value == "wifi"
    assert capture(source, "device_ip").value == ["192.168.1.23", "2001:db8::17"]


def test_emulate_any_bridge_skipped(host):
    tree = laptop()
    tree["/proc/net/route"] = HEADER + route("lan0", "00000000", "00000000", flags="0003") + route("wlp2s0", "00000000", "00000000", metric=600, flags="0003")
    tree["/sys/class/net/lan0"] = link(bridge=True)

    assert capture(host(tree), "connect_type").value == "wifi"


def test_emulate_veth_skipped(host):
    tree = laptop()
    tree["/proc/net/route"] = HEADER + route("veth3a9f1c2", "00000000", "00000000", flags="0003")

    assert capture(host(tree), "connect_type").value == "none"


def test_emulate_up_without_carrier(host):
    tree = laptop()
    tree["/proc/net/route"] += route("enp0s31f6", "00000000", "00000000", metric=100, flags="0003")

    assert capture(host(tree), "connect_type").value == "wifi"


def test_emulate_ethernet_preferred_by_metric(host):
    tree = laptop(**{"/sys/class/net/enp0s31f6": link()})
    tree["/proc/net/route"] += route("enp0s31f6", "00000000", "00000000", metric=100, flags="0003")

    assert capture(host(tree), "connect_type").value == "ethernet"


@pytest.mark.parametrize(("name", "entries"), [("wwan0", link(kind="519")), ("rmnet_data0", link(kind="530")), ("usb0", link(uevent="DEVTYPE=wwan\n"))])
def test_emulate_cellular_links(host, name, entries):
    tree = {"/proc/net/route": HEADER + route(name, "00000000", "00000000", flags="0003"), f"/sys/class/net/{name}": entries}

    assert capture(host(tree), "connect_type").value == "cellular"


def test_emulate_no_default_route(host):
    source = host({"/proc/net/route": HEADER})

    assert capture(source, "connect_type").value == "none"
    assert capture(source, "device_ip").status is Status.UNAVAILABLE


def test_emulate_tentative_ipv6_skipped(host):
    addresses = network.proc_addresses(host(laptop()), "wlp2s0")

    assert "2001:db8::aa" not in addresses


def test_against_ip_route():
    if shutil.which("ip") is None:
        pytest.skip("ip is not installed (Debian package iproute2)")
    routes = json.loads(subprocess.run(["ip", "-j", "route", "show", "default"], capture_output=True, text=True, check=True).stdout or "[]")
    source = HostSource()
    candidates = [entry for entry in routes if not network.is_virtual(source, entry.get("dev", ""))]
    if not candidates:
        assert capture(source, "connect_type").value == "none"
        return
    expected = min(candidates, key=lambda entry: entry.get("metric", 0))["dev"]

    assert network.primary_interface(source) == expected


def test_against_ip_addr():
    if shutil.which("ip") is None:
        pytest.skip("ip is not installed (Debian package iproute2)")
    source = HostSource()
    interface = network.primary_interface(source)
    if interface is None:
        pytest.skip("this machine has no default route")
    links = json.loads(subprocess.run(["ip", "-j", "addr", "show", "dev", interface], capture_output=True, text=True, check=True).stdout)
    expected = sorted(
        (ipaddress.ip_address(entry["local"]) for entry in links[0]["addr_info"] if entry.get("scope") == "global"),
        key=lambda address: (address.version, address),
    )
    from_files = sorted((ipaddress.ip_address(text) for text in network.proc_addresses(source, interface)), key=lambda address: (address.version, address))

    assert capture(source, "device_ip").value == [str(address) for address in expected]
    assert [address for address in from_files if not address.is_link_local] == expected
