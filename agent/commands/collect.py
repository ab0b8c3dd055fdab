"""device-agent collect: read attributes once and print them, a dry run that emits no events."""

from agent.commands.common import add_root_argument

DEFAULT_TIMEOUT = 10.0


def add_parser(subparsers):
    parser = subparsers.add_parser("collect", help="read attributes from this host and print each value with its status and reason; emits no events")
    parser.add_argument("attributes", nargs="*", metavar="ATTRIBUTE", help="attributes to read (default: every attribute this agent has a collector for)")
    parser.add_argument("--json", action="store_true", help="print the samples as a JSON list")
    add_root_argument(parser)
    parser.add_argument("--config", help="agent.yaml whose geofences, e-mail and app unit the collectors use (default: none)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help=f"seconds each collector may take before its sample is an error (default: {DEFAULT_TIMEOUT:g})")
    parser.set_defaults(handler=collect)


def collect(args):
    from concurrent.futures import ThreadPoolExecutor

    from agent.capture import capture
    from agent.sources.host import HostSource

    attributes = _attributes(args.attributes)
    source = HostSource(args.root, settings=_settings(args.config), timeout=args.timeout)
    # Collectors run side by side, so one waiting on a slow service does not delay the rest.
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="collect") as pool:
        samples = list(pool.map(lambda attribute: capture(source, attribute), attributes))
    print(_as_json(samples) if args.json else _as_table(samples))
    return 0


def _attributes(requested):
    import difflib

    from agent.collectors import COLLECTORS
    from agent.errors import AgentError

    known = sorted(COLLECTORS)
    if not requested:
        return known
    unknown = [name for name in requested if name not in COLLECTORS]
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, known, n=1)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]}?)" if close else ""))
        raise AgentError(f"unknown attribute {', '.join(hints)}; known attributes: {', '.join(known)}")
    return list(dict.fromkeys(requested))


def _settings(config_path):
    if config_path is None:
        return None
    from agent.config import load_config
    from agent.sources.host import settings_from_config

    return settings_from_config(load_config(config_path))


def _as_json(samples):
    import json

    records = [
        {
            "attribute": sample.attribute,
            "status": sample.status.value,
            "value": sample.value,
            "reason": sample.reason,
            "captured_at": sample.captured_at.isoformat(),
        }
        for sample in samples
    ]
    return json.dumps(records, indent=2, ensure_ascii=False)


def _as_table(samples):
    import json

    width = max(len(sample.attribute) for sample in samples)
    lines = []
    for sample in samples:
        detail = json.dumps(sample.value, ensure_ascii=False) if sample.ok else sample.reason
        lines.append(f"{sample.attribute:<{width}}  {sample.status.value:<11}  {detail}")
    return "\n".join(lines)
