"""The command that runs the profile store: `device-agent store serve`."""

import argparse
import logging
import os
import signal
import sys
import threading

from agent.errors import StoreError
from agent.store import DEFAULT_MAX_BODY

KEY_VARIABLE = "DEVICE_AGENT_PROFILE_KEY"
EXIT_CONFIG = 78  # EX_CONFIG from sysexits.h: the store is not configured to start
EXIT_FAILURE = 1

log = logging.getLogger("agent.store")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of `store serve` to parser."""
    parser.add_argument(
        "--db", default="./profile-store.db", metavar="FILE",
        help="SQLite file that stores the profiles, created if missing (default: %(default)s)",
    )
    parser.add_argument(
        "--host", default="127.0.0.1",
        help="address to listen on (default: %(default)s)",
    )
    parser.add_argument(
        "--port", type=port_number, default=8080,
        help="TCP port to listen on; 0 picks a free port (default: %(default)s)",
    )
    auth = parser.add_mutually_exclusive_group()
    auth.add_argument(
        "--key-file", metavar="FILE",
        help=f"file that contains the profile key clients must send in the key header; "
        f"without it the key comes from ${KEY_VARIABLE}",
    )
    auth.add_argument(
        "--no-auth", action="store_true",
        help="accept requests without a key; only for local tests",
    )
    parser.add_argument(
        "--max-body", type=positive_int, default=DEFAULT_MAX_BODY, metavar="BYTES",
        help="largest request body accepted, in bytes (default: %(default)s)",
    )
    parser.add_argument(
        "--rate-limit", type=positive_float, metavar="EVENTS_PER_SECOND",
        help="maximum events per second accepted from one device; no limit by default",
    )
    parser.add_argument(
        "--log-level", default="info", choices=("debug", "info", "warning", "error"),
        help="lowest level of log lines written to stderr (default: %(default)s)",
    )


def run(args) -> int:
    """Serve the profile store until SIGTERM or SIGINT; return the exit status."""
    from agent.store.server import ProfileStoreServer

    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        key = None if args.no_auth else read_key(args.key_file)
    except StoreError as error:
        print(f"device-agent store: {error}", file=sys.stderr)
        return EXIT_CONFIG

    try:
        store = ProfileStoreServer(
            args.db, args.host, args.port, key,
            max_body=args.max_body, rate_limit=args.rate_limit,
        ).start()
    except StoreError as error:
        print(f"device-agent store: {error}", file=sys.stderr)
        return EXIT_FAILURE

    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    print(f"profile store listening on {store.url}", flush=True)
    try:
        stop.wait()
    finally:
        store.shutdown()
    return 0


def read_key(key_file):
    """Return the profile key from key_file, or from the environment when key_file is None."""
    if key_file is not None:
        try:
            with open(key_file, encoding="utf-8") as file:
                key = file.read().strip()
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) else "it is not UTF-8 text"
            raise StoreError(
                f"cannot read key file {key_file}: {reason}; "
                "write the profile key into it or pass --no-auth"
            ) from None
        if not key:
            raise StoreError(
                f"key file {key_file} is empty; write the profile key into it or pass --no-auth"
            )
        return key

    key = os.environ.get(KEY_VARIABLE, "").strip()
    if not key:
        raise StoreError(
            f"no profile key: pass --key-file FILE, set {KEY_VARIABLE}, "
            "or pass --no-auth to accept requests without a key"
        )
    return key


def port_number(text):
    port = int_argument(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {text} is out of range; use 0 to 65535")
    return port


def positive_int(text):
    value = int_argument(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def int_argument(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        prog="python -m agent.store.command", description="Run the profile store."
    )
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))
