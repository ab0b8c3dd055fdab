#!/usr/bin/env python3
"""Measure delivery throughput: outbox writes, end-to-end drain, and store ingest.

Run from the repository root:

    PYTHONPATH=. python scripts/bench_delivery.py --runs 5

Each figure is the median of --runs runs with the min and max, in events per
second of wall time, and the median events per CPU-second, which other load
on the machine changes less. The profile store runs as a separate process on
loopback, as a remote store would, so it does not share the agent's
interpreter lock.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import httpx
import psutil

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from agent.config import DeviceConfig, StoreConfig  # noqa: E402
from agent.outbox import Outbox  # noqa: E402
from agent.registration import register  # noqa: E402
from agent.samples import Sample, Status  # noqa: E402
from agent.sender import Sender  # noqa: E402
from agent.statedb import StateDB  # noqa: E402
from agent.tracker import ChangeTracker  # noqa: E402

APP_ID = "bench"
KEY = "bench-key"


class BenchSource:
    def machine_id(self):
        return None

    def os_name(self):
        return "Linux"


def new_state(directory, device_id="device-1"):
    db = StateDB(Path(directory) / "agent.db")
    # Caps above every run's size, so the figures measure writes, not coalescing.
    outbox = Outbox(db, max_events=10_000_000, max_bytes=1 << 34)
    register(db, DeviceConfig(platform="linux", sdk_version=None, app_id=APP_ID, user_id="user-1", device_id=device_id), BenchSource())
    return db, outbox


def capture_cycle(cycle, width):
    """Return one capture cycle: width attributes, every value new."""
    now = datetime.now(timezone.utc)
    return [Sample(f"attribute_{index}", Status.OK, cycle * width + index, None, now) for index in range(width)]


def measure_writes(events, width, synchronous="FULL"):
    """Record events through ChangeTracker.record, width samples per transaction; return events/s and events per CPU-second."""
    with tempfile.TemporaryDirectory() as directory:
        db, _ = new_state(directory)
        if synchronous != "FULL":
            db.query(f"PRAGMA synchronous={synchronous}")
        tracker = ChangeTracker(db)
        cycles = events // width
        started, cpu_started = time.perf_counter(), time.process_time()
        for cycle in range(cycles):
            tracker.record("device-1", "interval", capture_cycle(cycle, width))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        db.close()
    return cycles * width / elapsed, cycles * width / cpu


def start_store(directory, extra=()):
    key_file = Path(directory) / "key"
    key_file.write_text(KEY)
    key_file.chmod(0o600)
    environ = dict(os.environ, PYTHONPATH=str(REPOSITORY))
    process = subprocess.Popen(
        [sys.executable, "-m", "agent.store.command", "--db", str(Path(directory) / "store.db"), "--port", "0",
         "--key-file", str(key_file), "--log-level", "warning", *extra],
        stdout=subprocess.PIPE, env=environ, text=True,
    )
    line = process.stdout.readline()
    if "listening on" not in line:
        process.kill()
        raise SystemExit(f"the profile store did not start: {line!r}")
    return process, line.rsplit(" ", 1)[1].strip()


def measure_drain(events):
    """Fill an outbox, time Sender.drain() to empty; return events/s and events per CPU-second of agent and store."""
    with tempfile.TemporaryDirectory() as directory:
        db, outbox = new_state(directory)
        tracker = ChangeTracker(db)
        for cycle in range(events // 100):
            tracker.record("device-1", "interval", capture_cycle(cycle, 100))
        queued = outbox.depth()
        store, url = start_store(directory)
        try:
            sender = Sender(outbox, url, APP_ID, KEY, StoreConfig(url=url))
            store_cpu = psutil.Process(store.pid)
            started, cpu_started, store_cpu_started = time.perf_counter(), time.process_time(), sum(store_cpu.cpu_times()[:2])
            if not sender.drain(deadline=time.monotonic() + 300):
                raise SystemExit(f"drain did not finish: {sender.last_error}")
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu_started + sum(store_cpu.cpu_times()[:2]) - store_cpu_started
            sender.close()
        finally:
            store.terminate()
            store.wait()
        db.close()
    return queued / elapsed, queued / cpu


def measure_ingest(events):
    """POST prepared batches of 100 records straight to the store; return events/s and events per store CPU-second."""
    device_count = max(1, events // 1000)
    registrations = []
    batches = []
    captured_at = datetime.now(timezone.utc).isoformat()
    for device in range(device_count):
        registrations.append({
            "event_id": uuid.uuid4().hex, "device_id": f"device-{device}", "sequence": 1, "type": "registration", "kind": None,
            "captured_at": captured_at, "attributes": {},
            "profile": {"userId": "user-1", "customerId": None, "os": "Linux", "platform": "linux", "sdkVersion": None, "createdOn": captured_at},
        })
    for start in range(0, events, 100):
        records = []
        for number in range(start, min(events, start + 100)):
            device = number % device_count
            records.append({
                "event_id": uuid.uuid4().hex, "device_id": f"device-{device}", "sequence": 2 + number, "type": "update", "kind": "interval",
                "captured_at": captured_at, "attributes": {f"attribute_{number % 20}": {"status": "ok", "value": number, "reason": None}},
            })
        batches.append(json.dumps({"records": records}).encode())

    with tempfile.TemporaryDirectory() as directory:
        store, url = start_store(directory)
        try:
            endpoint = f"{url}/resources/v2/customerappprofile/{APP_ID}/events"
            headers = {"key": KEY, "Content-Type": "application/json"}
            with httpx.Client(headers=headers, timeout=30) as client:
                for start in range(0, len(registrations), 100):
                    client.post(endpoint, json={"records": registrations[start : start + 100]}).raise_for_status()
                store_cpu = psutil.Process(store.pid)
                started, cpu_started = time.perf_counter(), sum(store_cpu.cpu_times()[:2])
                for body in batches:
                    client.post(endpoint, content=body).raise_for_status()
                elapsed, cpu = time.perf_counter() - started, sum(store_cpu.cpu_times()[:2]) - cpu_started
        finally:
            store.terminate()
            store.wait()
    return events / elapsed, events / cpu


def summary(name, results):
    rates = sorted(rate for rate, _ in results)
    cpu_rate = statistics.median(cpu for _, cpu in results)
    return f"| {name} | {statistics.median(rates):,.0f} | {rates[0]:,.0f} | {rates[-1]:,.0f} | {cpu_rate:,.0f} |"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per figure; the median is reported (default: 3)")
    parser.add_argument("--events", type=int, default=20_000, help="events per run of the batched, drain and ingest figures (default: 20000)")
    parser.add_argument("--single-events", type=int, default=2_000, help="events per run of the one-event-per-transaction figures (default: 2000)")
    arguments = parser.parse_args()

    figures = [
        ("written, 1 event per transaction, synchronous=FULL", lambda: measure_writes(arguments.single_events, 1)),
        ("written, 1 event per transaction, synchronous=NORMAL", lambda: measure_writes(arguments.single_events, 1, "NORMAL")),
        ("written, 20 events per transaction, synchronous=FULL", lambda: measure_writes(arguments.events, 20)),
        ("written, 100 events per transaction, synchronous=FULL", lambda: measure_writes(arguments.events, 100)),
        ("drained end to end to a loopback store", lambda: measure_drain(arguments.events)),
        ("ingested by the store, batches of 100", lambda: measure_ingest(arguments.events)),
    ]
    print(f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}, {arguments.runs} runs, "
          f"load average {os.getloadavg()[0]:.1f} at start")
    print("| figure | median events/s | min | max | median events per CPU-second |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, measure in figures:
        print(summary(name, [measure() for _ in range(arguments.runs)]), flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
