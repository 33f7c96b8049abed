"""DB-GPT's flow serve probes, at ``/api/v1/serve/awel`` and ``/api/v2/serve/awel``:
``GET /health`` and ``GET /test_auth``, each ``{"status": "ok"}`` as plain JSON (spec 4.8).
``/health`` stays open when API keys are set (server/auth.py); ``/test_auth`` checks the key,
which is what a client calls it for."""

from __future__ import annotations

from awel import DAG
from awel.trigger import ResponseKind
from flows._route import Api
from operators.userflows.probes import status_ok


def _probes(prefix: str, suffix: str) -> tuple[DAG, DAG]:
    api = Api(prefix=prefix, tags=["AWEL flows"], response=ResponseKind.JSON, dag_id_suffix=suffix)
    health = api.flow(
        dag_id="serve_awel_health",
        path="/health",
        method="GET",
        body=None,
        action=status_ok,
        summary="The flow service answers",
    )
    auth = api.flow(
        dag_id="serve_awel_test_auth",
        path="/test_auth",
        method="GET",
        body=None,
        action=status_ok,
        summary="The API key sent is accepted",
    )
    return health, auth


health, test_auth = _probes("/api/v1/serve/awel", "")
health_v2, test_auth_v2 = _probes("/api/v2/serve/awel", "_v2")
