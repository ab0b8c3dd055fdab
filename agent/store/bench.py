"""Measure how many events per second the profile store ingests.

Run `python -m agent.store.bench`. It starts a store on loopback over a
temporary SQLite file, registers the devices, then posts batches of 100
updates from client threads in the same process and prints the rate. The
clients share the interpreter with the store, so the figure is a lower bound
of what the store alone sustains.
"""

import argparse
import http.client
import json
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from agent.store.server import ProfileStoreServer

KEY = "bench-key"
EVENTS = "/resources/v2/customerappprofile/bench/events"
BATCH_SIZE = 100


def registration(device_number):
    return {
        "event_id": f"registration-{device_number}",
        "device_id": f"device-{device_number:06d}",
        "sequence": 1,
        "type": "registration",
        "kind": None,
        "captured_at": "2026-12-04T19:00:00Z",
        "attributes": {"ram": {"status": "ok", "value": 8192, "reason": None}},
        "profile": {
            "userId": f"user-{device_number}", "customerId": None, "os": "Debian 12",
            "platform": "linux", "sdkVersion": None, "createdOn": "2026-12-04T19:00:00Z",
        },
    }


def update(event_number, devices):
    """Build the event_number-th update; devices take turns, each with a rising sequence."""
    return {
        "event_id": f"update-{event_number}",
        "device_id": f"device-{event_number % devices:06d}",
        "sequence": 2 + event_number // devices,
        "type": "update",
        "kind": "interval",
        "captured_at": "2026-12-04T19:00:00.123Z",
        "attributes": {
            "battery_level": {"status": "ok", "value": event_number % 100, "reason": None},
            "signal_strength": {"status": "ok", "value": -70, "reason": None},
        },
    }


def batch_body(records):
    return json.dumps({"records": records}).encode()


def post_all(url, bodies):
    """Post each body over one keep-alive connection; raise on any status but 200."""
    address = urlsplit(url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    try:
        for body in bodies:
            connection.request("POST", EVENTS, body, {"key": KEY, "Content-Type": "application/json"})
            response = connection.getresponse()
            payload = response.read()
            if response.status != 200:
                raise RuntimeError(f"the store responded {response.status}: {payload[:300]!r}")
    finally:
        connection.close()


def measure(db_path, devices, batches, clients):
    """Return the events ingested per second of wall time and per second of CPU time.

    The second figure counts the CPU time of this whole process, clients
    included, so load from other processes on the machine barely changes it.
    """
    with ProfileStoreServer(db_path, key=KEY).start() as store:
        registrations = [
            batch_body([registration(number) for number in range(start, min(start + BATCH_SIZE, devices))])
            for start in range(0, devices, BATCH_SIZE)
        ]
        post_all(store.url, registrations)

        # Bodies are encoded before the clock starts, so JSON encoding on the client side is not counted.
        bodies = [
            batch_body([update(number * BATCH_SIZE + offset, devices) for offset in range(BATCH_SIZE)])
            for number in range(batches)
        ]
        errors = []

        def client(part):
            try:
                post_all(store.url, part)
            except Exception as error:  # reported below, after all clients stop
                errors.append(error)

        threads = [
            threading.Thread(target=client, args=(bodies[index::clients],)) for index in range(clients)
        ]
        started = time.perf_counter()
        cpu_started = time.process_time()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        cpu_elapsed = time.process_time() - cpu_started
    if errors:
        raise errors[0]
    events = batches * BATCH_SIZE
    return events / elapsed, events / cpu_elapsed


def main():
    parser = argparse.ArgumentParser(prog="python -m agent.store.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=5000, help="registered devices (default: %(default)s)")
    parser.add_argument("--batches", type=int, default=400, help="batches of 100 updates posted (default: %(default)s)")
    parser.add_argument("--clients", type=int, default=2, help="client threads posting at once (default: %(default)s)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        rate, cpu_rate = measure(Path(directory) / "bench.db", args.devices, args.batches, args.clients)
    print(
        f"{rate:,.0f} events/s ({cpu_rate:,.0f} per CPU second): {args.batches * BATCH_SIZE} "
        f"updates in batches of {BATCH_SIZE} from {args.clients} clients over {args.devices} devices"
    )


if __name__ == "__main__":
    main()
