"""``awel ui``: install DB-GPT's web UIs from its ``dbgpt-app`` wheel (:mod:`server.ui_install`),
registered with the ``awel`` CLI through the ``awel.commands`` entry-point group."""

from __future__ import annotations

from pathlib import Path

import click

from .settings import Settings
from .ui_install import DEFAULT_VERSION, UIRefused, fetch_and_install, install_wheel, installed_uis


@click.group()
def ui() -> None:
    """DB-GPT's web UIs, served by `awel serve` at / once installed."""


_DATA_DIR = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="The server's data folder; UIs go to DATA_DIR/ui (default ./data, or AWEL_UI_DIR).",
)


@ui.command()
@click.option(
    "--version",
    help=f"The dbgpt-app version whose UIs to install (default {DEFAULT_VERSION}).",
)
@click.option(
    "--wheel",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A dbgpt-app wheel already downloaded, instead of fetching one with pip.",
)
@_DATA_DIR
def install(version: str | None, wheel: Path | None, data_dir: Path | None) -> None:
    """Fetch the dbgpt-app wheel with pip (no dependencies, nothing installed into the
    environment), check it and unpack its two web UIs (old_web, web) into the data folder."""
    ui_dir = Settings.load(data_dir=data_dir).web_ui_dir
    try:
        if wheel is not None:
            done = install_wheel(wheel, ui_dir, version=version)
        else:
            click.echo(f"downloading dbgpt-app=={version or DEFAULT_VERSION} with pip ...")
            done = fetch_and_install(version or DEFAULT_VERSION, ui_dir)
    except UIRefused as exc:
        raise click.ClickException(str(exc)) from None
    builds = ", ".join(done.builds)
    click.echo(f"installed DB-GPT {done.version}'s web UIs ({builds}) in {done.path}")
    click.echo(
        "serve them with `awel serve` (--web-ui old|new|off), then open http://127.0.0.1:5670/"
    )


@ui.command(name="list")
@_DATA_DIR
def list_(data_dir: Path | None) -> None:
    """The installed web UIs, newest first (`awel serve` serves the newest)."""
    ui_dir = Settings.load(data_dir=data_dir).web_ui_dir
    uis = installed_uis(ui_dir)
    if not uis:
        click.echo(f"no web UI installed in {ui_dir}; run `awel ui install`")
    for one in uis:
        click.echo(f"{one.version}\t{', '.join(one.builds)}\t{one.path}")
