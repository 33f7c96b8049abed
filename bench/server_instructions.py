"""Instructions per request of the hello route against a bare aiohttp handler (callgrind).

    python bench/server_instructions.py        # ~3 min; needs valgrind (Debian package)

CPU time per request moves by tens of percent on a shared machine; instruction counts do
not. Each side runs the whole aiohttp server path in one process (raw HTTP request bytes
into aiohttp's protocol object, response bytes out of a transport that keeps them), under
``valgrind --tool=callgrind``, twice: with ``--few`` and with ``--many`` requests. The
difference divided by the difference in requests is the cost of one request, free of
start-up (imports, app building). ``PYTHONHASHSEED=0`` keeps runs repeatable.

Both sides serve ``GET /api/v1/awel/trigger/examples/hello?name=x``: awel as ``awel serve``
builds it (metrics on, every shipped flow mounted, no models), bare as one handler answering
the same JSON string. What it leaves out: the socket system calls (the same on both sides) and the
cache and branch effects that make more instructions cost a little more than their share.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REQUEST = (
    b"GET /api/v1/awel/trigger/examples/hello?name=x HTTP/1.1\r\n"
    b"Host: 127.0.0.1\r\nUser-Agent: bench\r\n\r\n"
)
ANSWER = b'"Hello, x, your age is 18"'


class _Transport(asyncio.Transport):
    """Keeps what aiohttp writes; wakes the driver when a response has been written."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.done: asyncio.Future[None] | None = None

    def write(self, data: Any) -> None:
        self.written.append(bytes(data))
        if self.done is not None and not self.done.done():
            self.done.set_result(None)

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 1), "sockname": ("127.0.0.1", 2)}.get(name, default)

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def _bare_app() -> Any:
    from aiohttp import web

    async def hello(request: web.Request) -> web.Response:
        name = request.query["name"]
        age = int(request.query.get("age", "18"))
        body = json.dumps(f"Hello, {name}, your age is {age}").encode()
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/api/v1/awel/trigger/examples/hello", hello)
    return app


def _awel_app() -> Any:
    sys.path.insert(0, str(ROOT))
    from server.app import make_app
    from server.settings import Settings

    data = Path(tempfile.mkdtemp(prefix="awel-instr-"))
    # The app `awel serve` builds: every shipped webserver flow (models are not loaded).
    return make_app(Settings(data_dir=data, reload=False))


async def _serve(kind: str, requests: int) -> None:
    from aiohttp import web

    app = _bare_app() if kind == "bare" else _awel_app()
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    server = runner.server
    assert server is not None
    protocol = server()
    transport = _Transport()
    protocol.connection_made(transport)
    loop = asyncio.get_running_loop()
    for _ in range(requests):
        transport.written.clear()
        transport.done = loop.create_future()
        protocol.data_received(REQUEST)
        await transport.done
        await asyncio.sleep(0)
    if not b"".join(transport.written).endswith(ANSWER):
        raise SystemExit(f"{kind}: unexpected answer {transport.written!r}")
    await runner.cleanup()


def _instructions(kind: str, requests: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={tmp}/out",
                sys.executable,
                __file__,
                "--serve",
                kind,
                "--requests",
                str(requests),
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
            cwd=ROOT,
            check=True,
        )
    m = re.search(r"Collected : (\d+)", out.stderr)
    if m is None:
        raise SystemExit(f"no count from callgrind:\n{out.stderr[-2000:]}")
    return int(m.group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--few", type=int, default=500)
    ap.add_argument("--many", type=int, default=2500)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--serve", choices=["awel", "bare"], help=argparse.SUPPRESS)
    ap.add_argument("--requests", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        asyncio.run(_serve(args.serve, args.requests))
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("needs valgrind (apt-get install valgrind)")
    per: dict[str, float] = {}
    for kind in ("bare", "awel"):
        few, many = _instructions(kind, args.few), _instructions(kind, args.many)
        per[kind] = (many - few) / (args.many - args.few)
    ratio = per["awel"] / per["bare"]
    if args.json:
        print(json.dumps({"instructions_per_request": per, "ratio": ratio}))
        return
    print(f"callgrind, {args.few} and {args.many} requests; ratio = awel / bare")
    print(f"{'measure':40} {'awel':>10} {'bare':>10} {'ratio':>7}")
    print(
        f"{'instructions per hello request':40} {per['awel']:10.0f} {per['bare']:10.0f}"
        f" {ratio:7.3f}"
    )


if __name__ == "__main__":
    main()
