#!/usr/bin/env python3
"""Measure the time from a timezone or address change to its event in the outbox.

Two changes, each with native watches (inotify, rtnetlink) and with
polling only:

- timezone: a new /etc/localtime link renamed into a fake root, as
  timedatectl does;
- address: an IPv4 address added to or removed from the link that
  carries the default route, inside a network namespace this script
  creates (needs root and iproute2).

The latency is the outbox row's created_at minus the wall time just
before the change, so reading the outbox adds nothing to it. The agent
runs its real scheduler thread and clock but no sender, so every event
stays in the outbox.

Usage: sudo python scripts/bench_watch_latency.py [--samples 200] [--polling-samples 30]
"""

import argparse
import dataclasses
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

KEY_ENV = "BENCH_PROFILE_KEY"
POLL_INTERVAL = 1.0  # the smallest poll_interval the config accepts


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=200, help="changes measured per case with native watches (default: 200)")
    parser.add_argument("--polling-samples", type=int, default=30, help="changes measured per case with polling (default: 30)")
    parser.add_argument("--inside-namespace", choices=("native", "polling"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.inside_namespace:
        samples = args.samples if args.inside_namespace == "native" else args.polling_samples
        print(json.dumps(measure_address(args.inside_namespace, samples)))
        return 0

    results = []
    for mode, samples in (("native", args.samples), ("polling", args.polling_samples)):
        results.append(("timezone", mode, measure_timezone(mode, samples)))
    for mode, samples in (("native", args.samples), ("polling", args.polling_samples)):
        results.append(("address", mode, address_in_namespace(mode, samples)))

    print(f"{'change':<10} {'watch':<24} {'samples':>7} {'median ms':>10} {'p99 ms':>8} {'max ms':>8}")
    for change, mode, latencies in results:
        if isinstance(latencies, str):
            print(f"{change:<10} {mode:<24} skipped: {latencies}")
            continue
        label = mode if mode == "native" else f"polling every {POLL_INTERVAL:g}s"
        print(f"{change:<10} {label:<24} {len(latencies):>7} {median(latencies):>10.1f} {p99(latencies):>8.1f} {max(latencies) * 1000:>8.1f}")
    return 0


# the agent under test


def start_agent(state_dir, source, attribute, mode):
    import agent.daemon
    from agent.catalog import Kind
    from agent.config import AgentConfig, DeviceConfig, Monitor, StoreConfig

    if mode == "polling":
        # Leave every attribute to polling, as when no watcher can start.
        agent.daemon.open_watchers = lambda source, attributes: ([], set(attributes))
    os.environ[KEY_ENV] = "benchmark"
    config = AgentConfig(
        path="bench.yaml",
        device=DeviceConfig(platform="linux", sdk_version=None, app_id="bench", user_id="bench", device_id=f"bench-{uuid.uuid4().hex[:8]}"),
        monitors=(Monitor(attribute, Kind.EVENT, poll_interval=POLL_INTERVAL),),
        # No sender runs; the URL only satisfies the config.
        store=StoreConfig(url="http://127.0.0.1:9", key_env=KEY_ENV),
        state_dir=str(state_dir),
    )
    # Only the scheduler thread runs: no sender, so every event stays in the outbox.
    running = agent.daemon.Agent(config, source=source, threads=False).open()
    running.start()
    running.scheduler.start()
    return running


def wait_for_row(agent, attribute, after_id, timeout=10.0):
    """Return (row id, created_at) of the first outbox row for attribute after after_id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = agent.db.query("SELECT id, created_at FROM outbox WHERE attribute = ? AND id > ? ORDER BY id LIMIT 1", (attribute, after_id))
        if rows:
            return rows[0]
        time.sleep(0.002)
    raise TimeoutError(f"no {attribute} event within {timeout}s of the change")


def measure(agent, attribute, samples, change, mode):
    latencies = []
    last_id, _ = wait_for_row(agent, attribute, 0)
    for index in range(samples):
        # A random pause puts each change at a random point of the poll period.
        time.sleep(random.uniform(0.01, POLL_INTERVAL if mode == "polling" else 0.05))
        started = time.time()
        change(index)
        last_id, created_at = wait_for_row(agent, attribute, last_id)
        latencies.append(created_at - started)
    return latencies


# timezone


def measure_timezone(mode, samples):
    from agent.sources.host import HostSource

    with tempfile.TemporaryDirectory(prefix="bench-watch-") as directory:
        root = Path(directory) / "root"
        (root / "etc" / "default").mkdir(parents=True)
        zones = ("Europe/Berlin", "America/New_York")
        set_zone(root, "Asia/Tokyo")
        agent = start_agent(Path(directory) / "state", HostSource(root, environ={}), "timezone", mode)
        try:
            return measure(agent, "timezone", samples, lambda index: set_zone(root, zones[index % 2]), mode)
        finally:
            agent.close()


def set_zone(root, zone):
    staging = root / "etc" / ".localtime.new"
    staging.unlink(missing_ok=True)
    staging.symlink_to(f"/usr/share/zoneinfo/{zone}")
    os.rename(staging, root / "etc" / "localtime")


# address


def address_in_namespace(mode, samples):
    """Run the address measurement in a fresh network namespace; return latencies or why it was skipped."""
    if os.geteuid() != 0:
        return "needs root to create a network namespace"
    name = f"bench-watch-{uuid.uuid4().hex[:8]}"
    created = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if created.returncode != 0:
        return f"ip netns add failed: {created.stderr.strip()}"
    try:
        result = subprocess.run(
            ["ip", "netns", "exec", name, sys.executable, __file__, "--inside-namespace", mode, "--samples", str(samples), "--polling-samples", str(samples)],
            capture_output=True, text=True, timeout=600,
        )
        if result.returncode != 0:
            return f"measurement failed: {result.stderr.strip()[-500:]}"
        return json.loads(result.stdout.strip().splitlines()[-1])
    finally:
        subprocess.run(["ip", "netns", "delete", name], capture_output=True)


def measure_address(mode, samples):
    from agent.sources.host import HostSource

    # Documentation addresses (RFC 5737) in a namespace of our own: no traffic leaves it.
    add_link("eth0")
    ip("address", "add", "192.0.2.1/24", "dev", "eth0")
    ip("route", "add", "default", "via", "192.0.2.254", "dev", "eth0")

    def change(index):
        verb = "add" if index % 2 == 0 else "del"
        ip("address", verb, "192.0.2.2/24", "dev", "eth0")

    with tempfile.TemporaryDirectory(prefix="bench-watch-") as directory:
        agent = start_agent(Path(directory) / "state", HostSource("/"), "device_ip", mode)
        try:
            return measure(agent, "device_ip", samples, change, mode)
        finally:
            agent.close()


def add_link(name):
    # Kernels without the dummy driver still have veth.
    if subprocess.run(["ip", "link", "add", name, "type", "dummy"], capture_output=True).returncode != 0:
        ip("link", "add", name, "type", "veth", "peer", "name", f"{name}p")
        ip("link", "set", f"{name}p", "up")
    ip("link", "set", name, "up")


def ip(*arguments):
    subprocess.run(["ip", *arguments], check=True, capture_output=True)


# statistics


def median(latencies):
    return statistics.median(latencies) * 1000


def p99(latencies):
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))] * 1000


if __name__ == "__main__":
    sys.exit(main())
