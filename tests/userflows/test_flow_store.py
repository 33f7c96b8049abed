"""The flows repository on SQLite, PostgreSQL and MariaDB: saves, versions, paging, files."""

from __future__ import annotations

from dataclasses import replace

from operators.storage import MetadataStore
from operators.storage.flows import StoredFlow

YAML = "name: {name}\ntrigger: {{}}\nnodes: {{}}\n"


def flow(uid: str, name: str, **fields: object) -> StoredFlow:
    return StoredFlow(uid=uid, name=name, yaml=YAML.format(name=name), **fields)  # type: ignore[arg-type]


async def test_create_save_and_every_version_kept(store: MetadataStore) -> None:
    made = await store.flows.create(flow("u1", "one", label="One", user_name="ann"))
    assert made.revision == 1 and made.gmt_created is not None and made.label == "One"
    # The same YAML and state: the row changes, no new version.
    same = await store.flows.save(replace(made, description="about"))
    assert same is not None and same.revision == 1 and same.description == "about"
    edited = await store.flows.save(replace(made, yaml=made.yaml + "# v2\n"))
    assert edited is not None and edited.revision == 2
    deployed = await store.flows.save(replace(edited, state="running"), note="deploy")
    assert deployed is not None and deployed.revision == 3
    versions, total = await store.flows.versions("u1")
    assert total == 3
    assert [(v.revision, v.state, v.note) for v in versions] == [
        (3, "running", "deploy"),
        (2, "initializing", "api"),
        (1, "initializing", "api"),
    ]
    first = await store.flows.version("u1", 1)
    assert first is not None and first.yaml == made.yaml
    assert await store.flows.version("u1", 9) is None
    page, total = await store.flows.versions("u1", page=2, page_size=2)
    assert total == 3 and [v.revision for v in page] == [1]
    assert await store.flows.save(flow("nope", "x")) is None


async def test_list_filters_pages_and_user_scope(store: MetadataStore) -> None:
    await store.flows.create(flow("a", "a", user_name="ann", flow_category="chat_flow"))
    await store.flows.create(flow("b", "b", user_name="bob"))
    await store.flows.create(flow("c", "c", file_name="c.yaml"))  # found on disk: nobody's
    items, total = await store.flows.list(user_name="ann")
    assert total == 2 and sorted(f.uid for f in items) == ["a", "c"]
    items, total = await store.flows.list(categories=("chat_flow", "chat_agent"))
    assert [f.uid for f in items] == ["a"] and total == 1
    items, total = await store.flows.list(name="b")
    assert [f.uid for f in items] == ["b"]
    items, total = await store.flows.list(uid="c")
    assert [f.uid for f in items] == ["c"]
    items, total = await store.flows.list(page=2, page_size=2)
    assert total == 3 and len(items) == 1
    items, total = await store.flows.list(page=2**60, page_size=2**40)
    assert items == [] and total == 3
    assert [f.uid for f in await store.flows.with_files()] == ["c"]
    assert [f.uid for f in await store.flows.find(file_name="c.yaml")] == ["c"]
    assert [f.uid for f in await store.flows.find(name="a")] == ["a"]


async def test_delete_forgets_the_versions(store: MetadataStore) -> None:
    made = await store.flows.create(flow("d", "d"))
    await store.flows.save(replace(made, state="developing"))
    assert await store.flows.delete("d") is True
    assert await store.flows.get("d") is None
    assert (await store.flows.versions("d"))[1] == 0
    assert await store.flows.delete("d") is False


async def test_long_yaml_is_kept_whole(store: MetadataStore) -> None:
    text = YAML.format(name="big") + "# " + "x" * 200_000 + "\n"
    made = await store.flows.create(StoredFlow(uid="big", name="big", yaml=text))
    got = await store.flows.get("big")
    assert got is not None and got.yaml == text == made.yaml
