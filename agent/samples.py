"""Samples: one reading of one attribute."""

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class Status(str, enum.Enum):
    OK = "ok"
    UNSUPPORTED = "unsupported"
    UNAVAILABLE = "unavailable"
    DENIED = "denied"
    ERROR = "error"


@dataclass(frozen=True)
class Sample:
    """A reading: the value when status is ok, otherwise the reason it has none."""

    attribute: str
    status: Status
    value: Any = None
    reason: str | None = None
    captured_at: datetime | None = None

    @property
    def ok(self):
        return self.status is Status.OK

    def payload(self):
        """Return the part of the sample the change tracker compares and the store keeps."""
        return {"status": self.status.value, "value": self.value, "reason": self.reason}
