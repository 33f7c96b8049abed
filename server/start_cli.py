"""``awel start controller|worker|apiserver|webserver``: one process of a model cluster.

Registered with the ``awel`` CLI through the ``awel.commands`` entry-point group, like
``awel serve`` (which runs everything in one process). Ports follow DB-GPT: controller
8000, workers from 8001, API server 8100, webserver 5670.

    awel start controller --port 8000
    awel start worker --model smollm2 --port 8001 --controller-addr http://127.0.0.1:8000
    awel start apiserver --controller-addr http://127.0.0.1:8000

Give every process the same ``--cluster-key`` (or ``AWEL_CLUSTER_KEY``): the controller and
the workers then refuse requests without it, and each process sends it to the others.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

_F = Callable[..., Any]


def _common(port: int) -> Callable[[_F], _F]:
    def wrap(fn: _F) -> _F:
        for option in reversed(
            [
                click.option(
                    "--host", default="127.0.0.1", show_default=True, help="Bind address."
                ),
                click.option("--port", type=int, default=port, show_default=True),
                click.option(
                    "--data-dir",
                    type=click.Path(file_okay=False, path_type=Path),
                    default=Path("data"),
                    show_default=True,
                    help="Where built models and the server's files live.",
                ),
                click.option(
                    "--heartbeat-interval",
                    type=float,
                    default=20.0,
                    show_default=True,
                    help="Seconds between a worker's heartbeats (and the model list's refresh).",
                ),
                click.option(
                    "--heartbeat-timeout",
                    type=float,
                    default=60.0,
                    show_default=True,
                    help="Seconds without a heartbeat before the controller marks an instance"
                    " unhealthy.",
                ),
                click.option(
                    "--cluster-key",
                    help="The key the cluster's processes require of and send each other"
                    " (the same on every process; also AWEL_CLUSTER_KEY).",
                ),
                click.option(
                    "--api-key",
                    "api_keys",
                    multiple=True,
                    help="A key this process requires as 'Authorization: Bearer KEY'"
                    " (repeatable; also AWEL_API_KEYS, comma-separated).",
                ),
            ]
        ):
            fn = option(fn)
        return fn

    return wrap


_controller_addr = click.option(
    "--controller-addr",
    required=True,
    help="The controller's URL, e.g. http://127.0.0.1:8000.",
)


def _run(
    role: str,
    controller_addr: str | None,
    register_host: str | None,
    ray: dict[str, Any] | None = None,
    **opts: Any,
) -> None:
    from pydantic import ValidationError

    from .cluster import ClusterSettings
    from .main import run
    from .settings import Settings

    interval = opts.pop("heartbeat_interval")
    timeout = opts.pop("heartbeat_timeout")
    opts["api_keys"] = list(opts.pop("api_keys", ())) or None
    if interval <= 0 or timeout <= 0:
        raise click.UsageError("--heartbeat-interval and --heartbeat-timeout must be positive")
    try:
        settings = Settings.load(None, **opts)
    except ValidationError as exc:
        raise click.UsageError(f"bad settings: {exc}") from None
    cluster = ClusterSettings(
        controller_addr=controller_addr,
        heartbeat_interval=interval,
        heartbeat_timeout=timeout,
        register_host=register_host,
    )
    if ray is not None:
        _run_on_ray(settings, cluster, **ray)
        return
    run(settings, role=role, cluster=cluster)


def _run_on_ray(
    settings: Any,
    cluster: Any,
    *,
    replicas: int,
    ray_address: str,
    num_gpus: float | None,
) -> None:
    import asyncio

    from awel.errors import AwelError
    from awel.executor import start_ray, stop_ray

    from .ray_workers import run_replicas

    if replicas < 1:
        raise click.UsageError("--replicas is 1 or more")
    try:
        click.echo(start_ray(ray_address), err=True)
    except (AwelError, ConnectionError, ValueError) as exc:
        raise click.UsageError(f"--ray-address {ray_address}: {exc}") from None
    try:
        asyncio.run(run_replicas(settings, cluster, replicas=replicas, num_gpus=num_gpus))
    finally:
        stop_ray()


@click.group()
def start() -> None:
    """Start one process of a model cluster (`awel serve` runs them all in one)."""


@start.command()
@_common(8000)
def controller(**opts: Any) -> None:
    """The model controller: the registry of model instances."""
    _run("controller", None, None, model_api_port=0, **opts)


@start.command()
@_common(8001)
@_controller_addr
@click.option(
    "--model", "models", multiple=True, required=True, help="A built model to serve (repeatable)."
)
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda.")
@click.option("--register-host", help="The address to register (default: the bind address).")
@click.option(
    "--ray",
    "on_ray",
    is_flag=True,
    help="Run the worker as --replicas Ray actors, each registered with the controller"
    " (ports --port, --port + 1 ...); Ray restarts a dead one. Needs 'awel[ray]'.",
)
@click.option("--replicas", type=int, default=1, show_default=True, help="With --ray.")
@click.option(
    "--ray-address",
    default="auto",
    show_default=True,
    help="With --ray: auto, local or ray://HOST:PORT.",
)
@click.option("--num-gpus", type=float, help="With --ray: GPUs each replica reserves.")
def worker(
    controller_addr: str,
    models: tuple[str, ...],
    register_host: str | None,
    on_ray: bool,
    replicas: int,
    ray_address: str,
    num_gpus: float | None,
    **opts: Any,
) -> None:
    """A model worker: serves --model on /api/worker/* and registers with the controller."""
    replicated = {"replicas": replicas, "ray_address": ray_address, "num_gpus": num_gpus}
    _run(
        "worker",
        controller_addr,
        register_host,
        models=list(models),
        model_api_port=0,
        ray=replicated if on_ray else None,
        **opts,
    )


@start.command()
@_common(8100)
@_controller_addr
def apiserver(controller_addr: str, **opts: Any) -> None:
    """The OpenAI-compatible model API, answered by the cluster's workers."""
    _run("apiserver", controller_addr, None, models=[], model_api_port=0, **opts)


@start.command()
@_common(5670)
@_controller_addr
def webserver(controller_addr: str, **opts: Any) -> None:
    """DB-GPT's webserver API, with its models answered by the cluster's workers."""
    _run("webserver", controller_addr, None, models=[], model_api_port=0, **opts)
