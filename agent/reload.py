"""Reload agent.yaml into a running agent when it receives SIGHUP.

A valid file takes effect at once: monitors are added, removed and
rescheduled. An invalid file changes nothing; its problems are logged and
the running config stays. state_dir, the store settings and the log
format are bound when the agent starts, so a change to them waits for a
restart, and a warning is logged.
"""

import dataclasses
import logging

from agent.errors import AgentError, ConfigError

log = logging.getLogger("agent.reload")


def reload_from_file(agent, path, state_dir_override=None):
    """Load path again and apply it to the agent; return True when the new config took effect."""
    from agent.config import load_config

    try:
        config = load_config(path)
    except ConfigError as error:
        for problem in error.problems:
            # Passed as text so that a repeat filter keyed on string arguments keeps each problem apart.
            log.error("Reload rejected: %s", str(problem))
        count = len(error.problems)
        log.error("Kept the running config; fix the %d problem%s in %s and send SIGHUP again", count, "" if count == 1 else "s", path)
        return False
    except AgentError as error:
        log.error("Reload of %s failed: %s; kept the running config", path, error)
        return False

    config = _keep_start_settings(agent.config, config, state_dir_override)
    _apply_log_level(config.logging.level)
    try:
        agent.reload(config)
    except AgentError as error:
        log.error("Applying %s failed: %s", path, error)
        return False
    return True


def _keep_start_settings(running, config, state_dir_override):
    """Return config with the running state_dir, store settings and log format, logging each change that needs a restart."""
    # With --state-dir the running state_dir is the override, and the file's value does not matter.
    if str(state_dir_override or config.state_dir) != str(running.state_dir):
        log.warning("state_dir changed to %s in %s; it takes effect at the next restart", config.state_dir, config.path)
    if config.store != running.store:
        changed = [field.name for field in dataclasses.fields(config.store) if getattr(config.store, field.name) != getattr(running.store, field.name)]
        log.warning("store settings changed (%s) in %s; they take effect at the next restart", ", ".join(changed), config.path)
    if config.logging.format != running.logging.format:
        log.warning("logging.format changed to %s in %s; it takes effect at the next restart", config.logging.format, config.path)
    logging_config = dataclasses.replace(config.logging, format=running.logging.format)
    return dataclasses.replace(config, state_dir=running.state_dir, store=running.store, logging=logging_config)


def _apply_log_level(level):
    logging.getLogger().setLevel(level.upper())
