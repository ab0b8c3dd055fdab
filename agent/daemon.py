"""The agent: monitors run by the scheduler and watchers, feeding the change tracker and the sender."""

import functools
import logging
import threading
import time
from datetime import datetime
from pathlib import Path

from agent.capture import apply_privacy, capture
from agent.catalog import Kind
from agent.clock import SystemClock
from agent.errors import AgentError
from agent.keys import profile_key
from agent.outbox import Outbox
from agent.registration import register
from agent.samples import Status
from agent.scheduler import Scheduler
from agent.scheduling import ONE_TIME_RETRY_DELAYS, Schedule, heartbeat_wait, retry_delay
from agent.sender import Sender
from agent.statedb import StateDB
from agent.status import MonitorStatusBook
from agent.tracker import ChangeTracker
from agent.watchers import open_watchers
from agent.watchers.polling import poll_period

log = logging.getLogger("agent.daemon")

# One-time samples with these statuses are final; others are retried.
FINAL_STATUSES = {Status.OK, Status.UNSUPPORTED, Status.DENIED}

# A watcher notification is captured this many seconds later, so the
# burst of one change (the unlink and create of `ln -sf`, the address and
# route messages of one `ip addr add`) costs one capture.
DEBOUNCE_SECONDS = 0.02

# The scheduler job that sends the heartbeat; attribute names never start with "_".
HEARTBEAT_JOB = "_heartbeat"


