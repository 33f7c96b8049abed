"""Fuzz every operation of both apps' ``/openapi.json`` against the live servers with
schemathesis: whatever a client sends, the answer is never a 5xx, never a traceback, and it
comes in time.

The budget per operation is small for ``make test``; ``make fuzz`` sets ``AWEL_FUZZ_EXAMPLES``
for a longer run. Each app gets a throwaway data folder, so the flows that write (add a
datasource, delete a conversation) are fuzzed too. Models are the fakes of model_api_live,
or the real default models with ``AWEL_FUZZ_REAL_MODELS=1``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from operators.models import install_models
from server.app import make_app
from server.model_api import make_model_app
from server.settings import Settings

from .model_api_live import DATA_DIR, LiveServer, fake_models

#: Examples per operation and mode (positive: valid by the schema; negative: not).
EXAMPLES = int(os.environ.get("AWEL_FUZZ_EXAMPLES", "5"))
REAL_MODELS = os.environ.get("AWEL_FUZZ_REAL_MODELS", "") not in ("", "0")
#: Seconds one request may take before it counts as a hang.
REQUEST_TIMEOUT = float(os.environ.get("AWEL_FUZZ_TIMEOUT", "20"))
#: Words that only a stack trace puts in a body.
TRACE_WORDS = ("Traceback (most recent call last)", 'File "/')


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, LiveServer]]:
    """The webserver and the model API, on loopback ports, over one throwaway folder."""
    data = tmp_path_factory.mktemp("fuzz") / "data"
    opts: dict[str, Any] = {"data_dir": data, "reload": False, "metrics": False}
    if REAL_MODELS:
        # The model API loads the built models when it starts, for both apps.
        data.mkdir()
        (data / "models").symlink_to(DATA_DIR / "models")
    previous = install_models(None if REAL_MODELS else fake_models())
    try:
        with (
            LiveServer(make_model_app(Settings(**opts))) as model,
            LiveServer(make_app(Settings(**opts))) as web,
        ):
            yield {"webserver": web, "model_api": model}
    finally:
        install_models(previous)


def _schema(server: LiveServer) -> Any:
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    schema.config.update(base_url=server.url)
    return schema


def no_traceback(ctx: Any, response: Any, case: Any) -> bool | None:
    """A response body never carries a stack trace (schemathesis' check signature)."""
    text = response.text if isinstance(response.text, str) else ""
    for words in TRACE_WORDS:
        if words in text:
            raise AssertionError(f"the body of {case.method} {case.path} shows a traceback")
    return None


CHECKS = [not_a_server_error, no_traceback]
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


def _fuzz(operation: Any, mode: GenerationMode) -> None:
    # Hypothesis drives the examples; schemathesis' pytest plugin is not used, so each
    # operation's failure is collected and the others still run.
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        # A smoke test, not a search that must remember: no example database on disk.
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    def run(case: Any) -> None:
        case.call_and_validate(checks=CHECKS, timeout=REQUEST_TIMEOUT)

    run()


# About 20 s for both apps at the default budget on two cores; make fuzz runs far longer.
@pytest.mark.timeout(300 if EXAMPLES <= 10 else 7200)
@pytest.mark.parametrize("app", ["webserver", "model_api"])
def test_no_operation_fails_on_any_input(live: dict[str, LiveServer], app: str) -> None:
    schema = _schema(live[app])
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in MODES:
            try:
                _fuzz(operation, mode)
            except Unsatisfiable:
                # Nothing to get wrong: no parameters and no body (GET /health).
                continue
            except (Exception, BaseExceptionGroup) as exc:  # schemathesis groups its failures
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert operations > (40 if app == "webserver" else 4)
    assert failures == [], "\n\n".join(failures)
