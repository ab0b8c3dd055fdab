"""SIGHUP reload of a running agent while another process holds the state database's write lock."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

from tests.support import PROJECT_DIR

CONFIG = """\
device: {{platform: linux, app_id: qa-app, user_id: {user_id}}}
monitors:
  event: [timezone]
state_dir: {state_dir}
logging: {{level: info}}
"""


def wait_for_line(path, text, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in path.read_text():
            return True
        time.sleep(0.1)
    return False


def test_reload_survives_locked_state_db(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "machine-id").write_text("0123456789abcdef0123456789abcdef\n")
    state_dir = tmp_path / "state"
    config = tmp_path / "agent.yaml"
    config.write_text(CONFIG.format(user_id="alice", state_dir=state_dir))
    log_path = tmp_path / "agent.log"

    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "agent", "run", "--config", str(config), "--root", str(root), "--stop-timeout", "2"],
            stderr=log, stdout=log, env=dict(os.environ, PYTHONPATH=str(PROJECT_DIR)),
        )
    try:
        assert wait_for_line(log_path, "Agent running", 20), log_path.read_text()

        # Another process, such as an operator's sqlite3 shell, holds the write lock longer than the
        # agent's 5 s busy timeout. The reload changes the device identity, so it must write.
        holder = sqlite3.connect(state_dir / "agent.db", isolation_level=None, timeout=10)
        holder.execute("BEGIN IMMEDIATE")
        config.write_text(CONFIG.format(user_id="bob", state_dir=state_dir))
        process.send_signal(signal.SIGHUP)
        time.sleep(7)
        holder.execute("COMMIT")
        holder.close()
        time.sleep(1)

        assert process.poll() is None, f"agent exited with {process.returncode} after the reload:\n{log_path.read_text()}"
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "Traceback" not in log_path.read_text()