class Agent:
    def __init__(self, config, state_dir=None, source=None, clock=None, threads=True):
        """Build an agent; clock defaults to the system clock, threads=False leaves the scheduler to the caller."""
        from agent.sources.host import HostSource

        self.config = config
        self.clock = clock or SystemClock()
        self._run_threads = threads
        self._watched = set()
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
        self.outbox = Outbox(self.db, self.config.store.max_outbox_events, self.config.store.max_outbox_bytes)
        url, key = self._connect_store()
        self.sender = Sender(self.outbox, url, self.config.device.app_id, key, self.config.store)
        self.device, registered = register(self.db, self.config.device, self.source, force=force_registration, now=self.clock.wall())
        if registered:
            log.info("Registered device %s for app %s", self.device.device_id, self.device.app_id)
        self._privacy_key = self._privacy_secret()
        return self

    def close(self):
        if self._scheduler is not None:
            self._scheduler.stop()
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

    @property
    def scheduler(self):
        """The running Scheduler, or None before start() and after stop()."""
        return self._scheduler

    # capture

    def capture_monitor(self, monitor):
        """Capture one monitor and queue an event when its value changed; return the sample."""
        sample = capture(self.source, monitor.attribute, self.clock.wall())
        self.monitor_status.record(self.device.device_id, monitor, sample)
        self._record(monitor, sample)
        return sample

    def capture_one_time(self, monitor):
        """Capture a one-time monitor; a source that is not ready yet is retried with backoff.

        Only a final result (a value, not supported, access denied) is
        recorded and marks the monitor done. A sample that is unavailable
        for now is neither sent nor kept as the last value, so the profile
        never shows a one-time attribute as empty for good.
        """
        sample = capture(self.source, monitor.attribute, self.clock.wall())
        self.monitor_status.record(self.device.device_id, monitor, sample)
        if sample.status in FINAL_STATUSES:
            self._record(monitor, sample)
            self._mark_one_time_done(monitor.attribute)
            failures = self._one_time_failures.pop(monitor.attribute, 0)
            if failures:
                log.info("One-time capture of %s on device %s succeeded after %d failed attempts", monitor.attribute, self.device.device_id, failures)
            if self._scheduler is not None:
                self._scheduler.remove(monitor.attribute)
            return sample
        failures = self._one_time_failures.get(monitor.attribute, 0) + 1
        self._one_time_failures[monitor.attribute] = failures
        delay = retry_delay(failures)
        # Warn once; a source that takes long to come up is normal on some devices.
        level = logging.WARNING if failures == 1 else logging.DEBUG
        log.log(
            level,
            "One-time capture of %s on device %s found no value (%s: %s); retrying in %gs, backing off to every %gs",
            monitor.attribute, self.device.device_id, sample.status.value, sample.reason, delay, retry_delay(len(ONE_TIME_RETRY_DELAYS)),
        )
        if self._scheduler is not None:
            self._scheduler.run_in(monitor.attribute, delay)
        return sample

    def _record(self, monitor, sample):
        shared = apply_privacy(sample, monitor.privacy, self._privacy_key)
        if shared is None:
            return []
        events = self.tracker.record(self.device.device_id, monitor.kind.value, [shared])
        if events and monitor.attribute == "timezone":
            # libc reads the local zone once; log lines must use the new one.
            time.tzset()
        if self.outbox.depth() >= self.sender.batch_size:
            self._sender_wakeup.set()
        return events

    def one_time_done(self, attribute):
        rows = self.db.query("SELECT 1 FROM one_time_done WHERE device_id = ? AND attribute = ?", (self.device.device_id, attribute))
        return bool(rows)

    def _mark_one_time_done(self, attribute):
        with self.db.transaction() as connection:
            connection.execute("INSERT OR IGNORE INTO one_time_done (device_id, attribute) VALUES (?, ?)", (self.device.device_id, attribute))

    def send_heartbeat_if_due(self):
        """Queue the heartbeat when its period has passed; return the seconds until the next check."""
        now = self.clock.wall()
        wait = heartbeat_wait(self._last_full_profile(), now, self.config.heartbeat)
        if wait > 0:
            return wait
        # A monitor that was disabled or switched to privacy omit keeps its
        # last value in the database, and that value must not leave the device again.
        shared = {monitor.attribute for monitor in self.config.monitors if monitor.privacy != "omit"}
        events = self.tracker.heartbeat(self.device.device_id, now, shared)
        log.info("Queued the heartbeat of device %s: %d attributes in %d events", self.device.device_id, sum(len(event["attributes"]) for event in events), len(events))
        self._sender_wakeup.set()
        return self.config.heartbeat

    def _last_full_profile(self):
        # Registration clears the last values, so the captures after it send
        # the full profile: that counts as a heartbeat.
        registered_at = datetime.fromisoformat(self.device.registered_at)
        last_heartbeat = self.tracker.last_heartbeat(self.device.device_id)
        if last_heartbeat is None or (registered_at > last_heartbeat and registered_at <= self.clock.wall()):
            return registered_at
        return last_heartbeat

    def _heartbeat_job(self):
        wait = self.send_heartbeat_if_due()
        self._scheduler.run_in(HEARTBEAT_JOB, wait)

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

    def start(self, executor=None):
        """Start the scheduler, the watchers and the sender thread; return at once.

        executor runs the captures; the default is a small thread pool.
        """
        self._scheduler = Scheduler(self.clock, executor)
        self._scheduler.on_notify = self._on_watch_notification
        self._open_watchers()
        self._schedule_monitors()
        self._scheduler.add(HEARTBEAT_JOB, self._heartbeat_job)
        if self._run_threads:
            self._scheduler.start()
            self._sender_thread = threading.Thread(target=self._send_loop, name="sender", daemon=True)
            self._sender_thread.start()

    def _open_watchers(self):
        attributes = _event_attributes(self.config.monitors)
        watchers, polled = open_watchers(self.source, attributes)
        for watcher in watchers:
            self._scheduler.add_watcher(watcher, self._on_watcher_failed)
            log.info("Watching %s with %s", ", ".join(sorted(watcher.attributes)), watcher.name)
        self._watched = set(attributes) - polled

    def _schedule_monitors(self, keep=()):
        """Add a job per monitor; monitors in keep are already scheduled and stay as they are."""
        for monitor in self.config.monitors:
            if monitor in keep:
                continue
            if monitor.kind is Kind.ONE_TIME:
                if not self.one_time_done(monitor.attribute):
                    self._scheduler.add(monitor.attribute, functools.partial(self.capture_one_time, monitor))
                continue
            if monitor.kind is Kind.EVENT:
                schedule = Schedule(monitor, period=poll_period(monitor, monitor.attribute in self._watched))
            else:
                schedule = Schedule(monitor)
            self._scheduler.add(monitor.attribute, functools.partial(self.capture_monitor, monitor), schedule)

    def _on_watch_notification(self, attributes):
        for attribute in attributes:
            monitor = self.config.monitor(attribute)
            if monitor is not None and monitor.kind is Kind.EVENT:
                self._scheduler.run_in(attribute, DEBOUNCE_SECONDS)

    def _on_watcher_failed(self, watcher, error):
        log.error("The %s watch for %s failed (%s); polling them at their poll_interval from now on", watcher.name, ", ".join(sorted(watcher.attributes)), error)
        self._watched -= watcher.attributes
        for attribute in watcher.attributes:
            monitor = self.config.monitor(attribute)
            if monitor is not None and monitor.kind is Kind.EVENT:
                self._scheduler.add(attribute, functools.partial(self.capture_monitor, monitor), Schedule(monitor))

    def reload(self, config):
        """Apply a new, already validated config without a restart.

        Monitors are added, removed and rescheduled; unchanged ones keep
        their schedule. One-time monitors already captured are not
        captured again unless the device registered again: its identity
        changed in the config, or `device-agent register --force` ran.
        """
        identity_changed = config.device != self.config.device
        old_monitors = set(self.config.monitors)
        previous = self.device
        # Register first: if that fails (a locked database), the running config stays whole.
        self.device, registered = register(self.db, config.device, self.source, now=self.clock.wall())
        self.config = config
        if registered:
            log.info("Device identity changed; registered device %s again", self.device.device_id)
        registered = registered or self.device.registered_at != previous.registered_at
        if registered and not identity_changed:
            log.info("Device %s was registered again; capturing every monitor again", self.device.device_id)
        if self._scheduler is not None:
            self._reschedule(old_monitors, registered)
            # The heartbeat job waits for the old period; run it now so it waits for the new one.
            self._scheduler.run_in(HEARTBEAT_JOB, 0)
        log.info("Reloaded %s: %d monitors", config.path, len(config.monitors))

    def _reschedule(self, old_monitors, registered):
        was_watched = set(self._watched)
        if _event_attributes(old_monitors) != _event_attributes(self.config.monitors):
            self._scheduler.remove_watchers()
            self._open_watchers()
        if registered:
            self._one_time_failures.clear()
        keep = set()
        if not registered:
            # An event monitor that gained or lost its native watch changes its poll period.
            keep = {
                monitor
                for monitor in old_monitors & set(self.config.monitors)
                if monitor.kind is not Kind.EVENT or (monitor.attribute in was_watched) == (monitor.attribute in self._watched)
            }
        kept_attributes = {monitor.attribute for monitor in keep}
        for key in list(self._scheduler.jobs):
            if key != HEARTBEAT_JOB and key not in kept_attributes:
                self._scheduler.remove(key)
        self._schedule_monitors(keep)

    def _send_loop(self):
        self.sender.run(self._stop, self._sender_wakeup, lambda: self.config.store.flush_interval)

    def stop(self, flush_timeout=10.0):
        """Stop capturing, then flush the outbox for up to flush_timeout seconds."""
        self._stop.set()
        self._sender_wakeup.set()
        if self._scheduler is not None:
            self._scheduler.stop()
            self._scheduler = None
        deadline = time.monotonic() + flush_timeout
        if self._sender_thread is not None:
            # A request in flight to a hung store may outlast the flush timeout; the thread is a daemon.
            self._sender_thread.join(flush_timeout)
        delivered = self.sender.drain(deadline=deadline)
        if not delivered:
            log.warning("Stopping with %d events not yet delivered; they stay in the outbox for the next start", self.outbox.depth())
        return delivered

    def wait(self, timeout=None):
        return self._stop.wait(timeout)

    def request_stop(self):
        self._stop.set()


def _event_attributes(monitors):
    return {monitor.attribute for monitor in monitors if monitor.kind is Kind.EVENT}
