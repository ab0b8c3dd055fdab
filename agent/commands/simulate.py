"""device-agent simulate: run a fleet of simulated devices against a profile store."""

import argparse
import math
import sys

EMBEDDED = "embedded"
# Ten years of simulated time; more overflows datetime arithmetic.
MAX_DURATION_SECONDS = 3650 * 86400


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "simulate",
        help="run a fleet of simulated devices against a profile store",
        description="Run N simulated devices through the agent's pipeline against a profile store, "
        "then check that every device's app profile in the store equals its final state. "
        "Exits 1 on any mismatch or undelivered event.",
    )
    parser.add_argument("--devices", type=_positive_int, default=100, help="number of simulated devices (default: 100)")
    parser.add_argument("--duration", default="24h", help="simulated time to run, such as 30m, 6h or 1d (default: 24h)")
    parser.add_argument(
        "--mix", default="android:2.11=40,android:2.12=30,ios:2.12=30",
        help="platforms and SDK versions with weights, as platform:sdk=weight,... (default: %(default)s)",
    )
    parser.add_argument("--store", default=EMBEDDED, help="profile store URL, or 'embedded' to start one in a temporary directory (default: embedded)")
    parser.add_argument("--key-file", help="file with the store's profile key; without it the key comes from $DEVICE_AGENT_PROFILE_KEY, if set")
    parser.add_argument("--seed", type=int, default=1, help="seed of every random choice; the same seed gives the same fleet (default: 1)")
    parser.add_argument("--speed", type=float, help="simulated seconds per wall-clock second; as fast as possible when unset")
    parser.add_argument("--scenario", default="default", help="scenario name under config/scenarios/ or path of a scenario YAML file (default: default)")
    parser.add_argument("--app-id", default="fleet-app", help="app id of the simulated devices' app profiles (default: fleet-app)")
    parser.add_argument(
        "--delivery", choices=("thread", "process"), default="thread",
        help="run the senders as threads beside the simulation, as the daemon does, or in a child process on another core (default: thread)",
    )
    parser.add_argument("--state-dir", help="directory for the fleet's state database; a temporary one when unset")
    parser.add_argument("--report", metavar="FILE", help="write the summary as JSON to FILE and a chart of events over simulated time beside it as SVG")
    parser.add_argument("--no-progress", action="store_true", help="do not show the progress bar, even on a terminal")
    parser.set_defaults(handler=simulate)


def simulate(args):
    from agent.durations import parse_duration
    from agent.errors import AgentError
    from agent.fleet.report import failed, format_summary, write_report
    from agent.fleet.runner import parse_mix
    from agent.logs import configure_logging

    configure_logging("warning")
    try:
        duration = parse_duration(args.duration)
        mix = parse_mix(args.mix)
    except ValueError as error:
        raise AgentError(str(error)) from None
    if not 0 < duration <= MAX_DURATION_SECONDS:
        raise AgentError(f"--duration {args.duration!r} must be above 0 and at most 3650d")
    if args.speed is not None and not (math.isfinite(args.speed) and args.speed > 0):
        raise AgentError(f"--speed {args.speed!r} must be a number of simulated seconds per second above 0")
    if args.report:
        _check_writable(args.report)
    if args.store != EMBEDDED:
        _check_store(args.store)

    progress = _ProgressBar(sys.stderr) if sys.stderr.isatty() and not args.no_progress else None
    summary = _run(args, duration, mix, progress)
    print(format_summary(summary))
    if args.report:
        chart = write_report(summary, args.report)
        print(f"report       {args.report}, chart {chart}")
    problem = failed(summary)
    if problem:
        print(f"device-agent simulate: {problem}", file=sys.stderr)
        return 1
    return 0


def _check_store(url):
    """Fail in seconds, not after a whole run's delivery timeout, when the store URL is wrong or down."""
    import httpx

    from agent.config import store_url_problem
    from agent.errors import AgentError

    problem = store_url_problem(url)
    if problem:
        raise AgentError(f"--store: {problem}")
    try:
        httpx.get(f"{url.rstrip('/')}/healthz", timeout=5.0).raise_for_status()
    except httpx.HTTPError as error:
        raise AgentError(f"the profile store at {url} does not respond to GET /healthz ({error}); start it or pass --store embedded") from None


def _check_writable(path):
    """Fail before the run, not after it, when the report cannot be written."""
    import os

    from agent.errors import AgentError

    # The report's missing parent directories are created, so the nearest existing one must be writable.
    existing = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if os.path.isdir(path) or not os.path.isdir(existing) or not os.access(existing, os.W_OK):
        raise AgentError(f"cannot write the report to {path}: pass a file path under a writable directory")


def _run(args, duration, mix, progress):
    import tempfile

    from agent.fleet.runner import run_fleet

    options = dict(
        devices=args.devices, duration=duration, mix=mix, seed=args.seed, speed=args.speed,
        scenario=args.scenario, app_id=args.app_id, state_dir=args.state_dir, progress=progress,
        delivery=args.delivery,
    )
    if args.store != EMBEDDED:
        try:
            return run_fleet(args.store.rstrip("/"), _key(args), **options)
        finally:
            if progress:
                progress.close()

    import secrets

    from agent.store.server import ProfileStoreServer

    key = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="device-agent-store-") as directory:
        with ProfileStoreServer(f"{directory}/profile-store.db", key=key).start() as server:
            try:
                return run_fleet(server.url, key, **options)
            finally:
                if progress:
                    progress.close()


def _key(args):
    from agent.config import StoreConfig
    from agent.keys import profile_key

    return profile_key(StoreConfig(url=args.store, key_file=args.key_file))


class _ProgressBar:
    """A one-line progress bar on a terminal, redrawn in place."""

    WIDTH = 30

    def __init__(self, stream):
        self.stream = stream

    def __call__(self, fraction, fleet):
        filled = int(self.WIDTH * min(1.0, fraction))
        hours = (fleet.clock.now - fleet.clock.start) / 3600
        total = (fleet.end - fleet.clock.start) / 3600
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (self.WIDTH - filled)}] {fraction:4.0%} {hours:5.1f} of {total:g} h simulated,"
            f" {fleet.stats.events_total:,} events, {fleet.stats.delivered_so_far:,} delivered "
        )
        self.stream.flush()

    def close(self):
        self.stream.write("\r" + " " * 100 + "\r")
        self.stream.flush()


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be at least 1")
    return value
