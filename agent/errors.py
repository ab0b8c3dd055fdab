"""The agent's error tree.

Operating-system errors are translated into these once, where a collector
reads its source, so the rest of the agent deals with three outcomes only.
"""


class AgentError(Exception):
    """Base of every error the agent reports to a user as one plain line."""


class ConfigError(AgentError):
    """An invalid configuration file; carries every problem found in it."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


class CatalogError(AgentError):
    """An invalid catalog, or a platform or SDK version it does not cover."""


class StoreError(AgentError):
    """The profile store could not be reached or rejected a request."""


class CollectorError(Exception):
    """A collector could not read its attribute; the sample records why."""

    status = "error"

    def __init__(self, reason):
        self.reason = reason
        super().__init__(reason)


class NotSupported(CollectorError):
    """This device has no such attribute (a server has no battery)."""

    status = "unsupported"


class AccessDenied(CollectorError):
    """The agent lacks the permission to read the attribute."""

    status = "denied"


class Unavailable(CollectorError):
    """The attribute exists but cannot be read right now (modem starting)."""

    status = "unavailable"
