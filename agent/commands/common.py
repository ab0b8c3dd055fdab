"""Arguments and loading shared by the commands that read agent.yaml."""

DEFAULT_CONFIG = "/etc/device-agent/agent.yaml"


def add_config_arguments(parser):
    parser.add_argument("--config", default=DEFAULT_CONFIG, help=f"agent.yaml to use (default: {DEFAULT_CONFIG})")
    parser.add_argument("--state-dir", help="state directory, overriding state_dir in the config")


def load(args):
    """Load and validate the config named by --config, with --state-dir applied."""
    import dataclasses

    from agent.config import load_config

    config = load_config(args.config)
    if args.state_dir:
        config = dataclasses.replace(config, state_dir=args.state_dir)
    return config


def add_root_argument(parser):
    parser.add_argument("--root", default="/", type=host_root, help="read host files under this directory instead of / (default: /)")


def host_root(text):
    """Accept an existing directory: a missing root would make every file look absent and values look made up."""
    import argparse
    import os

    if not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not an existing directory; pass the directory that contains the host's etc, proc and sys")
    return text
