"""device-agent config check and config schema: agent.yaml before the agent runs it."""

from agent.commands.common import DEFAULT_CONFIG


def add_parser(subparsers):
    config = subparsers.add_parser("config", help="check agent.yaml or print its JSON Schema").add_subparsers(metavar="COMMAND", required=True)

    check = config.add_parser("check", help="validate agent.yaml and print the monitors that would run, or every problem found")
    check.add_argument("file", nargs="?", default=DEFAULT_CONFIG, metavar="FILE", help=f"agent.yaml to check (default: {DEFAULT_CONFIG})")
    check.add_argument("--json", action="store_true", help="print the monitors as JSON")
    check.set_defaults(handler=check_config)

    schema = config.add_parser("schema", help="print a JSON Schema of agent.yaml for editors")
    schema.set_defaults(handler=print_schema)


def check_config(args):
    import json
    import sys

    from agent.catalog import load_catalog
    from agent.cli import EX_CONFIG
    from agent.config import load_config
    from agent.errors import ConfigError

    catalog = load_catalog()
    try:
        config = load_config(args.file, catalog)
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        count = len(error.problems)
        print(f"device-agent: {count} problem{'s' if count != 1 else ''} in {args.file}; the agent would not start", file=sys.stderr)
        return EX_CONFIG
    if args.json:
        print(json.dumps(_config_summary(config, catalog), indent=2))
    else:
        print(format_check(config, catalog))
    return 0


def format_check(config, catalog):
    """Return the text config check prints: the device, the store and a table of monitors."""
    from agent.commands.tables import format_table
    from agent.durations import format_duration

    device = config.device
    sdk = f", SDK {device.sdk_version}" if device.sdk_version else ""
    row = catalog.offer(device.platform, device.sdk_version)
    row_text = "any SDK version" if str(row.sdk) == "any" else f"SDK {row.sdk}"
    store = f"{config.store.url} (profile key from {_key_source(config.store)})" if config.store.url else f"embedded, in {config.state_dir}"
    lines = [
        f"{config.path}: valid",
        f"device: platform {device.platform}{sdk} (catalog row: {row_text}), app {device.app_id}",
        f"store: {store}",
        f"state_dir: {config.state_dir}",
        "",
    ]
    if not config.monitors:
        return "\n".join(lines + ["no monitors enabled; the agent registers the device and captures nothing"])
    rows = []
    for monitor in config.monitors:
        rows.append((
            monitor.attribute,
            monitor.kind.label,
            format_duration(monitor.interval) if monitor.interval else "-",
            format_duration(monitor.poll_interval) if monitor.poll_interval else "-",
            monitor.privacy,
            "yes" if catalog.attributes[monitor.attribute].personal else "",
        ))
    lines.append(format_table(("ATTRIBUTE", "KIND", "INTERVAL", "POLL", "PRIVACY", "PERSONAL"), rows))
    plain = [monitor.attribute for monitor in config.monitors if monitor.privacy == "send" and catalog.attributes[monitor.attribute].personal]
    if plain:
        lines += ["", f"personal data sent as plain values: {', '.join(plain)}; set privacy: hash or omit to keep them on the device"]
    return "\n".join(lines)


def _key_source(store):
    if store.key_file:
        return f"key file {store.key_file}"
    return f"${store.key_env} or the systemd credential profile-key"


def _config_summary(config, catalog):
    return {
        "path": config.path,
        "device": {"platform": config.device.platform, "sdk_version": config.device.sdk_version, "app_id": config.device.app_id},
        "monitors": [
            {
                "attribute": monitor.attribute,
                "kind": monitor.kind.value,
                "interval": monitor.interval,
                "poll_interval": monitor.poll_interval,
                "jitter": monitor.jitter,
                "privacy": monitor.privacy,
                "personal": catalog.attributes[monitor.attribute].personal,
            }
            for monitor in config.monitors
        ],
    }


def print_schema(args):
    import json

    from agent.configschema import config_schema

    print(json.dumps(config_schema(), indent=2))
    return 0
