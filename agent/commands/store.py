"""device-agent store serve: the profile store over HTTP."""


def add_parser(subparsers):
    store = subparsers.add_parser("store", help="the profile store").add_subparsers(metavar="COMMAND", required=True)
    serve = store.add_parser("serve", help="serve a profile store over HTTP with SQLite storage")
    from agent.store import command

    command.add_arguments(serve)
    serve.set_defaults(handler=command.run)
