"""What the model cluster refuses, by code; the server decides how each is answered."""

from __future__ import annotations

from awel.errors import AwelError


class BadWorkerType(AwelError):
    """A ``worker_type`` this worker manager does not serve, or not for that model."""

    code = "worker.bad_type"

    def __init__(self, message: str) -> None:
        super().__init__(message, param="worker_type")


class ModelNotRunning(AwelError):
    """The model asked to stop does not run on this worker manager."""

    code = "worker.model_not_running"

    def __init__(self, message: str) -> None:
        super().__init__(message, param="model")


class NoManagerAt(AwelError):
    """No registered worker manager listens at the host and port named."""

    code = "cluster.no_manager"

    def __init__(self, message: str) -> None:
        super().__init__(message, param="host")


class NoEngines(AwelError):
    """This process only routes to remote workers; it cannot start models itself."""

    code = "cluster.no_engines"


class NoWorkerManager(AwelError):
    """A worker route reached a process that runs no worker manager."""

    code = "cluster.no_worker_manager"

    def __init__(self) -> None:
        super().__init__("this process runs no worker manager")


class RemoteRefused(AwelError):
    """A remote worker manager refused a management call.

    ``status`` is the HTTP status it answered (None when it could not be reached): the
    cluster protocol is HTTP, and the client is told what the remote said, as it said it.
    """

    code = "cluster.refused"

    def __init__(self, message: str, *, status: int | None) -> None:
        super().__init__(message)
        self.status = status
