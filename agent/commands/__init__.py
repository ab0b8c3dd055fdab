"""One module per device-agent command.

Each module has add_parser(subparsers), which registers the command and
sets its handler. Modules import only argparse at the top, so building
the parser for --version or --help stays fast.
"""

from agent.commands import collect, config, monitors, profile, register, run, simulate, status, store

COMMANDS = (run, collect, status, config, monitors, store, profile, register, simulate)
