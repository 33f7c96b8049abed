"""Starting cluster processes (``awel start ...``) on loopback for tests and the benchmark."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
#: Where `make test` builds the default models.
DATA_DIR = Path(os.environ.get("AWEL_TEST_DATA_DIR", ROOT / "data"))
AWEL = str(Path(sys.executable).with_name("awel"))
#: Short enough that a dead worker is noticed within a second.
INTERVAL = "0.2"
TIMEOUT = "1.0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def model_built(name: str = "smollm2") -> bool:
    from operators.export.cache import find_model

    return find_model(DATA_DIR, name) is not None


class Proc:
    """One ``awel start`` process and its log."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.args = args
        self.log = log
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        with self.log.open("ab") as out:
            env = {**os.environ, "PYTHONUNBUFFERED": "1"}
            self.popen = subprocess.Popen(
                [AWEL, "start", *self.args], stdout=out, stderr=subprocess.STDOUT, env=env
            )
        return self

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(sig)
            self.popen.wait(10)

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=2) as resp:
        return json.loads(resp.read())


def post_json(url: str, body: Any) -> Any:
    """POST ``body``; the answer's JSON, whatever the status."""
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return json.loads(exc.read())


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds it took until ``check()`` held; AssertionError after ``timeout``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        with contextlib.suppress(OSError, urllib.error.URLError, ValueError):
            if check():
                return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout}s")


def healthy_ports(controller: int, key: str = "smollm2@llm") -> set[int]:
    found = get_json(
        f"http://127.0.0.1:{controller}/api/controller/models?model_name={key}&healthy_only=true"
    )
    return {i["port"] for i in found}


class Cluster:
    """A controller, workers of one model, and an API server, on free loopback ports."""

    def __init__(
        self, tmp: Path, *, workers: int = 2, model: str = "smollm2", webserver: bool = False
    ) -> None:
        self.tmp = tmp
        self.model = model
        self.controller_port = free_port()
        self.api_port = free_port()
        self.worker_ports = [free_port() for _ in range(workers)]
        self.addr = f"http://127.0.0.1:{self.controller_port}"
        self.controller = Proc(
            ["controller", "--port", str(self.controller_port), "--heartbeat-timeout", TIMEOUT],
            tmp / "controller.log",
        )
        self.workers = [self._worker(p, i) for i, p in enumerate(self.worker_ports)]
        self.api = Proc(
            [
                "apiserver",
                "--port",
                str(self.api_port),
                "--controller-addr",
                self.addr,
                "--heartbeat-interval",
                INTERVAL,
                "--data-dir",
                str(tmp / "api"),
            ],
            tmp / "api.log",
        )
        self.web_port = free_port()
        self.web: Proc | None = None
        if webserver:
            self.web = Proc(
                [
                    "webserver",
                    "--port",
                    str(self.web_port),
                    "--controller-addr",
                    self.addr,
                    "--heartbeat-interval",
                    INTERVAL,
                    "--data-dir",
                    str(tmp / "web"),
                ],
                tmp / "web.log",
            )

    def _worker(self, port: int, i: int) -> Proc:
        return Proc(
            [
                "worker",
                "--model",
                self.model,
                "--port",
                str(port),
                "--controller-addr",
                self.addr,
                "--data-dir",
                str(DATA_DIR),
                "--heartbeat-interval",
                INTERVAL,
            ],
            self.tmp / f"worker{i}.log",
        )

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def start(self) -> None:
        self.controller.start()
        wait_until(
            lambda: get_json(self.addr + "/api/health") == {"status": "ok"}, 20, "controller up"
        )
        for w in self.workers:
            w.start()
        self.api.start()
        if self.web is not None:
            self.web.start()
        want = set(self.worker_ports)
        wait_until(lambda: healthy_ports(self.controller_port) == want, 60, "workers registered")
        wait_until(
            lambda: any(
                m["id"] == self.model for m in get_json(self.api_url + "/api/v1/models")["data"]
            ),
            20,
            "API server lists the model",
        )
        if self.web is not None:
            wait_until(
                lambda: get_json(self.web_url + "/api/v1/model/types")["data"] == [self.model],
                20,
                "webserver lists the model",
            )

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def stop(self) -> None:
        for p in (self.api, *self.workers, self.controller):
            p.stop()
        if self.web is not None:
            self.web.stop()


@contextlib.contextmanager
def running_cluster(tmp: Path, *, workers: int = 2, webserver: bool = False) -> Iterator[Cluster]:
    cluster = Cluster(tmp, workers=workers, webserver=webserver)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
