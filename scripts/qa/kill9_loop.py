"""kill -9 the agent at random points and check that no change is lost.

Starts a profile store with a key file on 127.0.0.1, then runs the agent
against a fake host tree whose /etc/localtime changes before every run.
Each run (`run --once` or `run`) is killed with SIGKILL after a random
delay. A last `run --once` without a kill must leave an empty outbox, an
empty dead-letter table, the last zone in the store, and one applied
event in the store for every sequence number the agent handed out.
Usage: kill9_loop.py [RUNS] [SEED]
"""

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attack_store  # noqa: E402

ROOT = attack_store.ROOT
PYTHON = attack_store.PYTHON
ZONES = ["Asia/Tokyo", "Europe/Berlin", "America/New_York", "Africa/Cairo", "Australia/Sydney", "Europe/Paris"]


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    work = tempfile.mkdtemp(prefix="qa-kill9.")
    store, port, store_log = attack_store.start_store(work)
    host = os.path.join(work, "root")
    os.makedirs(os.path.join(host, "etc"))
    state = os.path.join(work, "state")
    config = os.path.join(work, "agent.yaml")
    with open(config, "w") as stream:
        stream.write(f"""device:
  platform: linux
  app_id: {attack_store.APP}
  device_id: kill9-device
monitors:
  event:
    - timezone: {{poll_interval: 1s}}
store:
  url: http://127.0.0.1:{port}
  key_file: {work}/key
  flush_interval: 0.2s
state_dir: {state}
""")
    env = {**os.environ, "PYTHONPATH": ROOT}
    problems = []
    zone = None
    try:
        for index in range(runs):
            zone = ZONES[index % len(ZONES)]
            link = os.path.join(host, "etc", "localtime")
            if os.path.lexists(link):
                os.unlink(link)
            os.symlink(f"/usr/share/zoneinfo/{zone}", link)
            mode = ["--once"] if index % 2 == 0 else []
            process = subprocess.Popen([PYTHON, "-m", "agent", "run", "--config", config, "--root", host, *mode],
                                       cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            delay = rng.uniform(0.05, 1.5)
            try:
                process.wait(delay)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                process.wait()
            output = process.stdout.read().decode(errors="replace")
            if "Traceback" in output:
                problems.append(f"run {index} ({zone}, killed after {delay:.2f}s): traceback: {output[output.index('Traceback'):][:800]}")
            print(f"run {index}: zone {zone} {'once' if mode else 'daemon'} delay {delay:.2f}s rc {process.returncode}", flush=True)

        final = subprocess.run([PYTHON, "-m", "agent", "run", "--once", "--config", config, "--root", host],
                               cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        print("final run rc", final.returncode, final.stderr[-500:])
        if final.returncode != 0:
            problems.append(f"final run --once exited {final.returncode}: {final.stderr[-800:]}")

        agent_db = sqlite3.connect(os.path.join(state, "agent.db"))
        outbox = agent_db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        dead = agent_db.execute("SELECT reason FROM dead_letter").fetchall()
        next_sequence = agent_db.execute("SELECT next_sequence FROM devices WHERE device_id='kill9-device'").fetchone()[0]
        store_db = sqlite3.connect(os.path.join(work, "store.db"))
        applied = store_db.execute("SELECT sequence FROM applied_events WHERE device_id='kill9-device' ORDER BY sequence").fetchall()
        sequences = [row[0] for row in applied]
        status, text = attack_store.request(port, "GET", f"{attack_store.PROFILES}/kill9-device")
        profile = json.loads(text)
        stored_zone = profile.get("attributes", {}).get("timezone", {}).get("value")
        print(f"outbox {outbox}, dead letters {len(dead)}, applied {len(sequences)}, sequences {sequences[:3]}..{sequences[-3:]}, next_sequence {next_sequence}, store zone {stored_zone}")
        if outbox:
            problems.append(f"{outbox} events left in the outbox after a clean run --once")
        if dead:
            problems.append(f"{len(dead)} events dead-lettered: {dead[:3]}")
        if stored_zone != zone:
            problems.append(f"store has timezone {stored_zone!r}, the host has {zone!r}")
        if sequences and sequences != list(range(sequences[0], sequences[0] + len(sequences))):
            problems.append(f"store misses sequence numbers between {sequences[0]} and {sequences[-1]}: applied {len(sequences)}")
        if sequences and sequences[-1] != next_sequence - 1:
            problems.append(f"agent handed out sequences up to {next_sequence - 1}, the store applied up to {sequences[-1]}")
        if len(set(sequences)) != len(sequences):
            problems.append("a sequence number was applied twice")
    finally:
        store.terminate()
        store.wait(10)
    for problem in problems:
        print("FINDING:", problem)
    print(f"{len(problems)} findings; work dir {work}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
