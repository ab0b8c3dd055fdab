"""The profile key: where the agent finds it, and the embedded store's generated one.

The key never travels in argv and is never logged.
"""

import os
import secrets
from pathlib import Path

from agent.errors import AgentError

CREDENTIAL_NAME = "profile-key"
EMBEDDED_KEY_NAME = "store.key"


class ProfileKeyError(AgentError):
    pass


def profile_key(store_config, environ=None):
    """Return the key from the key file, the environment variable or the systemd credential, or None."""
    environ = os.environ if environ is None else environ
    if store_config.key_file:
        return _read_key(Path(store_config.key_file).expanduser())
    if environ.get(store_config.key_env):
        return environ[store_config.key_env].strip()
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
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as stream:
            stream.write(secrets.token_urlsafe(32) + "\n")
    return _read_key(path)


def _read_key(path):
    try:
        key = path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ProfileKeyError(f"cannot read the profile key from {path}: {error.strerror}") from None
    if not key:
        raise ProfileKeyError(f"the profile key file {path} is empty; write the key into it")
    return key
