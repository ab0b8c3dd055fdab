"""device-agent profile show: this device's app profile as the profile store returns it."""

from agent.commands.common import add_config_arguments, load


def add_parser(subparsers):
    profile = subparsers.add_parser("profile", help="this device's app profile").add_subparsers(metavar="COMMAND", required=True)
    show = profile.add_parser("show", help="print this device's app profile as the profile store returns it")
    add_config_arguments(show)
    show.add_argument("--json", action="store_true", help="print the profile as JSON")
    show.set_defaults(handler=show_profile)


def show_profile(args):
    import json

    from agent.profileview import fetch_profile, format_profile

    profile = fetch_profile(load(args))
    print(json.dumps(profile, indent=2, sort_keys=True) if args.json else format_profile(profile))
    return 0
