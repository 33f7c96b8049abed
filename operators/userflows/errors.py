"""The flow API's errors a client can cause; each code has a row in server/errors.py."""

from __future__ import annotations

from collections.abc import Iterable

from awel.errors import AwelError, Problem

__all__ = [
    "FlowBadState",
    "FlowCodeRefused",
    "FlowInvalid",
    "FlowNameTaken",
    "FlowNodeNotFound",
    "FlowNotEditable",
    "FlowNotFound",
    "FlowRefused",
    "FlowUnmappable",
    "FlowVersionNotFound",
    "FlowsUnavailable",
]


class FlowNotFound(AwelError):
    """No flow has that uid (or it is another user's)."""

    code = "flow.not_found"

    def __init__(self, uid: str, *, param: str = "uid") -> None:
        super().__init__(f"no flow with uid '{uid}'", param=param)


class FlowNodeNotFound(AwelError):
    """No operator of the palette (``GET /nodes``) has that id."""

    code = "flow.node_not_found"

    def __init__(self, node_id: str, flow_type: str) -> None:
        what = "awel has no resources" if flow_type == "resource" else "GET /nodes lists them"
        super().__init__(f"no {flow_type} node with id '{node_id}' ({what})", param="id")


class FlowVersionNotFound(AwelError):
    """The flow has no saved version of that number."""

    code = "flow.version_not_found"

    def __init__(self, uid: str, version: int) -> None:
        super().__init__(
            f"flow '{uid}' has no version {version}; GET /flows/{uid}/versions lists them",
            param="version",
        )


class FlowInvalid(AwelError):
    """A flow that does not load: every problem, each with its line, column and node.

    Nothing was saved, and what the server serves did not change."""

    code = "flow.invalid"

    def __init__(self, problems: Iterable[Problem], *, param: str = "yaml") -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(
            f"the flow is not valid ({len(self.problems)} problem(s)); nothing was saved\n{lines}",
            param=param,
        )


class FlowRefused(AwelError):
    """The server would not serve the flow (a route another flow serves, a path outside
    the trigger prefix): nothing was saved and what is served did not change."""

    code = "flow.refused"

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(
            f"the flow cannot be deployed; nothing was saved and the deployed flows are"
            f" unchanged\n{lines}",
            param="state",
        )


class FlowUnmappable(AwelError):
    """``flow_data`` names a node or link that has no awel counterpart."""

    code = "flow.unmappable"

    def __init__(self, message: str, *, param: str = "flow_data") -> None:
        super().__init__(message, param=param)


class FlowCodeRefused(AwelError):
    """A flow sent through the API that would import Python by path."""

    code = "flow.code_refused"

    def __init__(self, places: list[str]) -> None:
        super().__init__(
            "flows saved through the API may not import Python (an op or fn given as"
            f" 'module:name'): {', '.join(places)}. Put the flow in the flows folder, or set"
            " flow_api_code (AWEL_FLOW_API_CODE=true) to allow it",
            param="yaml",
        )


class FlowNameTaken(AwelError):
    """Another flow has that name (names are file names in the flows folder)."""

    code = "flow.name_taken"

    def __init__(self, name: str) -> None:
        super().__init__(f"another flow is named '{name}'; choose another name", param="name")


class FlowBadState(AwelError):
    """A state the flow cannot move to from the one it is in, or a state only the server
    sets."""

    code = "flow.bad_state"

    def __init__(self, message: str) -> None:
        super().__init__(message, param="state")


class FlowNotEditable(AwelError):
    """The flow was saved with ``editable: false``."""

    code = "flow.not_editable"

    def __init__(self, uid: str) -> None:
        super().__init__(f"flow '{uid}' is not editable", param="uid")


class FlowsUnavailable(AwelError):
    """Deploying needs a server serving the user's flows folder."""

    code = "flow.unavailable"

    def __init__(self) -> None:
        super().__init__("flows cannot be deployed here: no server serves the flows folder")
