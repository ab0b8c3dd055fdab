"""device-agent run: the agent itself."""

import sys

from agent.commands.common import add_config_arguments, load


def add_parser(subparsers):
    parser = subparsers.add_parser("run", help="run the agent")
    add_config_arguments(parser)
    parser.add_argument("--once", action="store_true", help="register, capture every enabled monitor once, deliver, and exit 0 only when the store acknowledged everything")
    parser.add_argument("--root", default="/", help="read host files under this directory instead of / (default: /)")
    parser.set_defaults(handler=run)


def run(args):
    from agent.daemon import Agent
    from agent.logs import configure_logging
    from agent.sources.host import HostSource

    config = load(args)
    configure_logging(config.logging.level)
    agent = Agent(config, source=HostSource(args.root))
    try:
        agent.open()
        if args.once:
            return _run_once(agent)
        return _run_forever(agent, args)
    finally:
        agent.close()


def _run_once(agent):
    delivered = agent.run_once()
    if not delivered:
        print(f"device-agent: {agent.outbox.depth()} events not acknowledged by the store: {agent.sender.last_error}", file=sys.stderr)
    return 0 if delivered else 1


def _run_forever(agent, args):
    import signal
    import threading

    from agent.reload import reload_from_file

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: agent.request_stop())
    # The handler only sets a flag: reloading inside a signal handler could interrupt the scheduler mid-change.
    reload_requested = threading.Event()
    signal.signal(signal.SIGHUP, lambda *_: reload_requested.set())
    agent.start()
    while not agent.wait(1.0):
        if reload_requested.is_set():
            reload_requested.clear()
            reload_from_file(agent, args.config, args.state_dir)
    agent.stop()
    return 0
