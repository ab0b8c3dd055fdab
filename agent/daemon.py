"""The agent: monitors scheduled with APScheduler, feeding the change tracker and the sender."""

import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from agent.capture import apply_privacy, capture
from agent.catalog import Kind
from agent.errors import AgentError
from agent.keys import profile_key
from agent.outbox import Outbox
from agent.registration import register
from agent.samples import Status
from agent.sender import Sender
from agent.statedb import StateDB
from agent.status import MonitorStatusBook
from agent.tracker import ChangeTracker

log = logging.getLogger("agent.daemon")

# A one-time capture that found its source not ready is retried after these delays, the last repeating.
ONE_TIME_RETRY_DELAYS = (5, 15, 60, 300, 900)
FINAL_STATUSES = {Status.OK, Status.UNSUPPORTED, Status.DENIED}


class Agent:
    def __init__(self, config, state_dir=None, source=None):
        from agent.sources.host import HostSource

        self.config = config
        self.state_dir = Path(state_dir or config.state_dir)
        self.source = source or HostSource()
        self.db = None
        self.device = None
        self.sender = None
        self._store_server = None
        self._scheduler = None
        self._stop = threading.Event()
        self._sender_wakeup = threading.Event()
        self._sender_thread = None
        self._one_time_failures = {}
        self.monitor_status = MonitorStatusBook()

    # start and stop

    def open(self, force_registration=False):
        """Open the state, connect to the store and register the device."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.db = StateDB.in_state_dir(self.state_dir)
        self.tracker = ChangeTracker(self.db)
        self.outbox = Outbox(self.db)
        url, key = self._connect_store()
        self.sender = Sender(self.outbox, url, self.config.device.app_id, key, self.config.store)
        self.device, registered = register(self.db, self.config.device, self.source, force=force_registration)
        if registered:
            log.info("Registered device %s for app %s", self.device.device_id, self.device.app_id)
        self._privacy_key = self._privacy_secret()
        return self

    def close(self):
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        if self.sender is not None:
            self.sender.close()
        if self._store_server is not None:
            self._store_server.shutdown()
            self._store_server = None
        if self.db is not None:
            self.db.close()

    def _connect_store(self):
        if self.config.store.url is None:
            from agent.embedded import start_embedded_store

            self._store_server, key = start_embedded_store(self.state_dir)
            log.info("Started the embedded profile store at %s", self._store_server.url)
            return self._store_server.url, key
        key = profile_key(self.config.store)
        if key is None:
            raise AgentError(
                f"no profile key for {self.config.store.url}: set store.key_file in {self.config.path}, "
                f"the {self.config.store.key_env} environment variable, or a systemd credential named profile-key"
            )
        return self.config.store.url, key

    def _privacy_secret(self):
        import secrets

        secret = self.db.setting("privacy_key")
        if secret is None:
            secret = secrets.token_hex(32)
            self.db.set_setting("privacy_key", secret)
        return bytes.fromhex(secret)

    # capture

    def capture_monitor(self, monitor):
        """Capture one monitor and queue an event when its value changed; return the sample."""
        sample = capture(self.source, monitor.attribute, datetime.now(timezone.utc))
        self.monitor_status.record(self.device.device_id, monitor, sample)
        shared = apply_privacy(sample, monitor.privacy, self._privacy_key)
        if shared is not None:
            self.tracker.record(self.device.device_id, monitor.kind.value, [shared])
        if self.outbox.depth() >= self.sender.batch_size:
            self._sender_wakeup.set()
        return sample

    def capture_one_time(self, monitor):
        """Capture a one-time monitor; a source that is not ready yet is retried with backoff."""
        sample = self.capture_monitor(monitor)
        if sample.status in FINAL_STATUSES:
            self._mark_one_time_done(monitor.attribute)
            self._one_time_failures.pop(monitor.attribute, None)
            return sample
        failures = self._one_time_failures.get(monitor.attribute, 0)
        self._one_time_failures[monitor.attribute] = failures + 1
        delay = ONE_TIME_RETRY_DELAYS[min(failures, len(ONE_TIME_RETRY_DELAYS) - 1)]
        log.warning("One-time capture of %s found no value (%s); retrying in %ds", monitor.attribute, sample.reason, delay)
        if self._scheduler is not None:
            self._scheduler.add_job(self.capture_one_time, "date", run_date=datetime.now(timezone.utc) + timedelta(seconds=delay), args=[monitor])
        return sample

    def one_time_done(self, attribute):
        rows = self.db.query("SELECT 1 FROM one_time_done WHERE device_id = ? AND attribute = ?", (self.device.device_id, attribute))
        return bool(rows)

    def _mark_one_time_done(self, attribute):
        with self.db.transaction() as connection:
            connection.execute("INSERT OR IGNORE INTO one_time_done (device_id, attribute) VALUES (?, ?)", (self.device.device_id, attribute))

    # run modes

    def run_once(self, delivery_timeout=30.0):
        """Capture every enabled monitor once and deliver; return True when the store acknowledged everything."""
        for monitor in self.config.monitors:
            if monitor.kind is Kind.ONE_TIME:
                if not self.one_time_done(monitor.attribute):
                    self.capture_one_time(monitor)
            else:
                self.capture_monitor(monitor)
        self.sender.drain(deadline=time.monotonic() + delivery_timeout)
        return self.outbox.depth() == 0

    def start(self):
        """Start the scheduler and the sender thread; return at once."""
        from apscheduler.schedulers.background import BackgroundScheduler

        # UTC keeps the schedule independent of the device's zone, which may change while running.
        self._scheduler = BackgroundScheduler(
            timezone=timezone.utc,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self._schedule_monitors()
        self._scheduler.start()
        self._sender_thread = threading.Thread(target=self._send_loop, name="sender", daemon=True)
        self._sender_thread.start()

    def _schedule_monitors(self):
        now = datetime.now(timezone.utc)
        for monitor in self.config.monitors:
            job_id = f"{monitor.kind.value}:{monitor.attribute}"
            if monitor.kind is Kind.ONE_TIME:
                if not self.one_time_done(monitor.attribute):
                    self._scheduler.add_job(self.capture_one_time, "date", run_date=now, args=[monitor], id=job_id)
            elif monitor.kind is Kind.EVENT:
                self._scheduler.add_job(self.capture_monitor, "interval", seconds=monitor.poll_interval, next_run_time=now, args=[monitor], id=job_id)
            else:
                self._scheduler.add_job(
                    self.capture_monitor, "interval", seconds=monitor.interval, jitter=monitor.jitter or None, next_run_time=now, args=[monitor], id=job_id
                )

    def reload(self, config):
        """Apply a new, already validated config without a restart.

        Monitors are added, removed and rescheduled. One-time monitors
        already captured are not captured again unless the new config
        changes the device identity, which registers the device anew.
        """
        identity_changed = config.device != self.config.device
        self.config = config
        if identity_changed:
            self.device, registered = register(self.db, config.device, self.source)
            if registered:
                log.info("Device identity changed; registered device %s again", self.device.device_id)
        if self._scheduler is not None:
            self._scheduler.remove_all_jobs()
            self._schedule_monitors()
        log.info("Reloaded %s: %d monitors", config.path, len(config.monitors))

    def _send_loop(self):
        while not self._stop.is_set():
            self.sender.drain(deadline=time.monotonic() + self.config.store.flush_interval)
            self._sender_wakeup.wait(self.config.store.flush_interval)
            self._sender_wakeup.clear()

    def stop(self, flush_timeout=10.0):
        """Stop capturing, then flush the outbox for up to flush_timeout seconds."""
        self._stop.set()
        self._sender_wakeup.set()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        if self._sender_thread is not None:
            self._sender_thread.join()
        delivered = self.sender.drain(deadline=time.monotonic() + flush_timeout)
        if not delivered:
            log.warning("Stopping with %d events not yet delivered; they stay in the outbox for the next start", self.outbox.depth())
        return delivered

    def wait(self, timeout=None):
        return self._stop.wait(timeout)

    def request_stop(self):
        self._stop.set()
