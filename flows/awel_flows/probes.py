"""DB-GPT's flow serve probes, at ``/api/v1/serve/awel`` and ``/api/v2/serve/awel``:
``GET /health`` and ``GET /test_auth``, each ``{"status": "ok"}`` as plain JSON (spec 4.8).
``/health`` stays open when API keys are set (server/auth.py); ``/test_auth`` checks the key,
which is what a client calls it for."""

from __future__ import annotations

from awel.trigger import ResponseKind
from flows.awel_flows._api import serve_awel
from operators.userflows.probes import status_ok

both = serve_awel(tags=["AWEL flows"], response=ResponseKind.JSON)

health, health_v2 = both(
    lambda at: at.flow(
        dag_id="serve_awel_health",
        path="/health",
        method="GET",
        body=None,
        action=status_ok,
        summary="The flow service answers",
    )
)
test_auth, test_auth_v2 = both(
    lambda at: at.flow(
        dag_id="serve_awel_test_auth",
        path="/test_auth",
        method="GET",
        body=None,
        action=status_ok,
        summary="The API key sent is accepted",
    )
)
