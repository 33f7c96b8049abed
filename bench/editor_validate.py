"""How long from a keystroke to the validation markers in the flow editor, on a 50-node flow.

Two measurements, against the real app started in this process on 127.0.0.1:

- ``round trip``: ``POST /api/v1/serve/awel/flow/validate`` with the 50-node YAML, timed
  from the request to the parsed answer with aiohttp's client (what the page waits for
  after its debounce).
- ``keystroke -> markers`` (with ``--browser``, needs Debian's chromium and Playwright): a
  key typed into the editor that breaks an operator's name, timed in the page from the
  keydown to the lint marker on that line, debounce included (the page waits
  ``DEBOUNCE_MS`` after the last key before it asks).

    .venv/bin/python bench/editor_validate.py              # round trip only
    .venv/bin/python bench/editor_validate.py --browser    # and keystroke -> markers

Prints the median and 90th percentile of each, in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, bench/ comes first on the path, and bench/server.py would hide the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from aiohttp.test_utils import TestServer  # noqa: E402

from server.app import make_app  # noqa: E402
from server.settings import Settings  # noqa: E402

CHROMIUM = "/usr/bin/chromium"


def flow_yaml(nodes: int = 50) -> str:
    """A flow of ``nodes`` nodes: a trigger, then a chain of formats, maps and a split/reduce."""
    lines = ["name: bench.editor", "description: fifty nodes", "trigger: {}", "nodes:"]
    names = []
    for i in range(nodes - 1):
        name = f"n{i:02d}"
        names.append(name)
        if i % 2:
            lines.append(f"  {name}:\n    op: awel.map\n    params: {{expr: \"x ~ '{i}'\"}}")
        else:
            lines.append(
                f"  {name}:\n    op: awel.format\n    params:\n      template: 'v{{{{ x }}}}'"
            )
    lines.append("edges:")
    lines.append("  - trigger >> " + " >> ".join(names))
    return "\n".join(lines) + "\n"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def round_trips(base: str, text: str, n: int) -> list[float]:
    url = base + "/api/v1/serve/awel/flow/validate"
    times: list[float] = []
    async with aiohttp.ClientSession() as session:
        for i in range(n + 5):
            started = time.perf_counter()
            async with session.post(url, json={"yaml": text}) as resp:
                body = await resp.json()
            elapsed = (time.perf_counter() - started) * 1000
            assert body["data"]["ok"], body["data"]["problems"][:3]
            if i >= 5:  # warm-up
                times.append(elapsed)
    return times


async def keystrokes(base: str, text: str, n: int) -> list[float]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = await browser.new_page(viewport={"width": 1400, "height": 900})
        await page.goto(base + "/flows")
        await page.wait_for_function("() => window.awelEditor && window.awelEditor.view")
        await page.evaluate(
            """(text) => { const v = window.awelEditor.view;
            v.dispatch({changes: {from: 0, to: v.state.doc.length, insert: text}}); }""",
            text,
        )
        await page.wait_for_selector("#check[data-ok='true']")
        times: list[float] = []
        for i in range(n + 2):
            # Put the cursor after "awel.map" of node n01, type one key (breaks it or mends it).
            breaking = i % 2 == 0
            await page.evaluate(
                """(breaking) => { const v = window.awelEditor.view;
                const doc = v.state.doc.toString();
                const at = doc.indexOf('op: awel.map') + 'op: awel.map'.length;
                v.dispatch({selection: breaking ? {anchor: at} : {anchor: at, head: at + 1}});
                v.focus();
                window.__typed = 0;
                document.addEventListener('keydown',
                  () => { window.__typed = performance.now(); }, {once: true, capture: true}); }""",
                breaking,
            )
            want = "false" if breaking else "true"
            await page.keyboard.type("p" if breaking else "")
            if not breaking:
                await page.keyboard.press("Backspace")
            await page.wait_for_selector(f"#check[data-ok='{want}']")
            # The page notes when it set the markers (the same task that shows the check).
            took = await page.evaluate("() => window.awelEditor.validatedAt - window.__typed")
            if i >= 2:
                times.append(float(took))
        await browser.close()
    return times


def show(label: str, times: list[float]) -> dict[str, Any]:
    row = {
        "what": label,
        "n": len(times),
        "median_ms": round(statistics.median(times), 2),
        "p90_ms": round(percentile(times, 0.9), 2),
    }
    median, p90 = row["median_ms"], row["p90_ms"]
    print(f"{label:<28} n={row['n']:<4} median {median:7.2f} ms   p90 {p90:7.2f} ms")
    return row


async def main(args: argparse.Namespace) -> None:
    text = flow_yaml(args.nodes)
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(Settings(data_dir=Path(tmp), reload=False))
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        try:
            base = str(server.make_url("")).rstrip("/")
            print(f"{args.nodes}-node flow, {len(text)} bytes of YAML")
            show("validate round trip", await round_trips(base, text, args.rounds))
            if args.browser:
                show("keystroke -> markers", await keystrokes(base, text, args.keys))
        finally:
            await server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=50, help="validate round trips timed")
    parser.add_argument("--keys", type=int, default=20, help="keystrokes timed (--browser)")
    parser.add_argument("--browser", action="store_true", help="also time keystroke -> markers")
    asyncio.run(main(parser.parse_args()))
