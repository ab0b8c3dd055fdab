#!/usr/bin/env python3
"""Measure device-agent's footprint against the interpreter's floor.

One run measures, side by side:

- steady state: RSS and CPU of `device-agent run` against the floor, a bare
  interpreter that imports the agent's runtime dependencies and sleeps.
  The agent runs with the example config, with the example config
  delivering to a store in another process, and with every linux monitor;
- start-up: wall time of `device-agent --version` against `python -c pass`,
  and the time from start to READY;
- growth: RSS of a busy device after 24 simulated hours against its
  first simulated hour.

Usage, from the repository root:

    python scripts/bench_footprint.py --quick      # under a minute
    python scripts/bench_footprint.py              # about 7 minutes
    python scripts/bench_footprint.py --trace --json results.json

--trace adds a growth run under tracemalloc, a few minutes more.

RSS is VmRSS from /proc/<pid>/status and CPU is utime + stime from
/proc/<pid>/stat, both of the child process after a warm-up and over a
measured window. The kernel counts CPU time in clock ticks (1/CLK_TCK s,
usually 10 ms), so a window of W seconds resolves CPU to 1/(W*CLK_TCK) of
a core. Each figure is the median of several rounds with min and max.
Compare ratios from one run: absolute figures move with machine load.
"""

import argparse
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = REPO / "config" / "examples" / "linux.yaml"
CATALOG = REPO / "agent" / "catalog.yaml"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

FLOOR_CODE = "import {modules}\nimport time\nwhile True:\n    time.sleep(3600)\n"

GOAL_RSS_ABOVE_FLOOR_MB = 8.0
GOAL_CPU_PERCENT = 0.1
GOAL_VERSION_SECONDS = 0.100
GOAL_READY_SECONDS = 1.0
GOAL_GROWTH_MB = 2.0

READY_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0


# modes


class Mode:
    """How long and how often to measure."""

    def __init__(self, quick):
        self.name = "quick" if quick else "full"
        self.rounds = 3
        # The warm-up outlasts the first flush interval (5 s in the configs measured), which delivers the start-up events.
        self.warmup = 7.0 if quick else 15.0
        self.window = 20.0 if quick else 90.0
        # Quick mode runs its rounds at the same time to fit in a minute; full mode one after another.
        self.parallel_rounds = quick
        self.version_runs = 7 if quick else 21
        self.ready_runs = 3 if quick else 7
        self.growth_hours = 24
        self.growth_interval = 60.0 if quick else 10.0
        self.growth_poll_interval = 300.0 if quick else 30.0


# /proc readers


def status_fields(pid):
    """Return the kB figures of /proc/<pid>/status that describe memory, plus Threads."""
    fields = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as file:
        for line in file:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM", "Threads"):
                fields[name] = int(value.split()[0])
    return fields


def cpu_seconds(pid):
    """Return utime + stime of a process, all its threads included, in seconds."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as file:
        # The command name can contain spaces, so fields are counted after its closing parenthesis.
        fields = file.read().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / CLOCK_TICKS


def context_switches(pid):
    """Return the context switches of a process's live threads; each wake-up from sleep is one."""
    total = 0
    for thread in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{thread}/status", encoding="ascii") as file:
                for line in file:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        total += int(line.split()[1])
        except FileNotFoundError:
            continue  # the thread ended between listing and reading
    return total


def written_bytes(pid):
    """Return the bytes a process caused to be written to storage, from /proc/<pid>/io."""
    with open(f"/proc/{pid}/io", encoding="ascii") as file:
        for line in file:
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    return 0


def floor_modules():
    """Return the modules the floor imports: each runtime dependency's packages, and sqlite3.

    The dependencies are read from pyproject.toml, so the floor follows
    them when they change.
    """
    import importlib.metadata
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    required = {_normalized(re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0]) for requirement in project["dependencies"]}
    provided = importlib.metadata.packages_distributions()
    modules = {module for module, distributions in provided.items() if not module.startswith("_") and required & {_normalized(name) for name in distributions}}
    found = {_normalized(name) for module in modules for name in provided[module]}
    if required - found:
        raise RuntimeError(f"runtime dependencies not installed for {sys.executable}: {', '.join(sorted(required - found))}")
    return sorted(modules) + ["sqlite3"]


