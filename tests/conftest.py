"""Fixtures shared by every test area."""

import pytest


@pytest.fixture
def profile_store(tmp_path):
    """A real profile store on a free loopback port, with its key."""
    from agent.store.server import ProfileStoreServer

    key = "test-profile-key"
    server = ProfileStoreServer(tmp_path / "store.db", host="127.0.0.1", port=0, key=key).start()
    server.key = key
    yield server
    server.shutdown()
