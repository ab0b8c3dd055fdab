"""Fetch and print this device's app profile as the profile store returns it."""

from pathlib import Path

import httpx

from agent.errors import AgentError, StoreError
from agent.keys import profile_key
from agent.registration import current_device_id
from agent.statedb import STATE_DB_NAME, StateDB


def fetch_profile(config):
    state_db = Path(config.state_dir) / STATE_DB_NAME
    if not state_db.exists():
        raise AgentError(f"no agent state in {config.state_dir}; run 'device-agent run --once' first")
    db = StateDB(state_db)
    try:
        device_id = current_device_id(db) if config.device.device_id is None else config.device.device_id
    finally:
        db.close()
    if device_id is None:
        raise AgentError(f"the device is not registered yet in {config.state_dir}; run 'device-agent run --once' first")

    server = None
    if config.store.url is None:
        from agent.embedded import start_embedded_store

        server, key = start_embedded_store(config.state_dir)
        url = server.url
    else:
        url, key = config.store.url, profile_key(config.store)
    try:
        return _get(url, key, config.device.app_id, device_id, config.store)
    finally:
        if server is not None:
            server.shutdown()


def _get(url, key, app_id, device_id, store_config):
    endpoint = f"{url.rstrip('/')}/resources/v2/customerappprofile/{app_id}/profiles/{device_id}"
    try:
        response = httpx.get(
            endpoint,
            headers={"key": key} if key else {},
            timeout=httpx.Timeout(store_config.read_timeout, connect=store_config.connect_timeout),
            verify=store_config.ca_bundle or True,
        )
    except httpx.HTTPError as error:
        raise StoreError(f"cannot reach the profile store at {url}: {error}") from None
    if response.status_code == 404:
        raise StoreError(f"the profile store has no app profile for device {device_id} yet; the agent delivers it on its next run")
    if response.status_code != 200:
        raise StoreError(f"profile store returned HTTP {response.status_code} for device {device_id}: {response.text[:200]}")
    return response.json()


def format_profile(profile):
    lines = [
        f"app profile of device {profile['deviceId']} (app {profile['appId']})",
        f"  userId     {profile.get('userId')}",
        f"  customerId {profile.get('customerId')}",
        f"  os         {profile.get('os')}",
        f"  createdOn  {profile.get('createdOn')}",
        "",
        f"  {'attribute':<18} {'value':<40} {'status':<12} updated",
    ]
    for name, entry in sorted(profile.get("attributes", {}).items()):
        value = entry.get("value") if entry.get("status") == "ok" else f"({entry.get('reason')})"
        lines.append(f"  {name:<18} {_short(value):<40} {entry.get('status'):<12} {entry.get('updatedOn')}")
    return "\n".join(lines)


def _short(value, width=40):
    text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"