def _normalized(distribution):
    return re.sub(r"[-_.]+", "-", distribution).lower()


# child processes


def child_environment(notify_socket=None):
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), environment.get("PYTHONPATH")]))
    environment.pop("NOTIFY_SOCKET", None)
    if notify_socket is not None:
        environment["NOTIFY_SOCKET"] = notify_socket
    return environment


def agent_command(config_path, state_dir):
    return [sys.executable, "-m", "agent", "run", "--config", str(config_path), "--state-dir", str(state_dir)]


def stop(process):
    """Stop a child with SIGTERM, then SIGKILL when it outlives STOP_TIMEOUT."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def stop_all(processes):
    """Send SIGTERM to every child first, so their shutdowns overlap."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        stop(process)


def describe_exit(process, log_path):
    text = Path(log_path).read_text(errors="replace")[-2000:] if Path(log_path).exists() else ""
    return f"exited with status {process.returncode}:\n{text}"


# configs


def all_monitors_config(interval, poll_interval=None):
    """Return agent.yaml text enabling every attribute the catalog offers on linux."""
    import yaml

    catalog = yaml.safe_load(CATALOG.read_text())
    (row,) = catalog["platforms"]["linux"]
    lines = ["device:", "  platform: linux", "  app_id: footprint-benchmark", "monitors:", "  one_time:"]
    lines += [f"    - {attribute}" for attribute in row["one_time"]]
    lines.append("  event:")
    for attribute in row["event"]:
        lines.append(f"    - {attribute}: {{poll_interval: {poll_interval:g}s}}" if poll_interval else f"    - {attribute}")
    lines.append("  interval:")
    lines += [f"    {attribute}: {interval:g}s" for attribute in row["interval"]]
    # The geofence monitor needs at least one fence to check against.
    lines += ["geofences:", "  - {name: benchmark-site, latitude: 52.52, longitude: 13.405, radius: 200}"]
    lines += ["store:", "  flush_interval: 5s", "logging:", "  level: warning", ""]
    return "\n".join(lines)


def variant_configs(workdir, store_url, key_file):
    """Write the configs under test and return {variant: config path}; None means the floor.

    remote_store is the example config delivering to a store in another
    process, as a device with a remote store does, so it runs no embedded
    store.
    """
    example_text = EXAMPLE_CONFIG.read_text()
    example = Path(workdir) / "example.yaml"
    example.write_text(example_text)
    remote = Path(workdir) / "remote-store.yaml"
    remote.write_text(example_text.replace("\nstore:\n", f"\nstore:\n  url: {store_url}\n  key_file: {key_file}\n", 1))
    every = Path(workdir) / "all-linux.yaml"
    every.write_text(all_monitors_config(interval=60))
    return {"floor": None, "example": example, "remote_store": remote, "all_linux": every}


def start_store(workdir):
    """Start `device-agent store serve` on a free loopback port; return (process, url, key file)."""
    directory = Path(workdir) / "remote-store"
    directory.mkdir()
    key_file = directory / "profile-key"
    key_file.write_text("footprint-benchmark-key\n")
    key_file.chmod(0o600)
    command = [sys.executable, "-m", "agent", "store", "serve", "--db", str(directory / "store.db"), "--port", "0", "--key-file", str(key_file), "--log-level", "warning"]
    process = subprocess.Popen(command, env=child_environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = process.stdout.readline()
    if not line.startswith("profile store listening on "):
        stop(process)
        raise RuntimeError(f"profile store did not start: {line}{process.stdout.read()}")
    return process, line.rsplit(" ", 1)[1].strip(), key_file


# readiness


def ready_method():
    """Return 'notify' when the agent sends sd_notify READY=1, else 'proxy'."""
    return "notify" if (REPO / "agent" / "notify.py").exists() else "proxy"


def wait_ready(process, state_dir, notify, deadline):
    """Wait until the agent is ready; raise RuntimeError when it exits first or the deadline passes.

    With notify, ready is the READY=1 datagram on NOTIFY_SOCKET. The proxy,
    used while the agent has no sd_notify support, is the first row in the
    state database's last_values table: the agent registered, started its
    schedule and captured its first monitor.
    """
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("agent exited before it was ready")
        if notify is not None:
            notify.settimeout(max(0.001, min(0.1, deadline - time.monotonic())))
            try:
                message = notify.recv(4096).decode(errors="replace")
            except TimeoutError:
                continue
            if "READY=1" in message.splitlines():
                return
        else:
            if captured_rows(Path(state_dir) / "agent.db"):
                return
            time.sleep(0.005)
    raise RuntimeError(f"agent not ready within {READY_TIMEOUT:g}s")


def captured_rows(database):
    if not database.exists():
        return 0
    try:
        connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=0.05)
        try:
            return connection.execute("SELECT COUNT(*) FROM last_values").fetchone()[0]
        finally:
            connection.close()
    except sqlite3.Error:
        # The table does not exist yet, or the agent holds a write lock.
        return 0


