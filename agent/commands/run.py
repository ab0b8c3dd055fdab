"""device-agent run: the agent itself."""

import os
import sys

from agent.commands.common import add_config_arguments, add_root_argument, load

DEFAULT_STOP_TIMEOUT = 10.0


def add_parser(subparsers):
    parser = subparsers.add_parser("run", help="run the agent")
    add_config_arguments(parser)
    parser.add_argument("--once", action="store_true", help="register, capture every enabled monitor once, deliver, and exit 0 only when the store acknowledged everything")
    add_root_argument(parser)
    parser.add_argument("--log-format", choices=("text", "json"), help="log line format on stderr, overriding logging.format in the config")
    parser.add_argument(
        "--stop-timeout",
        type=_seconds,
        default=DEFAULT_STOP_TIMEOUT,
        metavar="SECONDS",
        help=f"on SIGTERM, time in seconds to deliver queued events before exiting; the rest stay in the outbox (default: {DEFAULT_STOP_TIMEOUT:g})",
    )
    parser.set_defaults(handler=run)


def run(args):
    import signal

    # SIGHUP's default action ends the process; until the service loop installs
    # its reload handler, a reload request that comes in during start-up is dropped.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)

    from agent.daemon import Agent
    from agent.logs import configure_logging
    from agent.sources.host import HostSource, settings_from_config
    from agent.statelock import lock_state_dir

    config = load(args)
    _limit_malloc_arenas()
    # State and keys stay private to the agent's user even when it runs outside the service's UMask.
    os.umask(0o077)
    state_lock = lock_state_dir(config.state_dir)
    configure_logging(config.logging.level, args.log_format or config.logging.format)
    agent = Agent(config, source=HostSource(args.root, settings=settings_from_config(config)))
    try:
        if args.once:
            agent.open()
            return _run_once(agent)
        return _run_forever(agent, args)
    finally:
        agent.close()
        state_lock.close()


# glibc's mallopt() parameter number for the arena limit (malloc.h).
M_ARENA_MAX = -8


def _limit_malloc_arenas():
    """Cap glibc's malloc at two arenas before the agent starts its threads.

    glibc gives each thread that allocates its own arena, so the agent's
    threads kept memory in arenas they barely use: two arenas measured
    0.9 MB less RSS with the example config (scripts/bench_footprint.py).
    MALLOC_ARENA_MAX in the environment takes precedence.
    """
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    import ctypes

    try:
        ctypes.CDLL(None).mallopt(M_ARENA_MAX, 2)
    except (OSError, AttributeError):
        pass


def _run_once(agent):
    from agent.status import SenderStateTracker

    dead_letters_before = agent.outbox.dead_letter_count()
    delivered = agent.run_once()
    agent.monitor_status.flush(agent.db)
    # device-agent status then shows this run's delivery, as it does for a long-running agent.
    sender_state = SenderStateTracker()
    sender_state.observe(agent.sender)
    sender_state.flush(agent.db, agent.device.device_id, os.getpid(), stopped=True)
    if not delivered:
        print(f"device-agent: {agent.outbox.depth()} events not acknowledged by the store: {agent.sender.last_error}", file=sys.stderr)
        return 1
    rejected = agent.outbox.dead_letter_count() - dead_letters_before
    if rejected:
        # A rejected event is out of the outbox but not in the store, so the run did not do its job.
        print(
            f"device-agent: the store rejected {rejected} events for good; they are kept in the dead_letter table of {agent.db.path} with the store's reasons",
            file=sys.stderr,
        )
        return 1
    return 0


def _run_forever(agent, args):
    from functools import partial

    from agent.reload import reload_from_file
    from agent.service import Service

    reload = partial(reload_from_file, path=args.config, state_dir_override=args.state_dir)
    return Service(agent, reload=reload, stop_timeout=args.stop_timeout).run()


def _seconds(text):
    import argparse

    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= seconds <= 3600:
        raise argparse.ArgumentTypeError(f"{text!r} is out of range; use 0 to 3600 seconds")
    return seconds
