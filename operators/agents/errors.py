"""The agent hub's errors a client can cause, each naming what was wrong and the field."""

from __future__ import annotations

from awel.errors import AwelError


class UnknownAgent(AwelError):
    """No hub entry goes by that name."""

    code = "agent.not_found"

    def __init__(self, name: str, *, field: str = "plugin_name") -> None:
        super().__init__(
            f"no agent named '{name}' in the hub ({field}); list them with"
            " POST /api/v1/agent/query, or sync the hub with POST /api/v1/agent/hub/update",
            param=field,
        )
        self.name = name


class BadHubSource(AwelError):
    """A hub source the server will not read: an unknown channel, a missing folder, a URL
    or branch that git would take for an option."""

    code = "agent.hub_source"

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message, param=field)


class HubSyncFailed(AwelError):
    """The hub's repository could not be fetched (git failed, timed out or is missing)."""

    code = "agent.hub_sync_failed"

    def __init__(self, message: str, *, field: str = "url") -> None:
        super().__init__(message, param=field)
