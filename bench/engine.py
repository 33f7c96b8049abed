"""Per-call cost of the awel engine against the same work written as plain async Python.

    .venv/bin/python bench/engine.py            # default run, about a minute on 2 cores
    .venv/bin/python bench/engine.py --quick    # fewer, shorter rounds (under 20 s)
    .venv/bin/python bench/engine.py --json     # machine-readable results on stdout

Every scenario is built twice: as an awel flow and as the plain async Python that does the
same work (the same coroutine functions, awaited in a loop, gathered or nested as async
generators). Both forms run in the same event loop of the same process, interleaved round by
round (the order alternates), after a warm-up. A round times many iterations of one form with
``time.perf_counter``; the reported time is the median per-iteration time over the rounds,
and the ratio is the median of the per-round ratios engine / plain (paired, so a noisy round
slows both sides of its ratio alike).

The scenario builders (``chain``, ``fan_out``, ``stream``, ``concurrent``, ``sleep_branches``,
``diamonds``, ``yaml_shape``) are importable: each returns a :class:`Scenario` whose thunks
return the same result, which ``tests/bench/test_engine_bench.py`` checks with tiny sizes.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import anyio

from awel import (
    DAG,
    BaseOperator,
    InputOperator,
    JoinOperator,
    MapOperator,
    TransformStreamAbsOperator,
)

Thunk = Callable[[], Awaitable[Any]]

# --- the work, as plain coroutines --------------------------------------------------------


async def inc(x: int) -> int:
    return x + 1


async def add(x: int, k: int) -> int:
    return x + k


async def nap(x: int, k: int, delay: float) -> int:
    await anyio.sleep(delay)
    return x + k


async def total(*xs: int) -> int:
    return sum(xs)


async def inc_stream(it: AsyncIterator[int]) -> AsyncIterator[int]:
    async for x in it:
        yield x + 1


async def source(n: int) -> AsyncIterator[int]:
    for i in range(n):
        yield i


# --- the same work, as operators ----------------------------------------------------------


class Inc(MapOperator[int, int]):
    async def map(self, x: int) -> int:
        return x + 1


class Add(MapOperator[int, int]):
    def __init__(self, k: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.k = k

    async def map(self, x: int) -> int:
        return x + self.k


class Nap(MapOperator[int, int]):
    def __init__(self, k: int, delay: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.k = k
        self.delay = delay

    async def map(self, x: int) -> int:
        await anyio.sleep(self.delay)
        return x + self.k


class IncStream(TransformStreamAbsOperator[int, int]):
    async def transform_stream(self, input_stream: AsyncIterator[int]) -> AsyncIterator[int]:
        async for x in input_stream:
            yield x + 1


# --- scenarios ----------------------------------------------------------------------------


@dataclass
class Scenario:
    """One piece of work in two forms: ``plain`` Python and one or more ``engines`` forms.

    Every thunk does one call and returns its result; all of them return the same result.
    """

    key: str
    nodes: int
    plain: Thunk
    engines: dict[str, Thunk]
    #: One-off measurements (seconds) taken while building, such as compile time.
    info: dict[str, float] = field(default_factory=dict)


def _chain_flow(dag_id: str, n: int) -> tuple[BaseOperator, dict[str, float]]:
    """An input node and ``n`` Inc maps in a line; the build, validate and compile times."""
    from awel.runner import plan_for

    t0 = time.perf_counter()
    dag = DAG(dag_id)
    with dag:
        node: BaseOperator = InputOperator.from_callable()
        for _ in range(n):
            node = node >> Inc()
        t1 = time.perf_counter()
    t2 = time.perf_counter()  # leaving the block validated the flow
    plan_for(node, 0)
    t3 = time.perf_counter()
    return node, {"build_s": t1 - t0, "validate_s": t2 - t1, "compile_s": t3 - t2}


def chain(n: int) -> Scenario:
    """``n`` ``x + 1`` map nodes in a line vs ``n`` awaits of ``inc`` in a loop."""
    leaf, info = _chain_flow(f"chain-{n}", n)

    async def engine() -> int:
        return int(await leaf.call(0))

    async def plain() -> int:
        x = 0
        for _ in range(n):
            x = await inc(x)
        return x

    return Scenario(f"chain-{n}", n + 1, plain, {"call": engine}, info)


def fan_out(width: int = 16) -> Scenario:
    """input -> ``width`` parallel maps -> join summing vs ``asyncio.gather`` + the sum."""
    with DAG(f"fan-out-{width}"):
        start = InputOperator.from_callable()
        maps = [Add(k) for k in range(width)]
        join: JoinOperator[int] = JoinOperator(total)
        start >> maps
        maps >> join

    async def engine() -> int:
        return int(await join.call(1))

    async def plain() -> int:
        return await total(*await asyncio.gather(*(add(1, k) for k in range(width))))

    return Scenario(f"fan-out-{width}", width + 2, plain, {"call": engine})


def stream(items: int, transforms: int = 3) -> Scenario:
    """A stream of ``items`` through ``transforms`` stream operators vs nested async gens.

    Two engine forms: ``async for x in leaf.call_stream(src)`` ("iter") and ``async for x
    in await leaf.call_stream(src)`` ("await", the leaf's own iterator).
    """
    with DAG(f"stream-{items}"):
        node: BaseOperator = InputOperator.from_callable()
        for _ in range(transforms):
            node = node >> IncStream()
    leaf = node

    async def engine_iter() -> list[int]:
        out: list[int] = []
        append = out.append
        async for x in leaf.call_stream(source(items)):
            append(x)
        return out

    async def engine_await() -> list[int]:
        out: list[int] = []
        append = out.append
        async for x in await leaf.call_stream(source(items)):
            append(x)
        return out

    async def plain() -> list[int]:
        out: list[int] = []
        append = out.append
        it: AsyncIterator[int] = source(items)
        for _ in range(transforms):
            it = inc_stream(it)
        async for x in it:
            append(x)
        return out

    return Scenario(
        f"stream-{items}",
        transforms + 1,
        plain,
        {"iter": engine_iter, "await": engine_await},
    )


def concurrent(calls: int = 64, nodes: int = 10) -> Scenario:
    """``calls`` concurrent calls of a ``nodes``-map chain vs as many plain chains, gathered."""
    leaf, info = _chain_flow(f"concurrent-{calls}x{nodes}", nodes)

    async def plain_chain(x: int) -> int:
        for _ in range(nodes):
            x = await inc(x)
        return x

    async def engine() -> list[int]:
        return list(await asyncio.gather(*(leaf.call(i) for i in range(calls))))

    async def plain() -> list[int]:
        return list(await asyncio.gather(*(plain_chain(i) for i in range(calls))))

    return Scenario(f"concurrent-{calls}x{nodes}", nodes + 1, plain, {"call": engine}, info)


def sleep_branches(width: int = 16, delay: float = 0.001) -> Scenario:
    """``width`` branches that each sleep ``delay`` then a join vs ``asyncio.gather``."""
    with DAG(f"sleep-{width}"):
        start = InputOperator.from_callable()
        maps = [Nap(k, delay) for k in range(width)]
        join: JoinOperator[int] = JoinOperator(total)
        start >> maps
        maps >> join

    async def engine() -> int:
        return int(await join.call(1))

    async def plain() -> int:
        return await total(*await asyncio.gather(*(nap(1, k, delay) for k in range(width))))

    return Scenario(f"sleep-{width}", width + 2, plain, {"call": engine})


def diamonds(k: int) -> Scenario:
    """``k`` stacked diamonds, each ``a -> [b, c] -> d`` (a join) feeding the next ``a``.

    The plain form awaits ``a``, gathers ``b`` and ``c`` and awaits the join, ``k`` times.
    """
    with DAG(f"diamonds-{k}"):
        node: BaseOperator = InputOperator.from_callable()
        for _ in range(k):
            a = node >> Inc()
            b, c = Add(1), Add(2)
            d: JoinOperator[int] = JoinOperator(total)
            a >> [b, c]
            [b, c] >> d
            node = d
    leaf = node

    async def engine() -> int:
        return int(await leaf.call(0))

    async def plain() -> int:
        x = 0
        for _ in range(k):
            x = await inc(x)
            y, z = await asyncio.gather(add(x, 1), add(x, 2))
            x = await total(y, z)
        return x

    return Scenario(f"diamonds-{k}", 1 + 4 * k, plain, {"call": engine})


#: A 10-node YAML flow of awel.set / awel.pick: an order reshaped into a line of text.
SHAPE_FLOW = """\
name: bench.shape
trigger: {}
nodes:
  order: {op: awel.set, params: {fields: {customer: "user", lines: "items", lang: "meta.lang"}}}
  lines: {op: awel.pick, params: {path: lines}}
  first: {op: awel.pick, params: {path: "0"}}
  line: {op: awel.set, params: {fields: {sku: "sku", qty: "qty", cost: "qty * price"}}}
  cost: {op: awel.pick, params: {path: cost}}
  taxed: {op: awel.set, params: {fields: {net: "x", gross: "x * 1.25"}}}
  gross: {op: awel.pick, params: {path: gross}}
  money: {op: awel.set, params: {fields: {amount: "x * 100 // 1 / 100", currency: "'EUR'"}}}
  answer: {op: awel.set, params: {fields: {text: "'total: ' ~ amount ~ ' ' ~ currency"}}}
  text: {op: awel.pick, params: {path: text}}
edges:
  - trigger >> order >> lines >> first >> line >> cost >> taxed >> gross >> money >> answer
  - answer >> text
"""

SHAPE_INPUT: dict[str, Any] = {
    "user": {"name": "ann", "id": 7},
    "items": [{"sku": "a", "qty": 2, "price": 3.5}, {"sku": "b", "qty": 1, "price": 10}],
    "meta": {"lang": "en"},
}


async def shape_order(d: dict[str, Any]) -> dict[str, Any]:
    return {"customer": d["user"], "lines": d["items"], "lang": d["meta"]["lang"]}


async def shape_lines(d: dict[str, Any]) -> Any:
    return d["lines"]


async def shape_first(xs: list[Any]) -> Any:
    return xs[0]


async def shape_line(d: dict[str, Any]) -> dict[str, Any]:
    return {"sku": d["sku"], "qty": d["qty"], "cost": d["qty"] * d["price"]}


async def shape_cost(d: dict[str, Any]) -> Any:
    return d["cost"]


async def shape_taxed(x: float) -> dict[str, Any]:
    return {"net": x, "gross": x * 1.25}


async def shape_gross(d: dict[str, Any]) -> Any:
    return d["gross"]


async def shape_money(x: float) -> dict[str, Any]:
    return {"amount": x * 100 // 1 / 100, "currency": "EUR"}


async def shape_answer(d: dict[str, Any]) -> dict[str, Any]:
    return {"text": "total: " + str(d["amount"]) + " " + str(d["currency"])}


async def shape_text(d: dict[str, Any]) -> Any:
    return d["text"]


SHAPE_STEPS = (
    shape_order,
    shape_lines,
    shape_first,
    shape_line,
    shape_cost,
    shape_taxed,
    shape_gross,
    shape_money,
    shape_answer,
    shape_text,
)


def yaml_shape() -> Scenario:
    """:data:`SHAPE_FLOW` loaded from YAML vs the same ten steps as plain async functions."""
    from awel.spec import load_flow_text

    t0 = time.perf_counter()
    dag = load_flow_text(SHAPE_FLOW, "bench-shape.yaml")
    load_s = time.perf_counter() - t0
    leaf = dag.output_node

    async def engine() -> Any:
        return await leaf.call(SHAPE_INPUT)

    async def plain() -> Any:
        x: Any = SHAPE_INPUT
        for step in SHAPE_STEPS:
            x = await step(x)
        return x

    return Scenario("yaml-shape-10", 11, plain, {"call": engine}, {"load_s": load_s})


# --- timing -------------------------------------------------------------------------------


async def _batch(fn: Thunk, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        await fn()
    return time.perf_counter() - t0


async def _iterations(fn: Thunk, round_s: float) -> int:
    """How many iterations of ``fn`` take about ``round_s`` (this also warms it up)."""
    n = 1
    while True:
        dt = await _batch(fn, n)
        if dt >= round_s / 4 or n >= 1 << 24:
            return max(1, round(n * round_s / max(dt, 1e-9)))
        n *= 4 if dt < round_s / 64 else 2


async def measure(sides: dict[str, Thunk], rounds: int, round_s: float) -> dict[str, list[float]]:
    """Per-iteration seconds of each side, one value per round; sides interleave per round."""
    counts = {name: await _iterations(fn, round_s) for name, fn in sides.items()}
    times: dict[str, list[float]] = {name: [] for name in sides}
    names = list(sides)
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            gc.collect()
            times[name].append(await _batch(sides[name], counts[name]) / counts[name])
    return times


def _median_ratio(num: list[float], den: list[float]) -> float:
    return statistics.median(a / b for a, b in zip(num, den, strict=True))


@dataclass
class Row:
    """One line of the results: an engine form of a scenario against its plain form."""

    name: str
    engine_s: float
    plain_s: float
    #: engine time / plain time (median of per-round ratios); for "throughput" rows it is
    #: engine calls per second / plain calls per second.
    ratio: float
    target: str
    ok: bool | None
    unit: str = "time"
    spread: float = 0.0
    note: str = ""
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return "info" if self.ok is None else ("PASS" if self.ok else "MISS")


def _fmt_s(s: float) -> str:
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    if s >= 1e-6:
        return f"{s * 1e6:.2f} us"
    return f"{s * 1e9:.0f} ns"


def _check(ratio: float, target: str) -> bool | None:
    if target.startswith("<="):
        return ratio <= float(target[2:].strip().rstrip("x"))
    if target.startswith(">="):
        return ratio >= float(target[2:].strip().rstrip("x"))
    return None


def _spread(num: list[float], den: list[float]) -> float:
    """Half the range of the per-round ratios, relative to their median (the noise)."""
    ratios = sorted(a / b for a, b in zip(num, den, strict=True))
    mid = statistics.median(ratios)
    return (ratios[-1] - ratios[0]) / 2 / mid if mid else 0.0


class Bench:
    def __init__(self, rounds: int, round_s: float, only: str | None, log: Any) -> None:
        self.rounds = rounds
        self.round_s = round_s
        self.only = only
        self.log = log
        self.rows: list[Row] = []
        self.times: dict[str, dict[str, list[float]]] = {}

    def wanted(self, key: str) -> bool:
        return self.only is None or self.only in key

    async def run(
        self, s: Scenario, targets: dict[str, str], unit: str = "time", calls: int = 1
    ) -> list[Row]:
        """Measure every form of ``s``; add a row per engine form (``targets`` by form)."""
        sides = {f"engine:{k}": fn for k, fn in s.engines.items()}
        sides["plain"] = s.plain
        # Warm up, and make sure the forms agree before timing them.
        expected = await s.plain()
        for form, fn in s.engines.items():
            got = await fn()
            if got != expected:
                raise AssertionError(f"{s.key} ({form}) returned {got!r}, plain {expected!r}")
        times = await measure(sides, self.rounds, self.round_s)
        self.times[s.key] = times
        plain = times["plain"]
        rows = []
        for form in s.engines:
            eng = times[f"engine:{form}"]
            target = targets.get(form, "info")
            if unit == "throughput":
                ratio = _median_ratio(plain, eng)
                spread = _spread(plain, eng)
            else:
                ratio = _median_ratio(eng, plain)
                spread = _spread(eng, plain)
            name = s.key if len(s.engines) == 1 else f"{s.key} [{form}]"
            row = Row(
                name,
                statistics.median(eng),
                statistics.median(plain),
                ratio,
                target,
                _check(ratio, target),
                unit,
                spread,
            )
            if unit == "throughput":
                row.extra["calls"] = calls
                row.extra["engine_calls_per_s"] = calls / row.engine_s
                row.extra["plain_calls_per_s"] = calls / row.plain_s
            rows.append(row)
            self.add(row)
        return rows

    def add(self, row: Row) -> None:
        self.rows.append(row)
        self.log(_line(row))


def _line(row: Row) -> str:
    if row.unit == "throughput":
        calls = row.extra.get("calls", 1.0)
        head = (
            f"{row.name:<28} engine {calls / row.engine_s:>10,.0f}/s"
            f"  plain {calls / row.plain_s:>10,.0f}/s"
        )
    elif row.unit == "scaling":
        head = f"{row.name:<28} per node {_fmt_s(row.engine_s):>8}  vs   {_fmt_s(row.plain_s):>10}"
    else:
        head = f"{row.name:<28} engine {_fmt_s(row.engine_s):>10}  plain {_fmt_s(row.plain_s):>10}"
    return (
        f"{head}  ratio {row.ratio:6.2f}x (+-{row.spread * 100:3.0f}%)"
        f"  target {row.target:<8} {row.verdict}" + (f"  ({row.note})" if row.note else "")
    )


async def run_all(bench: Bench, long_chain: int, stream_items: int) -> None:
    chain_rows: dict[int, Row] = {}

    for n in (1, 10, 100):
        if bench.wanted(f"chain-{n}"):
            (row,) = await bench.run(chain(n), {"call": "<= 2x"} if n == 100 else {})
            overhead = (row.engine_s - row.plain_s) / n
            row.extra["per_node_s"] = row.engine_s / n
            row.extra["overhead_per_node_s"] = overhead
            row.note = f"{_fmt_s(row.engine_s / n)}/node, {_fmt_s(overhead)}/node over plain"
            chain_rows[n] = row

    if 1 in chain_rows and 100 in chain_rows:
        # The marginal cost of one more node, and the fixed cost of a call, engine vs plain.
        big, small = chain_rows[100], chain_rows[1]
        eng = (big.engine_s - small.engine_s) / 99
        pln = (big.plain_s - small.plain_s) / 99
        fixed = small.engine_s - small.plain_s - (eng - pln)
        big.extra.update(marginal_node_s=eng, marginal_await_s=pln, fixed_call_s=fixed)
        big.note += f"; marginal {_fmt_s(eng)}/node vs {_fmt_s(pln)}/await"
        small.note = f"fixed cost of a call over plain ~{_fmt_s(fixed)}"

    if bench.wanted("fan-out"):
        await bench.run(fan_out(16), {"call": "<= 3x"})

    if bench.wanted("stream-1"):
        await bench.run(stream(1), {"iter": "<= 3x", "await": "<= 3x"})

    if bench.wanted(f"stream-{stream_items}"):
        rows = await bench.run(stream(stream_items), {"iter": "<= 1.1x", "await": "<= 1.1x"})
        for row in rows:
            row.extra["per_item_s"] = row.engine_s / stream_items
            row.extra["plain_per_item_s"] = row.plain_s / stream_items
            row.note = (
                f"{_fmt_s(row.engine_s / stream_items)}/item vs"
                f" {_fmt_s(row.plain_s / stream_items)}/item"
            )

    if bench.wanted("concurrent"):
        (row,) = await bench.run(
            concurrent(64, 10), {"call": ">= 0.3x"}, unit="throughput", calls=64
        )
        row.note = f"ratio = calls/s; per call {_fmt_s(row.engine_s / 64)} vs" + (
            f" {_fmt_s(row.plain_s / 64)}"
        )

    if bench.wanted("sleep"):
        await bench.run(sleep_branches(16, 0.001), {"call": "<= 1.3x"})

    if bench.wanted(f"chain-{long_chain}"):
        s = chain(long_chain)
        once = s.info["build_s"] + s.info["validate_s"] + s.info["compile_s"]
        bench.log(
            f"chain-{long_chain}: build {_fmt_s(s.info['build_s'])}, validate"
            f" {_fmt_s(s.info['validate_s'])}, compile {_fmt_s(s.info['compile_s'])}"
        )
        (row,) = await bench.run(s, {})
        overhead = (row.engine_s - row.plain_s) / long_chain
        row.extra.update(s.info)
        row.extra["per_node_s"] = row.engine_s / long_chain
        row.extra["overhead_per_node_s"] = overhead
        row.note = (
            f"{_fmt_s(row.engine_s / long_chain)}/node, {_fmt_s(overhead)}/node over plain;"
            f" build+validate+compile {_fmt_s(once)} once"
        )
        if 100 in chain_rows:
            t = bench.times[s.key]["engine:call"]
            ref = bench.times["chain-100"]["engine:call"]
            # Per-node cost, round by round, against the 100-node chain's.
            ratios = [(a / long_chain) / (b / 100) for a, b in zip(t, ref, strict=True)]
            bench.add(
                _scaling_row(
                    f"scaling chain {long_chain} vs 100",
                    row.engine_s / long_chain,
                    chain_rows[100].engine_s / 100,
                    ratios,
                )
            )

    if bench.wanted("yaml-shape"):
        s = yaml_shape()
        (row,) = await bench.run(s, {"call": "<= 3x"})
        row.extra.update(s.info)
        row.note = (
            f"5 awel.set + 5 awel.pick; {_fmt_s(row.engine_s / 10)}/node;"
            f" YAML load {_fmt_s(s.info['load_s'])} once"
        )

    if bench.wanted("diamonds"):
        dia: dict[int, Row] = {}
        for k in (1, 5, 10, 20):
            s = diamonds(k)
            (row,) = await bench.run(s, {})
            row.extra["nodes"] = s.nodes
            row.extra["per_node_s"] = row.engine_s / s.nodes
            row.note = f"{s.nodes} nodes, {_fmt_s(row.engine_s / s.nodes)}/node"
            dia[k] = row
        t20 = bench.times["diamonds-20"]["engine:call"]
        t5 = bench.times["diamonds-5"]["engine:call"]
        n20, n5 = dia[20].extra["nodes"], dia[5].extra["nodes"]
        ratios = [(a / n20) / (b / n5) for a, b in zip(t20, t5, strict=True)]
        bench.add(
            _scaling_row(
                "scaling diamonds 20 vs 5",
                dia[20].extra["per_node_s"],
                dia[5].extra["per_node_s"],
                ratios,
            )
        )


def _scaling_row(name: str, big: float, small: float, ratios: list[float]) -> Row:
    """Per-node cost of the big flow against the small one's: about 1.0 when linear."""
    ratio = statistics.median(ratios)
    return Row(
        name,
        big,
        small,
        ratio,
        "<= 1.5x",
        ratio <= 1.5,
        "scaling",
        (max(ratios) - min(ratios)) / 2 / ratio,
        note="per-node cost, big / small (1.0 = linear)",
        extra={"per_node_big_s": big, "per_node_small_s": small},
    )


def _table(rows: list[Row]) -> str:
    head = ("scenario", "engine", "plain", "ratio", "noise", "target", "result", "notes")
    lines = []
    for r in rows:
        if r.unit == "throughput":
            calls = r.extra.get("calls", 1.0)
            eng, pln = f"{calls / r.engine_s:,.0f} calls/s", f"{calls / r.plain_s:,.0f} calls/s"
        elif r.unit == "scaling":
            eng, pln = f"{_fmt_s(r.engine_s)}/node", f"{_fmt_s(r.plain_s)}/node"
        else:
            eng, pln = _fmt_s(r.engine_s), _fmt_s(r.plain_s)
        lines.append(
            (
                r.name,
                eng,
                pln,
                f"{r.ratio:.2f}x",
                f"+-{r.spread * 100:.0f}%",
                r.target,
                r.verdict,
                r.note,
            )
        )
    widths = [max(len(x[i]) for x in [head, *lines]) for i in range(len(head))]

    def fmt(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([fmt(head), sep, *(fmt(x) for x in lines)])


def meta(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "nproc": os.cpu_count(),
        "rounds": args.rounds,
        "round_s": args.round_time,
        "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--rounds", type=int, help="timed rounds per scenario (default 9, quick 3)")
    p.add_argument(
        "--round-time", type=float, help="seconds per timed round and side (default 0.15)"
    )
    p.add_argument("--quick", action="store_true", help="short run, for a smoke check")
    p.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    p.add_argument("--only", help="run only the scenarios whose name contains this")
    p.add_argument("--long-chain", type=int, default=10_000, help="nodes of the long chain")
    p.add_argument("--stream-items", type=int, default=10_000, help="items of the long stream")
    args = p.parse_args(argv)
    if args.rounds is None:
        args.rounds = 3 if args.quick else 9
    if args.round_time is None:
        args.round_time = 0.02 if args.quick else 0.15

    out = sys.stderr if args.json else sys.stdout

    def log(line: str) -> None:
        print(line, file=out, flush=True)

    info = meta(args)
    log(
        f"awel engine bench: python {info['python']}, {info['nproc']} cpus,"
        f" {args.rounds} rounds x {args.round_time:g} s per side; medians, ratio = engine/plain"
    )
    bench = Bench(args.rounds, args.round_time, args.only, log)
    t0 = time.perf_counter()
    asyncio.run(run_all(bench, args.long_chain, args.stream_items))
    info["wall_s"] = round(time.perf_counter() - t0, 1)
    log("")
    log(_table(bench.rows))
    misses = [r.name for r in bench.rows if r.ok is False]
    log(
        f"\n{len(misses)} target(s) missed{': ' + ', '.join(misses) if misses else ''};"
        f" took {info['wall_s']} s"
    )
    if args.json:
        results = [{**asdict(r), "result": r.verdict} for r in bench.rows]
        json.dump({"meta": info, "results": results}, sys.stdout, indent=1)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
