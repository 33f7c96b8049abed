"""DB-GPT's flow serve module's probes: ``GET /health`` (open, even with API keys set) and
``GET /test_auth`` (which needs a key once keys are set: a client calls it to check its
key). Both answer ``{"status": "ok"}`` as they are, outside any envelope."""

from __future__ import annotations

__all__ = ["status_ok"]


def status_ok(_: None) -> dict[str, str]:
    """``{"status": "ok"}``: the server answers (and, for ``/test_auth``, the key holds)."""
    return {"status": "ok"}
