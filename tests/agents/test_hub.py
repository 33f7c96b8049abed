"""Syncing the agent hub: from a git repository the test makes, a folder, the shipped hub;
the index in the store (SQLite, PostgreSQL, MariaDB), and the sources refused."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from operators.agents.errors import BadHubSource, HubSyncFailed, UnknownAgent
from operators.agents.hub import DEFAULT_HUB, HubSource, hub_package, sync_hub
from operators.storage import MetadataStore, open_store
from tests.storage.databases import scratch_database

SHIPPED = {"chart_answer", "csv_profiler", "knowledge_summary", "sql_explainer"}


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MetadataStore]:
    data = tmp_path / "data"
    if request.param == "sqlite":
        async with open_store(None, data_dir=data) as opened:
            yield opened
        return
    async with scratch_database(request.param) as url, open_store(url, data_dir=data) as opened:
        yield opened


def package(root: Path, folder: str, name: str, version: str = "0.1.0") -> None:
    (root / folder).mkdir(parents=True, exist_ok=True)
    (root / folder / "agent.toml").write_text(
        f'name = "{name}"\nlabel = "The {name}"\nversion = "{version}"\n'
        f'description = "Does {name}."\nauthor = "Ann"\nemail = "ann@example.com"\n'
    )


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def repository(tmp_path: Path) -> Path:
    repo = tmp_path / "hub.git"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    package(repo, "agents/alpha", "alpha")
    package(repo, "agents/beta", "beta")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "two agents")
    return repo


async def test_a_git_repository_is_cloned_indexed_and_resynced(
    store: MetadataStore, tmp_path: Path
) -> None:
    repo = repository(tmp_path)
    sync = await sync_hub(store, HubSource("git", f"file://{repo}", "main"))
    assert [e.name for e in sync.entries] == ["alpha", "beta"] and sync.problems == []
    alpha = await store.agent_hub.get("alpha")
    assert alpha is not None
    assert (alpha.label, alpha.version, alpha.author, alpha.email) == (
        "The alpha",
        "0.1.0",
        "Ann",
        "ann@example.com",
    )
    assert (alpha.storage_channel, alpha.storage_url) == ("git", f"file://{repo}")
    folder = await hub_package(store, "alpha")
    assert (folder / "agent.toml").is_file() and store.data_dir in folder.parents
    assert not (folder.parent.parent / ".git").exists()

    # Upstream drops beta, bumps alpha, adds gamma: the index follows, installs kept.
    await store.agent_hub.count_install("alpha", 1)
    git(repo, "rm", "-q", "-r", "agents/beta")
    package(repo, "agents/alpha", "alpha", "0.2.0")
    package(repo, "gamma", "gamma")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "change")
    sync = await sync_hub(store, HubSource("git", f"file://{repo}", "main"))
    assert [e.name for e in sync.entries] == ["alpha", "gamma"]
    entries, total = await store.agent_hub.list()
    assert total == 2 and [(e.name, e.version, e.installed) for e in entries] == [
        ("alpha", "0.2.0", 1),
        ("gamma", "0.1.0", 0),
    ]
    with pytest.raises(UnknownAgent) as info:
        await hub_package(store, "beta")
    assert info.value.code == "agent.not_found" and info.value.param == "plugin_name"
    # The copy read before the resync stays (a reader may hold it); older ones go.
    copies = [p for p in (store.data_dir / "agent_hub").iterdir() if not p.is_symlink()]
    assert len(copies) == 2


async def test_a_local_folder_and_bad_manifests(store: MetadataStore, tmp_path: Path) -> None:
    hub = tmp_path / "hub"
    package(hub, "one", "one")
    package(hub, "copy", "one")
    (hub / "broken").mkdir()
    (hub / "broken" / "agent.toml").write_text("name = \n")
    package(hub, "bad", "Bad Name!")
    sync = await sync_hub(store, HubSource("local", str(hub)))
    assert [e.name for e in sync.entries] == ["one"]
    assert len(sync.problems) == 3, sync.problems
    assert any("already taken" in p for p in sync.problems)
    assert any("not valid TOML" in p for p in sync.problems)
    assert any("name must be" in p for p in sync.problems)


async def test_the_default_hub_is_the_shipped_one(store: MetadataStore) -> None:
    sync = await sync_hub(store)
    assert sync.source == HubSource("local", str(DEFAULT_HUB))
    assert {e.name for e in sync.entries} == SHIPPED and sync.problems == []
    for name in SHIPPED:
        assert (await hub_package(store, name)).name == name


async def test_query_filters_and_pages(store: MetadataStore, tmp_path: Path) -> None:
    hub = tmp_path / "hub"
    for i in range(5):
        package(hub, f"p{i}", f"p{i}", version="1.0" if i % 2 else "2.0")
    await sync_hub(store, HubSource("local", str(hub)))
    page, total = await store.agent_hub.list(page=2, page_size=2)
    assert total == 5 and [e.name for e in page] == ["p2", "p3"]
    page, total = await store.agent_hub.list(filters={"version": "2.0"}, page=1, page_size=10)
    assert total == 3 and [e.name for e in page] == ["p0", "p2", "p4"]


@pytest.mark.parametrize(
    ("source", "field", "says"),
    [
        (HubSource("svn", "x"), "channel", "unknown hub channel"),
        (HubSource("local", "/no/such/folder"), "url", "no folder"),
        (HubSource("git", "--upload-pack=touch /tmp/pwned"), "url", "command-line option"),
        (HubSource("git", "ext::sh -c touch% /tmp/pwned"), "url", "not a git repository"),
        (HubSource("git", "https://example.com/r.git", "--output=x"), "branch", "branch name"),
        (HubSource("git", ""), "url", "name the hub"),
    ],
)
async def test_refused_sources(
    sqlite_store: MetadataStore, source: HubSource, field: str, says: str
) -> None:
    with pytest.raises(BadHubSource) as info:
        await sync_hub(sqlite_store, source)
    assert info.value.param == field and says in str(info.value), str(info.value)
    assert info.value.code == "agent.hub_source"
    assert not (sqlite_store.data_dir / "agent_hub").exists() or not any(
        (sqlite_store.data_dir / "agent_hub").iterdir()
    )


async def test_a_failed_clone_says_why_and_leaves_nothing(
    sqlite_store: MetadataStore, tmp_path: Path
) -> None:
    repo = repository(tmp_path)
    with pytest.raises(HubSyncFailed) as info:
        await sync_hub(sqlite_store, HubSource("git", f"file://{repo}", "no-such-branch"))
    assert "could not clone" in str(info.value) and info.value.param == "url"
    assert list((sqlite_store.data_dir / "agent_hub").iterdir()) == []


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[MetadataStore]:
    async with open_store(None, data_dir=tmp_path / "data") as opened:
        yield opened
