"""The store's repositories, one per kind of record, over one database (SQLite, PostgreSQL
and MariaDB), and the store's names of before them."""

from __future__ import annotations

from datetime import datetime

import pytest

from operators.storage import (
    Datasource,
    MetadataStore,
    StoredFile,
    TableSummary,
    UnknownDatasource,
)


async def test_conversations_and_messages(store: MetadataStore) -> None:
    assert await store.conversations.save_round("r1", "q1", "a1", view_message="v1") == 1
    assert await store.conversations.save_round("r1", "q2", "a2") == 2
    messages = await store.messages.list("r1", round_index=1)
    assert [(m.role, m.content) for m in messages] == [
        ("human", "q1"),
        ("ai", "a1"),
        ("view", "v1"),
    ]
    found = await store.conversations.get("r1")
    assert found is not None and (found.summary, found.message_count) == ("q1", 5)
    assert await store.messages.update("r1", 2, "ai", content="a2'") is True
    assert [m.content for m in await store.messages.list("r1", round_index=2)] == ["q2", "a2'"]
    listed, total = await store.conversations.list(conv_uid="r1")
    assert ([c.conv_uid for c in listed], total) == (["r1"], 1)
    assert await store.messages.clear("r1") == 5
    assert await store.conversations.delete("r1") is True
    assert await store.conversations.get("r1") is None
    made = await store.conversations.ensure("r2", chat_mode="chat_excel")
    assert (made.chat_mode, made.summary) == ("chat_excel", "")


async def test_datasources_and_their_summaries(store: MetadataStore) -> None:
    added = await store.datasources.add(
        Datasource(db_type="mysql", db_name="shop", db_host="h", db_pwd="s3cret")
    )
    assert added.id is not None
    got = await store.datasources.get_by_id(added.id)
    assert got is not None and got.password == "s3cret"
    await store.datasources.update(Datasource(db_type="mysql", db_name="shop", db_pwd=None))
    assert (await store.datasources.require("shop")).password == "s3cret"
    assert [d.db_name for d in await store.datasources.list()] == ["shop"]
    await store.summaries.replace("shop", [TableSummary("shop", "users", "users(id, name)")])
    assert [s.table_name for s in await store.summaries.list("shop")] == ["users"]
    # A datasource's summaries go with it.
    assert await store.datasources.delete("shop") is True
    assert await store.summaries.list("shop") == []
    assert await store.datasources.get("shop") is None
    with pytest.raises(UnknownDatasource):
        await store.datasources.require("shop")


async def test_files(store: MetadataStore) -> None:
    record = StoredFile(
        file_id="f1",
        file_name="a.csv",
        storage_path="/tmp/a.csv",
        bucket="dbgpt_app_file",
        content_type="text/csv",
        file_size=3,
        file_hash="abc",
        conv_uid="c1",
        user_name=None,
        custom_metadata={"k": "v"},
        gmt_created=datetime(2024, 1, 2, 3, 4, 5),
    )
    await store.files.add(record)
    assert await store.files.get("f1") == record
    assert await store.files.list(conv_uid="c1") == [record]
    assert await store.files.list(conv_uid="other") == []
    assert await store.files.delete("f1") is True
    assert await store.files.get("f1") is None


#: The store's names of before the repositories: the callers moved to
#: ``store.<kind>.<method>``, so none of these may come back as a second way in.
OLD_NAMES = (
    "save_round",
    "ensure_conversation",
    "get_conversation",
    "list_conversations",
    "delete_conversation",
    "clear_messages",
    "list_messages",
    "update_message",
    "add_datasource",
    "update_datasource",
    "get_datasource",
    "get_datasource_by_id",
    "require_datasource",
    "list_datasources",
    "delete_datasource",
    "replace_summaries",
    "list_summaries",
    "add_file",
    "get_file",
    "list_files",
    "delete_file",
)


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
async def test_the_old_names_are_gone(store: MetadataStore) -> None:
    assert [name for name in OLD_NAMES if hasattr(store, name)] == []
