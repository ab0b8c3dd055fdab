"""Verification: does the profile store hold each simulated device's final state?"""

import httpx

from agent.errors import StoreError

PAGE_SIZE = 1000
# The summary lists this many mismatches; the count covers all of them.
MAX_LISTED = 20


def fetch_profiles(store_url, key, app_id, timeout=30.0):
    """Yield every app profile of the app from the store's list API, page by page."""
    endpoint = f"{store_url.rstrip('/')}/resources/v2/customerappprofile/{app_id}/profiles"
    headers = {"key": key} if key else {}
    after = None
    with httpx.Client(timeout=timeout, headers=headers) as client:
        while True:
            parameters = {"limit": PAGE_SIZE}
            if after is not None:
                parameters["after"] = after
            try:
                response = client.get(endpoint, params=parameters)
            except httpx.HTTPError as error:
                raise StoreError(f"cannot list profiles at {endpoint}: {type(error).__name__}: {error}") from None
            if response.status_code != 200:
                raise StoreError(f"listing profiles of app {app_id} failed with HTTP {response.status_code}: {response.text[:200]}")
            page = response.json()
            yield from page["profiles"]
            after = page.get("next")
            if after is None:
                return


def verify_profiles(store_url, key, app_id, expected):
    """Compare the store's profiles with expected {device_id: {attribute: (status, value)}}; return a report dict."""
    seen = set()
    mismatches = []
    for profile in fetch_profiles(store_url, key, app_id):
        device_id = profile["deviceId"]
        if device_id not in expected:
            continue  # another client's device in a shared store
        seen.add(device_id)
        mismatches.extend(compare_profile(device_id, expected[device_id], profile.get("attributes", {})))
    for device_id in sorted(set(expected) - seen):
        mismatches.append({"device_id": device_id, "problem": "the store has no app profile for this device"})
    return {
        "profiles_checked": len(seen),
        "devices_expected": len(expected),
        "mismatches": len(mismatches),
        "examples": mismatches[:MAX_LISTED],
    }


def compare_profile(device_id, expected, stored):
    """Return a mismatch dict for each attribute whose stored status or value differs from the expected one."""
    problems = []
    for name, (status, value) in sorted(expected.items()):
        entry = stored.get(name)
        if entry is None:
            problems.append({"device_id": device_id, "attribute": name, "problem": "missing in the store", "expected": {"status": status, "value": value}})
        elif entry.get("status") != status or entry.get("value") != value:
            problems.append({
                "device_id": device_id, "attribute": name, "problem": "differs",
                "expected": {"status": status, "value": value},
                "stored": {"status": entry.get("status"), "value": entry.get("value")},
            })
    for name in sorted(set(stored) - set(expected)):
        problems.append({"device_id": device_id, "attribute": name, "problem": "in the store but never sent by this device", "stored": stored[name]})
    return problems
