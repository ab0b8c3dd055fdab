"""Benchmark: a fleet of simulated devices over a simulated day against a loopback profile store.

The store runs as its own process (`device-agent store serve`), as a
real one would, so the fleet and the store each get a core. Prints the
summary and a JSON line of the figures recorded in docs/benchmarks/fleet.md.

    python scripts/bench_fleet.py                      # 10,000 devices, 24 h
    python scripts/bench_fleet.py --devices 1000 --profile /tmp/fleet.prof
"""

import argparse
import cProfile
import json
import os
import platform
import pstats
import resource
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.durations import parse_duration  # noqa: E402
from agent.fleet.report import failed, format_summary, write_report  # noqa: E402
from agent.fleet.runner import DEFAULT_MIX, FleetOptions, parse_mix, run_fleet  # noqa: E402

GOAL_SECONDS = 120.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--duration", default="24h")
    parser.add_argument("--mix", default=",".join(f"{p}:{v}={w:g}" for p, v, w in DEFAULT_MIX))
    parser.add_argument("--scenario", default="default")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--delivery", choices=("thread", "process"), default="process", help="where the sender threads run")
    parser.add_argument("--shards", type=int, default=FleetOptions.shards, help="state databases, each with its own sender thread")
    parser.add_argument("--report", help="write the JSON report and SVG chart here")
    parser.add_argument("--profile", help="write a cProfile of the fleet process here and print its top entries")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as directory:
        store, url, key = start_store(Path(directory))
        try:
            started = time.monotonic()
            profiler = cProfile.Profile() if args.profile else None
            if profiler:
                profiler.enable()
            summary = run_fleet(
                url, key, devices=args.devices, duration=parse_duration(args.duration), mix=parse_mix(args.mix),
                scenario=args.scenario, seed=args.seed, shards=args.shards, delivery=args.delivery, state_dir=str(Path(directory) / "fleet"),
            )
            if profiler:
                profiler.disable()
            total = time.monotonic() - started
            store_times = psutil.Process(store.pid).cpu_times()
        finally:
            store.terminate()
            store.wait(timeout=30)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = resource.getrusage(resource.RUSAGE_SELF)

    print(format_summary(summary))
    if args.report:
        write_report(summary, args.report)
    if profiler:
        profiler.dump_stats(args.profile)
        pstats.Stats(args.profile).sort_stats("cumulative").print_stats(25)
    figures = {
        "devices": summary["devices"]["total"],
        "simulated_hours": summary["simulated"]["duration_seconds"] / 3600,
        "events": summary["events"]["total"],
        "captures": summary["captures"],
        "simulation_and_delivery_seconds": summary["wall_seconds"],
        "total_seconds_with_verification": round(total, 1),
        "events_per_second": round(summary["events"]["total"] / total, 1),
        "fleet_peak_rss_mib": summary["peak_memory_mib"],
        "children_peak_rss_mib": round(children.ru_maxrss / 1024, 1),
        "fleet_cpu_seconds": round(own.ru_utime + own.ru_stime, 1),
        "store_cpu_seconds": round(store_times.user + store_times.system, 1),
        # The delivery process, when --delivery process, and the store are the children.
        "delivery_process_cpu_seconds": round(children.ru_utime + children.ru_stime - store_times.user - store_times.system, 1),
        "mismatches": summary["verification"]["mismatches"],
        "shards": args.shards,
        "delivery": args.delivery,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "goal_met": total < GOAL_SECONDS and not failed(summary),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    print(json.dumps(figures))
    return 1 if failed(summary) else 0


def start_store(directory):
    """Start `device-agent store serve` on a free loopback port; return (process, url, key)."""
    key = secrets.token_urlsafe(24)
    key_file = directory / "store.key"
    key_file.write_text(key + "\n")
    key_file.chmod(0o600)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "agent", "store", "serve", "--db", str(directory / "store.db"),
         "--port", str(port), "--key-file", str(key_file), "--log-level", "warning"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url, key
        except httpx.HTTPError:
            time.sleep(0.05)
    process.terminate()
    raise SystemExit(f"the profile store at {url} did not respond within 15 s; run it by hand to see its error")


if __name__ == "__main__":
    sys.exit(main())
