"""A corrupt state database or embedded store key is moved aside, and the agent starts clean."""

import logging
import sqlite3

import pytest

from agent.config import StoreConfig
from agent.keys import EMBEDDED_KEY_NAME, ProfileKeyError, embedded_store_key, profile_key
from agent.outbox import Outbox
from agent.statedb import StateDB

from .conftest import registered_state


def test_statedb_garbage_file_moved_aside(tmp_path, caplog):
    path = tmp_path / "agent.db"
    path.write_bytes(b"this is no SQLite database" * 100)

    with caplog.at_level(logging.ERROR, logger="agent.statedb"):
        db = StateDB(path)
    assert db.moved_aside is not None
    assert db.moved_aside.read_bytes().startswith(b"this is no SQLite")
    assert db.query("SELECT COUNT(*) FROM outbox") == [(0,)]
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 1
    assert str(db.moved_aside) in messages[0]
    assert "register again" in messages[0]


def test_statedb_damaged_pages_moved_aside(tmp_path):
    path = tmp_path / "agent.db"
    db = registered_state(path)
    outbox = Outbox(db)
    with db.transaction() as connection:
        for number in range(2000):
            connection.execute("INSERT INTO settings (name, value) VALUES (?, ?)", (f"filler-{number}", "x" * 200))
    db.query("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    assert outbox  # the outbox existed before the damage

    # Overwrite pages in the middle of the file, as a torn write on bad flash would.
    data = bytearray(path.read_bytes())
    page_size = 4096
    for page in range(3, len(data) // page_size - 1, 2):
        data[page * page_size + 100 : page * page_size + 600] = b"\xff" * 500
    path.write_bytes(bytes(data))

    reopened = registered_state(path)
    assert reopened.moved_aside is not None
    assert reopened.query("SELECT COUNT(*) FROM devices") == [(1,)]
    assert reopened.query("SELECT COUNT(*) FROM outbox") == [(1,)]


def test_statedb_locked_file_not_moved(tmp_path):
    path = tmp_path / "agent.db"
    StateDB(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=DELETE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(sqlite3.OperationalError):
            StateDB(path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert path.exists()
    assert not list(tmp_path.glob("agent.db.corrupt-*"))


def test_embedded_key_regenerated_when_empty(tmp_path, caplog):
    first = embedded_store_key(tmp_path)
    (tmp_path / EMBEDDED_KEY_NAME).write_text("")
    with caplog.at_level(logging.ERROR, logger="agent.keys"):
        second = embedded_store_key(tmp_path)
    assert second
    assert second != first
    assert list(tmp_path.glob(f"{EMBEDDED_KEY_NAME}.corrupt-*"))
    assert (tmp_path / EMBEDDED_KEY_NAME).stat().st_mode & 0o777 == 0o600
    assert all(second not in record.getMessage() for record in caplog.records)


def test_profile_key_sources_in_order(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text("from-file\n")
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "profile-key").write_text("from-credential\n")
    environ = {"DEVICE_AGENT_PROFILE_KEY": " from-env ", "CREDENTIALS_DIRECTORY": str(credentials)}

    assert profile_key(StoreConfig(key_file=str(key_file)), environ) == "from-file"
    assert profile_key(StoreConfig(), environ) == "from-env"
    assert profile_key(StoreConfig(), {"CREDENTIALS_DIRECTORY": str(credentials)}) == "from-credential"
    assert profile_key(StoreConfig(key_env="OTHER_KEY"), {"OTHER_KEY": "other"}) == "other"
    assert profile_key(StoreConfig(), {}) is None


def test_profile_key_control_characters_rejected(tmp_path):
    with pytest.raises(ProfileKeyError) as raised:
        profile_key(StoreConfig(), {"DEVICE_AGENT_PROFILE_KEY": "secret\x00value"})
    assert "secret" not in str(raised.value)
    assert "DEVICE_AGENT_PROFILE_KEY" in str(raised.value)
