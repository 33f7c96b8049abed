"""The agent packages' errors a client can cause; each code has a row in server/errors.py."""

from __future__ import annotations

from collections.abc import Iterable

from awel.errors import AwelError, Problem

__all__ = [
    "AgentInvalid",
    "AgentNotInstalled",
    "BadHubSource",
    "HubSyncFailed",
    "PackageRefused",
    "UnknownAgent",
    "UntrustedAgent",
]


class UnknownAgent(AwelError):
    """No agent of that name is in the hub (or installed, where installing needs one)."""

    code = "agent.not_found"

    def __init__(self, name: str, *, param: str = "plugin_name") -> None:
        super().__init__(
            f"no agent named '{name}' in the hub ({param}); list them with"
            " POST /api/v1/agent/query, or sync the hub with POST /api/v1/agent/hub/update",
            param=param,
        )
        self.name = name


class AgentNotInstalled(AwelError):
    """The user has not installed the agent a request names."""

    code = "agent.not_installed"

    def __init__(self, name: str, user: str, *, param: str = "plugin_name") -> None:
        super().__init__(f"the agent '{name}' is not installed for user '{user}'", param=param)
        self.name = name


class PackageRefused(AwelError):
    """A package (folder, zip or upload) that is unsafe or not a package: nothing was written."""

    code = "agent.package_refused"

    def __init__(self, problem: str, *, param: str | None = "doc_file") -> None:
        super().__init__(f"agent package refused: {problem}", param=param)
        self.problem = problem


class AgentInvalid(AwelError):
    """A package whose manifest or flows do not hold, every problem with its file and line."""

    code = "agent.invalid"

    def __init__(self, name: str, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"agent '{name}' is not valid: {len(self.problems)} problem(s)\n{lines}")


class UntrustedAgent(AwelError):
    """A package with Python code from a source the configuration does not trust, and no
    signature by a key it trusts."""

    code = "agent.untrusted"

    def __init__(self, name: str, files: list[str], source: str, why: str) -> None:
        shown = ", ".join(files[:5]) + (" ..." if len(files) > 5 else "")
        super().__init__(
            f"agent '{name}' ships Python code ({shown}), its source '{source}' is not"
            f" trusted and {why}; only YAML-only agents install by default. To allow it, add"
            " the source to the agent_trusted_sources setting (AWEL_AGENT_TRUSTED_SOURCES), or"
            " sign the package (`awel agent sign`) with a key listed in agent_trusted_keys"
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
