"""The profile store the project ships: an HTTP API over a SQLite file.

It receives the agent's profile update events, keeps each device's app
profile and serves it back; `device-agent store serve` runs it.
"""

__all__ = ["DEFAULT_MAX_BODY", "ProfileStoreServer"]

# Largest request body the store accepts unless configured otherwise, in bytes.
DEFAULT_MAX_BODY = 1 << 20


def __getattr__(name):
    # The server pulls in http.server and sqlite3, which `device-agent --help`
    # must not pay for, so it is imported on first use.
    if name == "ProfileStoreServer":
        from agent.store.server import ProfileStoreServer

        return ProfileStoreServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
