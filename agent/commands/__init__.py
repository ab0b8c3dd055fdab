"""One module per device-agent command.

Each module has add_parser(subparsers), which registers the command and
sets its handler. Modules import only argparse at the top, and a command
line that names a command imports that command's module alone, so the
running agent does not carry every command's parser.
"""

import importlib

# Command name to module, in the order --help lists them.
COMMAND_MODULES = {
    "run": "agent.commands.run",
    "collect": "agent.commands.collect",
    "status": "agent.commands.status",
    "config": "agent.commands.config",
    "monitors": "agent.commands.monitors",
    "store": "agent.commands.store",
    "profile": "agent.commands.profile",
    "register": "agent.commands.register",
    "simulate": "agent.commands.simulate",
}


def command_modules(argv=()):
    """Return the modules whose parsers argv needs: the named command's, or all of them."""
    named = next((word for word in argv if not word.startswith("-")), None)
    names = [named] if named in COMMAND_MODULES else list(COMMAND_MODULES)
    return [importlib.import_module(COMMAND_MODULES[name]) for name in names]
