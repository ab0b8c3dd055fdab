"""device-agent status: what the running agent did, read from its state database."""

from agent.commands.common import DEFAULT_CONFIG


def add_parser(subparsers):
    parser = subparsers.add_parser("status", help="show registration, monitors, outbox and delivery of the agent")
    parser.add_argument("--config", default=DEFAULT_CONFIG, help=f"agent.yaml that names the state directory and the monitors (default: {DEFAULT_CONFIG})")
    parser.add_argument("--state-dir", help="state directory to read, overriding state_dir in the config; the config may then be missing")
    parser.add_argument("--json", action="store_true", help="print the status as one JSON object")
    parser.set_defaults(handler=status)


def status(args):
    import json
    import sys
    from pathlib import Path

    from agent.statedb import STATE_DB_NAME
    from agent.status import read_status, render_text

    state_dir, configured = _state_dir_and_monitors(args)
    report = read_status(Path(state_dir) / STATE_DB_NAME, configured)
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_text(report))
    return 0


def _state_dir_and_monitors(args):
    """Return the state directory and the configured (attribute, kind) pairs.

    With --state-dir the config is optional, so status works where only the
    state directory is readable.
    """
    from agent.config import load_config
    from agent.errors import ConfigError

    try:
        config = load_config(args.config)
    except ConfigError:
        if args.state_dir is None:
            raise
        return args.state_dir, ()
    configured = tuple((monitor.attribute, monitor.kind.value) for monitor in config.monitors)
    return args.state_dir or config.state_dir, configured
