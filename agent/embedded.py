"""The embedded profile store, started by the agent when the config names no store URL."""

from pathlib import Path

from agent.keys import embedded_store_key

EMBEDDED_DB_NAME = "profile-store.db"
# The embedded store contains one device, so a small page cache keeps the agent's memory flat.
EMBEDDED_CACHE_KIB = 256


def start_embedded_store(state_dir):
    """Start a profile store on a free loopback port, its database in the state directory."""
    from agent.store.server import ProfileStoreServer

    key = embedded_store_key(state_dir)
    server = ProfileStoreServer(Path(state_dir) / EMBEDDED_DB_NAME, host="127.0.0.1", port=0, key=key, cache_kib=EMBEDDED_CACHE_KIB)
    return server.start(), key
