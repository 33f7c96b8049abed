"""`awel serve` as a user runs it: a real process, settings from flags, a file and the
environment, and a graceful stop."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import pytest

from server.settings import Settings

SLOW_FLOW = """
import anyio
from awel import DAG, MapOperator
from awel.trigger import HttpTrigger


class Slow(MapOperator[dict, str]):
    async def map(self, body: dict) -> str:
        await anyio.sleep(1.0)
        return "finished"


with DAG("slow") as dag:
    HttpTrigger("/slow", methods="POST", request_body=dict) >> Slow(task_name="slow")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def awel_serve(*args: str, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[str]]:
    awel = Path(sys.executable).parent / "awel"
    proc = subprocess.Popen(
        [str(awel), "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def wait_for(port: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"awel serve exited with {proc.returncode}:\n{out}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("awel serve did not start listening")


async def test_serve_answers_and_finishes_in_flight_requests_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "data"
    (data / "dags").mkdir(parents=True)
    (data / "dags" / "slow.py").write_text(SLOW_FLOW)
    # No model API port: 8100 may be taken by another server on this machine.
    with awel_serve("--port", str(port), "--data-dir", str(data), "--model-api-port", "0") as proc:
        wait_for(port, proc)
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as session:
            async with session.get(base + "/api/v1/awel/trigger/examples/hello?name=Al") as r:
                assert await r.json() == "Hello, Al, your age is 18"
            slow = asyncio.create_task(session.post(base + "/api/v1/awel/trigger/slow", json={}))
            await asyncio.sleep(0.3)  # the request is in flight
            proc.send_signal(signal.SIGTERM)
            resp = await slow
            assert resp.status == 200
            assert await resp.json() == "finished"
        assert proc.wait(15) == 0
        log = proc.stdout.read() if proc.stdout else ""
        assert f"serving on http://127.0.0.1:{port}" in log
        assert "event loop: uvloop" in log  # the default, as the dev install brings it
        assert '"GET /api/v1/awel/trigger/examples/hello?name=Al HTTP/1.1" 200' in log


def test_serve_refuses_to_start_on_a_broken_config(tmp_path: Path) -> None:
    config = tmp_path / "awel.toml"
    config.write_text('port = "not a port"\n')
    with awel_serve("--config", str(config)) as proc:
        assert proc.wait(30) == 2
        out = proc.stdout.read() if proc.stdout else ""
        assert "bad settings" in out and "port" in out


def test_settings_precedence_flags_then_environment_then_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "awel.toml"
    config.write_text('port = 7000\nhost = "0.0.0.0"\nkeepalive = 5.0\n')
    monkeypatch.setenv("AWEL_PORT", "7100")
    monkeypatch.setenv("AWEL_KEEPALIVE", "2.5")
    settings = Settings.load(config, keepalive=1.0, host=None)
    assert settings.port == 7100  # environment over file
    assert settings.keepalive == 1.0  # flag over environment
    assert settings.host == "0.0.0.0"  # file over default
    assert Settings.load(None).port == 7100
    monkeypatch.delenv("AWEL_PORT")
    assert Settings.load(None).port == 5670


def test_unknown_settings_are_errors(tmp_path: Path) -> None:
    config = tmp_path / "awel.toml"
    config.write_text("prot = 1\n")
    with pytest.raises(ValueError, match="prot"):
        Settings.load(config)


def test_user_dags_default_under_the_data_dir(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).user_dags == tmp_path / "dags"
    assert Settings(data_dir=tmp_path, dags_dir=tmp_path / "x").user_dags == tmp_path / "x"


def test_the_event_loop_is_uvloop_unless_turned_off() -> None:
    import uvloop

    from server.main import loop_factory

    factory = loop_factory(Settings())
    assert factory is not None
    loop = factory()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()
    assert loop_factory(Settings(uvloop=False)) is None
