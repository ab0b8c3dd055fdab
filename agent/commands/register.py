"""device-agent register: register this device with the profile store again."""

from agent.commands.common import add_config_arguments, load


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "register",
        help="queue a new registration for this device, so every monitor, one-time ones included, is captured and sent again",
    )
    add_config_arguments(parser)
    parser.add_argument("--force", action="store_true", help="register again even though the device id, user id and app id are unchanged")
    parser.set_defaults(handler=register_device)


def register_device(args):
    from agent.registration import register
    from agent.sources.host import HostSource
    from agent.statedb import StateDB

    import sqlite3

    from agent.errors import AgentError

    config = load(args)
    try:
        db = StateDB.in_state_dir(config.state_dir)
    except (OSError, sqlite3.Error) as error:
        raise AgentError(f"cannot open the agent's state in {config.state_dir}: {error}; check that state_dir is a writable directory") from None
    try:
        device, registered = register(db, config.device, HostSource(), force=args.force)
    finally:
        db.close()
    if not registered:
        print(f"Device {device.device_id} is registered already; pass --force to register it again")
        return 0
    print(
        f"Queued a new registration of device {device.device_id} in {config.state_dir}. "
        "A running agent captures every monitor again after a reload (systemctl reload device-agent) or a restart."
    )
    return 0