class NotifySocket:
    """A unix datagram socket standing in for systemd's notification socket."""

    def __init__(self, directory):
        self.path = str(Path(directory) / "notify.sock")
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(self.path)

    def close(self):
        self.socket.close()
        Path(self.path).unlink(missing_ok=True)


def start_agent(config_path, state_dir, log_path, method):
    """Start an agent and wait until it is ready; return (process, seconds to ready)."""
    notify = NotifySocket(state_dir) if method == "notify" else None
    try:
        with open(log_path, "wb") as log:
            started = time.monotonic()
            process = subprocess.Popen(
                agent_command(config_path, state_dir),
                env=child_environment(notify.path if notify else None),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_ready(process, state_dir, notify.socket if notify else None, started + READY_TIMEOUT)
        except RuntimeError as error:
            stop(process)
            raise RuntimeError(f"{error}; agent {describe_exit(process, log_path)}") from None
        return process, time.monotonic() - started
    finally:
        if notify is not None:
            notify.close()


# steady state


def start_variant(variant, config_path, directory, method):
    directory.mkdir(parents=True)
    log_path = directory / "output.log"
    if config_path is None:
        with open(log_path, "wb") as log:
            code = FLOOR_CODE.format(modules=", ".join(floor_modules()))
            process = subprocess.Popen([sys.executable, "-c", code], env=child_environment(), stdout=log, stderr=subprocess.STDOUT)
        return process, log_path
    state_dir = directory / "state"
    state_dir.mkdir()
    process, _ = start_agent(config_path, state_dir, log_path, method)
    return process, log_path


def measure_window(processes, window):
    """Sample RSS every second and CPU at both ends of the window; return {key: figures}."""
    cpu_start = {key: cpu_seconds(process.pid) for key, (process, _) in processes.items()}
    switches_start = {key: context_switches(process.pid) for key, (process, _) in processes.items()}
    written_start = {key: written_bytes(process.pid) for key, (process, _) in processes.items()}
    samples = {key: [] for key in processes}
    started = time.monotonic()
    while True:
        for key, (process, log_path) in processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{key} {describe_exit(process, log_path)}")
            samples[key].append(status_fields(process.pid))
        remaining = window - (time.monotonic() - started)
        if remaining <= 0:
            break
        time.sleep(min(1.0, remaining))
    elapsed = time.monotonic() - started
    figures = {}
    for key, (process, _) in processes.items():
        used = cpu_seconds(process.pid) - cpu_start[key]
        last = samples[key][-1]
        figures[key] = {
            "rss_mb": statistics.median(sample["VmRSS"] for sample in samples[key]) / 1024,
            "rss_anon_mb": last["RssAnon"] / 1024,
            "rss_file_mb": last["RssFile"] / 1024,
            "threads": last["Threads"],
            "cpu_percent": 100.0 * used / elapsed,
            "cpu_seconds": used,
            "wakeups_per_second": (context_switches(process.pid) - switches_start[key]) / elapsed,
            "written_kb_per_minute": (written_bytes(process.pid) - written_start[key]) / 1024 / elapsed * 60,
            "window_seconds": elapsed,
        }
    return figures


def steady_state(mode, workdir, method):
    """Run the floor and every agent config side by side; return {variant: [figures per round]}."""
    store, store_url, key_file = start_store(workdir)
    try:
        configs = variant_configs(workdir, store_url, key_file)
        batches = [list(range(mode.rounds))] if mode.parallel_rounds else [[index] for index in range(mode.rounds)]
        results = {variant: [] for variant in configs}
        for batch in batches:
            processes = {}
            try:
                for index in batch:
                    for variant, config_path in configs.items():
                        directory = Path(workdir) / f"steady-{variant}-{index}"
                        processes[(variant, index)] = start_variant(variant, config_path, directory, method)
                time.sleep(mode.warmup)
                figures = measure_window(processes, mode.window)
            finally:
                stop_all([process for process, _ in processes.values()])
            for (variant, _), figure in figures.items():
                results[variant].append(figure)
    finally:
        stop(store)
    return results


# start-up


def run_times(command, runs, environment):
    """Run a command runs times; return (wall seconds, CPU seconds) per run.

    CPU time (user + system) does not include time spent waiting for a
    core, so it shows the command's own cost on a busy machine.
    """
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(command, env=environment, stdout=subprocess.DEVNULL, check=True)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return walls, cpus


def startup(mode, workdir, method):
    environment = child_environment()
    version, version_cpu = run_times([sys.executable, "-m", "agent", "--version"], mode.version_runs, environment)
    interpreter, interpreter_cpu = run_times([sys.executable, "-c", "pass"], mode.version_runs, environment)
    ready = []
    for index in range(mode.ready_runs):
        state_dir = Path(workdir) / f"ready-{index}"
        state_dir.mkdir()
        process, seconds = start_agent(EXAMPLE_CONFIG, state_dir, state_dir / "output.log", method)
        stop(process)
        ready.append(seconds)
    return {
        "version_seconds": version,
        "version_cpu_seconds": version_cpu,
        "interpreter_seconds": interpreter,
        "interpreter_cpu_seconds": interpreter_cpu,
        "ready_seconds": ready,
    }


# growth


def growth(mode, workdir, trace):
    """Run the growth driver in a child so its memory is its own; return its figures.

    With trace, a second child runs under tracemalloc and adds the lines
    whose Python memory grew most. Its RSS is not used: tracemalloc's
    tables and snapshots inflate it.
    """
    figures = growth_run(mode, workdir, trace=False)
    if trace:
        traced = growth_run(mode, workdir, trace=True)
        figures["traced_growth_mb"] = traced["traced_growth_mb"]
        figures["top_growth"] = traced["top_growth"]
    return figures


def growth_run(mode, workdir, trace):
    scratch = Path(scratch_directory(workdir))
    state_dir = scratch / "state"
    command = [
        sys.executable, str(Path(__file__).resolve()), "--growth-child",
        "--state-dir", str(state_dir),
        "--hours", str(mode.growth_hours),
        "--interval", str(mode.growth_interval),
        "--poll-interval", str(mode.growth_poll_interval),
    ]
    if trace:
        command.append("--trace")
    try:
        result = subprocess.run(command, env=child_environment(), capture_output=True, text=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if result.returncode != 0:
        raise RuntimeError(f"growth driver failed with status {result.returncode}:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.splitlines()[-1])


def scratch_directory(workdir):
    """Return a new directory for the growth driver's state, on tmpfs where there is one.

    The driver commits tens of thousands of transactions. On tmpfs fsync
    costs nothing, which keeps the run short and leaves RSS unchanged.
    """
    shm = Path("/dev/shm")
    parent = shm if shm.is_dir() and os.access(shm, os.W_OK) else workdir
    return tempfile.mkdtemp(prefix="bench-footprint-", dir=parent)


class BusySource:
    """A host whose every capture finds a new value, so each capture makes an event.

    One-time attributes come from the real host; the rest cycle through
    a few values each. It wraps a HostSource so registration still reads
    the machine id and the OS name.
    """

    def __init__(self, one_time):
        from agent.sources.host import HostSource

        self.host = HostSource()
        self.one_time = set(one_time)
        self.counts = {}

    def __getattr__(self, name):
        return getattr(self.host, name)

    def collect(self, attribute):
        if attribute in self.one_time:
            return self.host.collect(attribute)
        count = self.counts.get(attribute, 0) + 1
        self.counts[attribute] = count
        if attribute == "battery_level":
            return float(100 - count % 100)
        if attribute in ("signal_strength", "time_spent"):
            return count % 101
        return f"{attribute}-{count % 5}"


def growth_child(args):
    """Drive one busy device through simulated hours in this process; print figures as JSON.

    Monitors run by the agent's own scheduling rules on a simulated clock
    that jumps from one due time to the next, and the sender drains the
    outbox to the embedded profile store every flush interval of simulated
    time. Captures go through Agent.capture_monitor, so the change tracker,
    the outbox, the sender and the store all run for real.

    NOTE: this driver does not use the fleet simulator. It measures one
    agent in its own process, not a device inside a fleet process.
    """
    import gc
    import heapq
    import tracemalloc
    from datetime import datetime, timedelta, timezone

    if args.trace:
        tracemalloc.start(8)

    import agent.daemon
    from agent.catalog import Kind
    from agent.config import load_config
    from agent.scheduling import Schedule

    state_dir = Path(args.state_dir)
    state_dir.mkdir(parents=True)
    config_path = state_dir / "busy.yaml"
    config_path.write_text(all_monitors_config(args.interval, args.poll_interval))
    config = load_config(config_path)

    # The simulated clock starts in the past, so the store receives no capture time in the future.
    clock = SimulatedClock(datetime.now(timezone.utc) - timedelta(hours=args.hours + 1))
    agent.daemon.datetime = clock.datetime_class()
    one_time = [monitor.attribute for monitor in config.monitors if monitor.kind is Kind.ONE_TIME]
    device = agent.daemon.Agent(config, state_dir=state_dir, source=BusySource(one_time)).open()

    schedules = [Schedule(monitor) for monitor in config.monitors]
    due = [(schedule.first_due(0.0), index) for index, schedule in enumerate(schedules)]
    heapq.heapify(due)
    end = args.hours * 3600.0
    flush_interval = config.store.flush_interval
    next_flush = flush_interval
    captures = 0
    marks = {}
    rss_by_hour = []
    started = time.monotonic()

    def mark(name):
        device.sender.drain(deadline=time.monotonic() + 60)
        gc.collect()
        marks[name] = {
            "rss_kb": status_fields(os.getpid())["VmRSS"],
            "blocks": sys.getallocatedblocks(),
            "traced": tracemalloc.get_traced_memory()[0] if args.trace else 0,
        }
        if args.trace:
            # A snapshot kept in memory would count in the next RSS reading, so it goes to disk.
            snapshot = tracemalloc.take_snapshot()
            snapshot.dump(str(state_dir / f"{name}.tracemalloc"))
            del snapshot

    while due and due[0][0] <= end:
        when, index = heapq.heappop(due)
        while next_flush <= when:
            clock.seconds = next_flush
            device.sender.drain(deadline=time.monotonic() + 60)
            next_flush += flush_interval
        if when >= 3600.0 * (len(rss_by_hour) + 1):
            if not rss_by_hour:
                mark("hour_1")
            rss_by_hour.append(status_fields(os.getpid())["VmRSS"] / 1024)
        clock.seconds = when
        monitor = schedules[index].monitor
        if monitor.kind is Kind.ONE_TIME:
            device.capture_one_time(monitor)
        else:
            device.capture_monitor(monitor)
            heapq.heappush(due, (schedules[index].next_due(when, when), index))
        captures += 1
    mark("end")

    events = device.db.query("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'")
    figures = {
        "driver": "in-process capture loop on a simulated clock",
        "hours": args.hours,
        "captures": captures,
        "events": events[0][0] if events else 0,
        "undelivered": device.outbox.depth(),
        "wall_seconds": time.monotonic() - started,
        "rss_hour_1_mb": marks["hour_1"]["rss_kb"] / 1024,
        "rss_end_mb": marks["end"]["rss_kb"] / 1024,
        "rss_growth_mb": (marks["end"]["rss_kb"] - marks["hour_1"]["rss_kb"]) / 1024,
        "blocks_hour_1": marks["hour_1"]["blocks"],
        "blocks_end": marks["end"]["blocks"],
        "rss_by_hour_mb": [round(rss, 2) for rss in rss_by_hour],
    }
    if args.trace:
        figures["traced_growth_mb"] = (marks["end"]["traced"] - marks["hour_1"]["traced"]) / 1024 / 1024
        first = tracemalloc.Snapshot.load(str(state_dir / "hour_1.tracemalloc"))
        last = tracemalloc.Snapshot.load(str(state_dir / "end.tracemalloc"))
        differences = last.compare_to(first, "lineno")
        figures["top_growth"] = [str(difference) for difference in differences[:10]]
    device.close()
    print(json.dumps(figures))
    return 0


class SimulatedClock:
    """Seconds since a fixed start, read by the agent through datetime.now()."""

    def __init__(self, start):
        self.start = start
        self.seconds = 0.0

    def datetime_class(self):
        from datetime import datetime, timedelta

        clock = self

        class SimulatedDatetime(datetime):
            @classmethod
            def now(cls, tz=None):
                moment = clock.start + timedelta(seconds=clock.seconds)
                return moment.astimezone(tz) if tz is not None else moment.replace(tzinfo=None)

        return SimulatedDatetime


# report


def summary(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def format_summary(values, unit, scale=1.0, digits=1):
    figures = summary([value * scale for value in values])
    return f"{figures['median']:.{digits}f} {unit} (min {figures['min']:.{digits}f}, max {figures['max']:.{digits}f})"


def machine():
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory_kb = int(line.split()[1])
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "clock_ticks_per_second": CLOCK_TICKS,
    }


def load_average():
    """Return the 1-minute load average from /proc/loadavg, a measure of how busy the machine was."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def goals(results):
    """Return (goal, measured, target, met) rows from the medians."""
    steady = results["steady"]
    floor_rss = statistics.median(round_["rss_mb"] for round_ in steady["floor"])
    rows = []
    for variant in ("example", "all_linux", "remote_store"):
        above = statistics.median(round_["rss_mb"] for round_ in steady[variant]) - floor_rss
        rows.append((f"steady RSS above floor, {variant}", f"{above:+.1f} MB", f"<= {GOAL_RSS_ABOVE_FLOOR_MB:g} MB", above <= GOAL_RSS_ABOVE_FLOOR_MB))
    cpu = statistics.median(round_["cpu_percent"] for round_ in steady["example"])
    rows.append(("average CPU, example config", f"{cpu:.3f} %", f"< {GOAL_CPU_PERCENT:g} %", cpu < GOAL_CPU_PERCENT))
    version = statistics.median(results["startup"]["version_seconds"])
    rows.append(("--version wall time", f"{version * 1000:.0f} ms", f"< {GOAL_VERSION_SECONDS * 1000:.0f} ms", version < GOAL_VERSION_SECONDS))
    ready = statistics.median(results["startup"]["ready_seconds"])
    label = "start to READY" if results["ready_method"] == "notify" else "start to first capture (READY proxy)"
    rows.append((label, f"{ready * 1000:.0f} ms", f"< {GOAL_READY_SECONDS:g} s", ready < GOAL_READY_SECONDS))
    if "growth" in results:
        grown = results["growth"]["rss_growth_mb"]
        hours = results["growth"]["hours"]
        rows.append((f"RSS growth, hour 1 to hour {hours:g}", f"{grown:+.2f} MB", f"< {GOAL_GROWTH_MB:g} MB", grown < GOAL_GROWTH_MB))
    return rows


def print_report(results):
    info = results["machine"]
    print(f"\nmachine: {info['cpu']}, {info['cores']} cores, {info['memory_gb']} GB, Linux {info['kernel']}, Python {info['python']}")
    print(f"mode: {results['mode']}, ready: {results['ready_method']}, load average {results['load_before']:.1f} before and {results['load_after']:.1f} after")

    steady = results["steady"]
    print(f"\nsteady state (median of rounds, min and max in brackets); the floor imports {', '.join(results['floor_modules'])}")
    print(f"  {'variant':<12} {'RSS':<30} {'CPU, % of one core':<34} {'wake-ups/s':<28} {'written kB/min':<28} threads")
    for variant, rounds in steady.items():
        rss = format_summary([round_["rss_mb"] for round_ in rounds], "MB")
        cpu = format_summary([round_["cpu_percent"] for round_ in rounds], "%", digits=3)
        wakeups = format_summary([round_["wakeups_per_second"] for round_ in rounds], "")
        written = format_summary([round_["written_kb_per_minute"] for round_ in rounds], "")
        threads = statistics.median(round_["threads"] for round_ in rounds)
        print(f"  {variant:<12} {rss:<30} {cpu:<34} {wakeups:<28} {written:<28} {threads:g}")
    window = statistics.median(round_["window_seconds"] for round_ in steady["floor"])
    print(f"  CPU resolution over the {window:.0f} s window: {100 / (window * CLOCK_TICKS):.3f} % of one core")

    start = results["startup"]
    print("\nstart-up")
    print(f"  {'':<38} {'wall':<28} CPU (user + system)")
    for label, key in (("python -m agent --version", "version"), ("python -c pass", "interpreter")):
        wall = format_summary(start[f"{key}_seconds"], "ms", 1000, 0)
        cpu = format_summary(start[f"{key}_cpu_seconds"], "ms", 1000, 0)
        print(f"  {label:<38} {wall:<28} {cpu}")
    label = "start to READY=1" if results["ready_method"] == "notify" else "start to first capture (READY proxy)"
    print(f"  {label:<38} {format_summary(start['ready_seconds'], 'ms', 1000, 0)}")

    if "growth" in results:
        grown = results["growth"]
        print(f"\ngrowth ({grown['driver']})")
        print(f"  captures {grown['captures']}, events delivered {grown['events']}, simulated hours {grown['hours']:g}, wall {grown['wall_seconds']:.0f} s")
        print(f"  RSS after hour 1 {grown['rss_hour_1_mb']:.2f} MB, after hour {grown['hours']:g} {grown['rss_end_mb']:.2f} MB, growth {grown['rss_growth_mb']:+.2f} MB")
        print(f"  allocated Python blocks after hour 1 {grown['blocks_hour_1']}, at the end {grown['blocks_end']}")
        if "traced_growth_mb" in grown:
            print(f"  Python heap growth traced by tracemalloc in a second run {grown['traced_growth_mb']:+.3f} MB, largest by line:")
        for line in grown.get("top_growth", []):
            print(f"    {line}")

    print("\ngoals")
    for goal, measured, target, met in goals(results):
        print(f"  {'met   ' if met else 'MISSED'} {goal}: {measured} (goal {target})")


def main(argv=None):
    parser = argparse.ArgumentParser(description="Measure device-agent's RSS, CPU, start-up and growth against the interpreter's floor.")
    parser.add_argument("--quick", action="store_true", help="short windows and rounds run at once; finishes in under a minute")
    parser.add_argument("--json", metavar="FILE", help="also write every measurement to FILE as JSON")
    parser.add_argument("--skip-growth", action="store_true", help="leave out the 24-simulated-hour growth run")
    parser.add_argument("--trace", action="store_true", help="run the growth driver under tracemalloc and list the lines whose memory grew most")
    parser.add_argument("--growth-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--state-dir", help=argparse.SUPPRESS)
    parser.add_argument("--hours", type=float, default=24, help=argparse.SUPPRESS)
    parser.add_argument("--interval", type=float, default=10, help=argparse.SUPPRESS)
    parser.add_argument("--poll-interval", type=float, default=30, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.growth_child:
        return growth_child(args)

    mode = Mode(args.quick)
    method = ready_method()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-footprint-") as workdir:
        results = {"mode": mode.name, "ready_method": method, "machine": machine(), "load_before": load_average(), "floor_modules": floor_modules()}
        print(f"start-up: {mode.version_runs} --version runs, {mode.ready_runs} start-ups", file=sys.stderr)
        results["startup"] = startup(mode, workdir, method)
        print(f"steady state: {mode.rounds} rounds, {mode.warmup:g} s warm-up, {mode.window:g} s window", file=sys.stderr)
        results["steady"] = steady_state(mode, workdir, method)
        if not args.skip_growth:
            print(f"growth: {mode.growth_hours} simulated hours", file=sys.stderr)
            results["growth"] = growth(mode, workdir, args.trace)
    results["load_after"] = load_average()
    results["wall_seconds"] = time.monotonic() - started
    print_report(results)
    print(f"\nfinished in {results['wall_seconds']:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
