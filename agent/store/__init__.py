"""The profile store the project ships: an HTTP API over a SQLite file.

It receives the agent's profile update events, keeps each device's app
profile and serves it back; `device-agent store serve` runs it.
"""

from agent.store.server import ProfileStoreServer

__all__ = ["ProfileStoreServer"]
