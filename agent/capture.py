"""Capture: turn one monitor's collector call into a sample, whatever happens.

A collector that raises costs its own sample and nothing else. A
CollectorError becomes a sample with its status (unsupported,
unavailable, denied) and reason. Any other exception is a bug in the
collector and becomes an error sample, logged with the attribute name.
"""

import hashlib
import hmac
import json
import logging
from datetime import datetime, timezone

from agent.errors import CollectorError
from agent.samples import Sample, Status

log = logging.getLogger("agent.capture")


def capture(source, attribute, now=None):
    captured_at = now or datetime.now(timezone.utc)
    try:
        value = source.collect(attribute)
    except CollectorError as error:
        return Sample(attribute, Status(error.status), None, error.reason, captured_at)
    except Exception as error:  # noqa: BLE001 - one broken collector must not stop the others
        log.error("Collector for %s failed: %s: %s", attribute, type(error).__name__, error, exc_info=log.isEnabledFor(logging.DEBUG))
        return Sample(attribute, Status.ERROR, None, f"collector failed: {type(error).__name__}: {error}", captured_at)
    return Sample(attribute, Status.OK, value, None, captured_at)


def apply_privacy(sample, privacy, key):
    """Return the sample as the monitor's privacy option allows it to leave the device, or None to omit it."""
    if privacy == "omit":
        return None
    if privacy == "hash" and sample.ok:
        encoded = json.dumps(sample.value, sort_keys=True, separators=(",", ":")).encode()
        digest = hmac.new(key, encoded, hashlib.sha256).hexdigest()
        return Sample(sample.attribute, sample.status, f"hmac-sha256:{digest}", sample.reason, sample.captured_at)
    return sample
