"""The agent as a long-running service: signals, sd_notify, the watchdog and a graceful stop.

The main thread installs the signal handlers, opens and starts the agent,
sends READY=1, then loops: it applies a SIGHUP reload between RELOADING=1
and READY=1, checks that the agent's threads and state database still
respond before each WATCHDOG=1, and writes the status for
`device-agent status`. SIGTERM or SIGINT sends STOPPING=1, flushes the
outbox for up to stop_timeout seconds and returns 0. Events that were not
delivered stay in the outbox for the next start.
"""

import logging
import os
import signal
import sqlite3
import threading
import time

from agent.errors import AgentError
from agent.logs import report_suppressed_repeats
from agent.notify import Notifier, watchdog_interval
from agent.status import STATUS_FLUSH_INTERVAL, SenderStateTracker

log = logging.getLogger("agent.service")

DEFAULT_STOP_TIMEOUT = 10.0
# The first status is written this soon after start, so it shows the first captures.
FIRST_STATUS_DELAY = 2.0
# Maximum sleep of the main loop, in seconds. Signals wake it at once, so this only bounds housekeeping.
MAX_TICK = 5.0

EXIT_OK = 0
EXIT_UNHEALTHY = 1


class Service:
    """Runs an Agent until a stop signal, talking to systemd through a Notifier.

    reload is called with the agent on SIGHUP and applies the new config.
    None means that reloading is not available, which is logged on SIGHUP.
    """

    def __init__(self, agent, reload=None, stop_timeout=DEFAULT_STOP_TIMEOUT, notifier=None, environ=None):
        environ = os.environ if environ is None else environ
        self.agent = agent
        self.reload = reload
        self.stop_timeout = stop_timeout
        self.notifier = notifier or Notifier.from_environment(environ)
        self.watchdog = watchdog_interval(environ)
        self.sender_state = SenderStateTracker()
        self._wakeup = threading.Event()
        self._stop_signal = None
        self._reload_requested = False
        self._stop_reason = "on request"

    # signals

    def install_signal_handlers(self):
        signal.signal(signal.SIGTERM, self._on_stop_signal)
        signal.signal(signal.SIGINT, self._on_stop_signal)
        signal.signal(signal.SIGHUP, self._on_reload_signal)

    def _on_stop_signal(self, signum, frame):
        # Handlers only set flags: the main loop does the work, outside any lock the signal may have interrupted.
        self._stop_signal = signal.Signals(signum).name
        # A second Ctrl-C ends the flush at once. The events stay in the outbox either way.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        self._wakeup.set()

    def _on_reload_signal(self, signum, frame):
        self._reload_requested = True
        self._wakeup.set()

    # run

    def run(self):
        """Open the agent, serve until a stop signal, stop gracefully; return the exit status."""
        self.install_signal_handlers()
        self.agent.open()
        status = EXIT_OK
        try:
            if self._stop_signal is None:
                self.agent.start()
                self._write_status()
                self.notifier.ready(status=self._status_line())
                log.info("Agent running for device %s with %d monitors%s", self.agent.device.device_id, len(self.agent.config.monitors), self._watchdog_note())
                status = self._loop()
        finally:
            # Whatever ended the loop, flush the outbox and report STOPPING before exiting.
            self._stop()
        return status

    def _loop(self):
        tick = min(MAX_TICK, self.watchdog / 3) if self.watchdog else MAX_TICK
        next_flush = time.monotonic() + FIRST_STATUS_DELAY
        while self._stop_signal is None and not self.agent.wait(0):
            self._wakeup.wait(tick)
            self._wakeup.clear()
            if self._reload_requested:
                self._reload()
            problem = self._liveness_problem()
            if problem is not None:
                log.error("Stopping device %s because %s; systemd restarts the agent (Restart=on-failure)", self.agent.device.device_id, problem)
                self._stop_reason = "after a failed liveness check"
                return EXIT_UNHEALTHY
            if self.watchdog:
                self.notifier.watchdog()
            self.sender_state.observe(self.agent.sender)
            report_suppressed_repeats()
            if time.monotonic() >= next_flush:
                self._write_status()
                self.notifier.status(self._status_line())
                next_flush = time.monotonic() + STATUS_FLUSH_INTERVAL
        return EXIT_OK

    def _stop(self):
        depth = self.agent.outbox.depth()
        reason = f"on {self._stop_signal}" if self._stop_signal else self._stop_reason
        self.notifier.stopping(status=f"Stopping: delivering {depth} queued events for up to {self.stop_timeout:g} s")
        log.info("Stopping %s; delivering %d queued events for up to %g s", reason, depth, self.stop_timeout)
        delivered = self.agent.stop(flush_timeout=self.stop_timeout)
        self.sender_state.observe(self.agent.sender)
        self._write_status(stopped=True)
        if delivered:
            log.info("Stopped; the outbox is empty")
        report_suppressed_repeats(now=float("inf"))

    # reload

    def _reload(self):
        self._reload_requested = False
        self.notifier.reloading(status="Reloading the configuration")
        if self.reload is None:
            log.warning("Reload on SIGHUP is not available in this build; restart the service to apply a changed config")
        else:
            try:
                self.reload(self.agent)
            except AgentError as error:
                log.error("Reload failed, so the agent keeps running with the previous config: %s", error)
            except Exception as error:  # noqa: BLE001 - a failed reload must not stop a running agent
                log.error("Reload failed (%s: %s), so the agent keeps running with the previous config", type(error).__name__, error)
        self.notifier.ready(status=self._status_line())

    # health and status

    def _liveness_problem(self):
        """Return why the agent can no longer do its work, or None.

        The state database query blocks while another thread holds the
        database, so a deadlock there stops the watchdog pings and systemd
        restarts the agent.
        """
        # NOTE: reads the Agent's private sender thread and scheduler, which may be renamed.
        sender_thread = getattr(self.agent, "_sender_thread", None)
        if sender_thread is not None and not sender_thread.is_alive():
            return "the sender thread has ended"
        scheduler = getattr(self.agent, "_scheduler", None)
        scheduler_thread = getattr(scheduler, "_thread", None)
        if scheduler is not None and not getattr(scheduler, "running", True):
            return "the scheduler has stopped"
        if scheduler_thread is not None and not scheduler_thread.is_alive():
            return "the scheduler thread has ended"
        try:
            self.agent.db.query("SELECT 1")
        except sqlite3.Error as error:
            return f"the state database {self.agent.db.path} failed: {error}"
        return None

    def _write_status(self, stopped=False):
        try:
            self.agent.monitor_status.flush(self.agent.db)
            self.sender_state.flush(self.agent.db, self.agent.device.device_id, os.getpid(), stopped)
        except Exception as error:  # noqa: BLE001 - the status is a report; failing to write it must not stop the agent
            log.warning("Cannot write the status of device %s to %s: %s", self.agent.device.device_id, self.agent.db.path, error)

    def _status_line(self):
        depth = self.agent.outbox.depth()
        count = len(self.agent.config.monitors)
        return f"Running: {count} monitor{'' if count == 1 else 's'}, {depth} events in the outbox"

    def _watchdog_note(self):
        return f"; sending watchdog pings every {min(MAX_TICK, self.watchdog / 3):g} s" if self.watchdog else ""
