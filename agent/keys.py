"""The profile key: where the agent finds it, and the embedded store's generated one.

The key never travels in argv and is never logged.
"""

import logging
import os
import secrets
import time
from pathlib import Path

from agent.errors import AgentError

log = logging.getLogger("agent.keys")

CREDENTIAL_NAME = "profile-key"
EMBEDDED_KEY_NAME = "store.key"


class ProfileKeyError(AgentError):
    pass


def profile_key(store_config, environ=None):
    """Return the key from the key file, the environment variable or the systemd credential, or None."""
    environ = os.environ if environ is None else environ
    if store_config.key_file:
        return _read_key(Path(store_config.key_file).expanduser())
    if environ.get(store_config.key_env, "").strip():
        return _checked(environ[store_config.key_env].strip(), f"the {store_config.key_env} environment variable")
    credentials = environ.get("CREDENTIALS_DIRECTORY")
    credential = Path(credentials) / CREDENTIAL_NAME if credentials else None
    if credential is not None and credential.exists() and not _blank(credential):
        return _read_key(credential)
    return None


def _blank(path):
    # A blank credential means no key: the unit's SetCredential= fallback, a single newline, when the key file is absent.
    try:
        return not path.read_bytes().strip()
    except OSError:
        return False  # _read_key reports the error


def embedded_store_key(state_dir):
    """Return the embedded store's key, generating it with mode 0600 on first use."""
    path = Path(state_dir) / EMBEDDED_KEY_NAME
    if not path.exists():
        _generate_key(path)
    try:
        return _read_key(path)
    except ProfileKeyError as error:
        if not path.is_file() or not os.access(path, os.R_OK):
            raise
        # Only the agent and its own embedded store use this key, so a new one costs nothing.
        target = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
        os.replace(path, target)
        log.error("The embedded store's key file is unusable (%s); moved it to %s and generated a new key", error, target)
        _generate_key(path)
        return _read_key(path)


def _generate_key(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as stream:
        stream.write(secrets.token_urlsafe(32) + "\n")
        stream.flush()
        os.fsync(stream.fileno())


def _read_key(path):
    try:
        key = path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ProfileKeyError(f"cannot read the profile key from {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise ProfileKeyError(f"the profile key file {path} is not UTF-8 text; write the key into it") from None
    if not key:
        raise ProfileKeyError(f"the profile key file {path} is empty; write the key into it")
    return _checked(key, f"the file {path}")


def _checked(key, origin):
    """Return key if an HTTP header can carry it; the error names where it came from, never the key."""
    if not key.isascii() or not key.isprintable():
        raise ProfileKeyError(
            f"the profile key in {origin} contains control or non-ASCII characters, "
            "which a header cannot carry; write the key on one line without them"
        )
    return key
