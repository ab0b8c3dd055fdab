"""The device-agent command line.

Modules are imported inside each command so that --version and --help
stay fast on small devices.
"""

import argparse
import sys

from agent import __version__

EX_CONFIG = 78


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    from agent.errors import AgentError, ConfigError

    try:
        return args.handler(args)
    except ConfigError as error:
        print(f"device-agent: invalid configuration:\n{error}", file=sys.stderr)
        return EX_CONFIG
    except AgentError as error:
        print(f"device-agent: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def build_parser():
    parser = argparse.ArgumentParser(prog="device-agent", description="Keep this device's app profile in a profile store up to date.")
    parser.add_argument("--version", action="version", version=f"device-agent {__version__}")
    commands = parser.add_subparsers(metavar="COMMAND")

    run = commands.add_parser("run", help="run the agent")
    _add_config_arguments(run)
    run.add_argument("--once", action="store_true", help="register, capture every enabled monitor once, deliver, and exit 0 only when the store acknowledged everything")
    run.add_argument("--root", default="/", help="read host files under this directory instead of / (default: /)")
    run.set_defaults(handler=_run)

    store = commands.add_parser("store", help="the profile store").add_subparsers(metavar="COMMAND")
    serve = store.add_parser("serve", help="serve a profile store over HTTP with SQLite storage")
    from agent.store import command as store_command

    store_command.add_arguments(serve)
    serve.set_defaults(handler=store_command.run)

    profile = commands.add_parser("profile", help="this device's app profile").add_subparsers(metavar="COMMAND")
    show = profile.add_parser("show", help="print this device's app profile as the store holds it")
    _add_config_arguments(show)
    show.add_argument("--json", action="store_true", help="print the profile as JSON")
    show.set_defaults(handler=_profile_show)
    return parser


def _add_config_arguments(parser):
    parser.add_argument("--config", default="/etc/device-agent/agent.yaml", help="agent.yaml to use (default: /etc/device-agent/agent.yaml)")
    parser.add_argument("--state-dir", help="state directory, overriding state_dir in the config")


def _load(args):
    import dataclasses

    from agent.config import load_config

    config = load_config(args.config)
    if args.state_dir:
        config = dataclasses.replace(config, state_dir=args.state_dir)
    return config


def _run(args):
    from agent.daemon import Agent
    from agent.logs import configure_logging
    from agent.sources.host import HostSource

    config = _load(args)
    configure_logging(config.logging.level)
    agent = Agent(config, source=HostSource(args.root))
    try:
        agent.open()
        if args.once:
            delivered = agent.run_once()
            if not delivered:
                print(f"device-agent: {agent.outbox.depth()} events not acknowledged by the store: {agent.sender.last_error}", file=sys.stderr)
            return 0 if delivered else 1
        return _run_forever(agent)
    finally:
        agent.close()


def _run_forever(agent):
    import signal

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: agent.request_stop())
    agent.start()
    while not agent.wait(1.0):
        pass
    agent.stop()
    return 0


def _profile_show(args):
    from agent.profileview import fetch_profile, format_profile

    profile = fetch_profile(_load(args))
    if args.json:
        import json

        print(json.dumps(profile, indent=2, sort_keys=True))
    else:
        print(format_profile(profile))
    return 0
