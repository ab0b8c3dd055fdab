"""Profile update events in the store's wire format."""

import uuid

EVENT_REGISTRATION = "registration"
EVENT_UPDATE = "update"
# The kind of an update that repeats unchanged values so the store keeps the profile.
KIND_HEARTBEAT = "heartbeat"


def update_event(device_id, sequence, kind, sample):
    return {
        "event_id": uuid.uuid4().hex,
        "device_id": device_id,
        "sequence": sequence,
        "type": EVENT_UPDATE,
        "kind": kind,
        "captured_at": sample.captured_at.isoformat(),
        "attributes": {sample.attribute: sample.payload()},
    }


def heartbeat_event(device_id, sequence, payloads, captured_at):
    """Return an update of kind heartbeat carrying payloads, a dict of attribute to last payload."""
    return {
        "event_id": uuid.uuid4().hex,
        "device_id": device_id,
        "sequence": sequence,
        "type": EVENT_UPDATE,
        "kind": KIND_HEARTBEAT,
        "captured_at": captured_at.isoformat(),
        "attributes": payloads,
    }


def registration_event(device, sequence, captured_at):
    return {
        "event_id": uuid.uuid4().hex,
        "device_id": device.device_id,
        "sequence": sequence,
        "type": EVENT_REGISTRATION,
        "kind": None,
        "captured_at": captured_at.isoformat(),
        "attributes": {},
        "profile": {
            "userId": device.user_id,
            "customerId": device.customer_id,
            "os": device.os,
            "platform": device.platform,
            "sdkVersion": device.sdk_version,
            "createdOn": device.registered_at,
        },
    }
