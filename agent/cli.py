"""The device-agent command line: parse, dispatch, and turn errors into one plain line."""

import sys

from agent import __version__

EX_CONFIG = 78


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    # A bare --version skips building the parser, which imports every command module.
    if argv == ["--version"]:
        print(f"device-agent {__version__}")
        return 0
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    from agent.errors import AgentError, ConfigError
    from agent.logs import print_error

    try:
        return args.handler(args)
    except ConfigError as error:
        print_error(f"device-agent: invalid configuration:\n{error}")
        return EX_CONFIG
    except AgentError as error:
        print_error(f"device-agent: {error}")
        return 1
    except BrokenPipeError:
        # The reader went away (device-agent monitors | head); stdout is pointed at
        # /dev/null so the interpreter's final flush does not fail again.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as error:
        # A file or directory the command was pointed at cannot be used; the error names it.
        where = f" {error.filename}" if error.filename else ""
        print_error(f"device-agent: cannot use{where}: {error.strerror or error}")
        return 1
    except KeyboardInterrupt:
        return 130


def build_parser(argv=()):
    """Build the parser for argv; with no command named, every command is registered, as --help needs."""
    import argparse

    from agent.commands import command_modules

    parser = argparse.ArgumentParser(prog="device-agent", description="Keep this device's app profile in a profile store up to date.")
    parser.add_argument("--version", action="version", version=f"device-agent {__version__}")
    subparsers = parser.add_subparsers(metavar="COMMAND")
    for command in command_modules(argv):
        command.add_parser(subparsers)
    return parser
