"""The server's commands (``awel serve``, ``awel openapi``), registered with the ``awel``
CLI through the ``awel.commands`` entry-point group."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .settings import Settings


@click.command()
@click.option("--host", help="Address to bind (default 127.0.0.1: only this machine).")
@click.option("--port", type=int, help="Port of the webserver API (default 5670).")
@click.option(
    "--model-api-port",
    type=int,
    help="Port of the OpenAI-compatible model API (default 8100; 0 turns it off).",
)
@click.option(
    "--api-key",
    "api_keys",
    multiple=True,
    help="A key every route of both ports requires (health and docs aside) as"
    " 'Authorization: Bearer KEY' (repeatable; also AWEL_API_KEYS, comma-separated).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the server keeps everything it writes (default ./data).",
)
@click.option(
    "--dags",
    "dags_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="User flows, served under /api/v1/awel/trigger (default DATA_DIR/dags).",
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A TOML file of settings; AWEL_* variables and flags override it.",
)
@click.option(
    "--web-ui",
    type=click.Choice(["old", "new", "off"]),
    help="Which of DB-GPT's web UIs to serve at / (`awel ui install` installs them);"
    " default: whichever is installed, old first.",
)
@click.option(
    "--ray",
    "ray_mode",
    default="off",
    show_default=True,
    envvar="AWEL_RAY",
    help="Where nodes marked 'executor: ray' run: off (they fail, saying so), local (a Ray"
    " cluster of this machine, on 127.0.0.1), auto (this machine's running cluster, else a"
    " local one), or ray://HOST:PORT. Needs the ray extra: pip install 'awel[ray]'.",
)
@click.option(
    "--reload",
    is_flag=True,
    help="Restart when the project's code changes (development). User flows reload without it.",
)
def serve(
    host: str | None,
    port: int | None,
    model_api_port: int | None,
    api_keys: tuple[str, ...],
    data_dir: Path | None,
    dags_dir: Path | None,
    config: Path | None,
    web_ui: str | None,
    ray_mode: str,
    reload: bool,
) -> None:
    """Serve the shipped flows and the user's flows over HTTP, and the OpenAI-compatible
    model API on a port of its own."""
    from pydantic import ValidationError

    try:
        settings = Settings.load(
            config,
            host=host,
            port=port,
            model_api_port=model_api_port,
            api_keys=list(api_keys) or None,
            data_dir=data_dir,
            dags_dir=dags_dir,
            web_ui=web_ui,
        )
    except ValidationError as exc:
        raise click.UsageError(f"bad settings: {exc}") from None
    from .main import run, run_reloading

    if ray_mode != "off":
        if reload:
            raise click.UsageError("--ray runs in one serving process; drop --reload")
        from awel.errors import AwelError
        from awel.executor import start_ray

        try:
            click.echo(start_ray(ray_mode), err=True)
        except (AwelError, ConnectionError, ValueError) as exc:
            raise click.UsageError(f"--ray {ray_mode}: {exc}") from None
    if reload:
        run_reloading(settings)
    else:
        run(settings)


@click.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to FILE.")
@click.option(
    "--dags",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    metavar="DIR",
    help="Also document the user flows in DIR.",
)
def openapi(output: str | None, dags: Path | None) -> None:
    """Print the OpenAPI document of the server's routes, so CI can diff it.

    It documents the shipped flows (and the user flows in --dags DIR) as the server
    mounts them; the running server serves the same at /openapi.json and /docs.
    """
    from awel.errors import AwelError

    from .docs import flows_document

    try:
        document = flows_document(dags)
    except AwelError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    Path(output).write_text(text, encoding="utf-8")
    click.echo(f"wrote {output}", err=True)
