"""The metadata store against real SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.exc import StatementError

from operators.storage import (
    PASSWORD_MASK,
    Datasource,
    DatasourceExists,
    MetadataStore,
    NewMessage,
    StoreNotOpen,
    TableSummary,
    UnknownDatasource,
    current_store,
    install_store,
    installed_store,
    open_store,
)
from operators.storage.tables import Base, MessageRow


async def test_a_round_is_stored_whole_and_numbered(store: MetadataStore) -> None:
    first = await store.conversations.save_round(
        "c1",
        "How many users are there? " * 20,
        '{"sql": "SELECT count(*) FROM users"}',
        view_message="There are 3 users.",
        chat_mode="chat_with_db_execute",
        user_name="alice",
        select_param="shop",
        model_name="smollm2",
        context={"param_type": "DB Select", "param_value": "shop"},
    )
    second = await store.conversations.save_round(
        "c1", "And orders?", NewMessage("ai", "7", {"x": 1})
    )
    assert (first, second) == (1, 2)
    messages = await store.messages.list("c1")
    assert [(m.index, m.round_index, m.role) for m in messages] == [
        (0, 1, "human"),
        (1, 1, "ai"),
        (2, 1, "view"),
        (3, 2, "human"),
        (4, 2, "ai"),
    ]
    assert messages[0].context == {"param_type": "DB Select", "param_value": "shop"}
    assert messages[4].context == {"x": 1}
    conv = await store.conversations.get("c1")
    assert conv is not None
    assert conv.summary == ("How many users are there? " * 20)[:250]
    assert (conv.chat_mode, conv.user_name, conv.select_param) == (
        "chat_with_db_execute",
        "alice",
        "shop",
    )
    assert conv.message_count == 5
    assert [m.role for m in await store.messages.list("c1", round_index=2)] == ["human", "ai"]


class Crash(Exception):
    pass


@pytest.fixture
def crash_on_answer() -> Iterator[None]:
    """Make storing an 'ai' message fail: after the conversation row and the question were
    handed to the database in the same transaction."""

    def fail(_mapper: object, _conn: object, row: MessageRow) -> None:
        if row.role == "ai":
            raise Crash("the process died here")

    event.listen(MessageRow, "before_insert", fail)
    yield
    event.remove(MessageRow, "before_insert", fail)


async def test_a_failure_mid_round_leaves_nothing_half_written(
    store: MetadataStore, crash_on_answer: None
) -> None:
    with pytest.raises(Crash):
        await store.conversations.save_round("c3", "question", "answer")
    # A new conversation whose first round fails is not created at all.
    assert await store.conversations.get("c3") is None
    assert await store.messages.list("c3") == []


async def test_a_failing_later_round_leaves_the_earlier_ones(store: MetadataStore) -> None:
    await store.conversations.save_round("c2", "first question", "first answer")
    before = await store.conversations.get("c2")
    # The answer's context cannot be stored (not JSON): the question of the same round goes
    # too, and the conversation does not move.
    with pytest.raises(StatementError, match="not JSON serializable"):
        await store.conversations.save_round(
            "c2", "second question", NewMessage("ai", "x", {"bad": object()})
        )
    assert [m.content for m in await store.messages.list("c2")] == [
        "first question",
        "first answer",
    ]
    assert await store.conversations.get("c2") == before
    assert await store.conversations.save_round("c2", "second question", "second answer") == 2


async def test_concurrent_rounds_of_one_conversation_never_collide(store: MetadataStore) -> None:
    rounds = await asyncio.gather(
        *(store.conversations.save_round("busy", f"q{i}", f"a{i}") for i in range(8))
    )
    assert sorted(rounds) == list(range(1, 9))
    messages = await store.messages.list("busy")
    assert [m.index for m in messages] == list(range(16))
    for m in messages:
        # Each round's question and answer stay together.
        assert m.content[1:] == messages[(m.round_index - 1) * 2].content[1:]


async def test_list_delete_and_clear_conversations(store: MetadataStore) -> None:
    for i in range(3):
        await store.conversations.save_round(
            f"u{i}", f"hello {i}", "hi", user_name="bob", chat_mode="chat_normal"
        )
    await store.conversations.save_round("other", "x", "y", user_name="carol")
    page, total = await store.conversations.list(user_name="bob", page=1, page_size=2)
    assert total == 3
    assert [c.conv_uid for c in page] == ["u2", "u1"]
    page2, _ = await store.conversations.list(user_name="bob", page=2, page_size=2)
    assert [c.conv_uid for c in page2] == ["u0"]
    _, everyone = await store.conversations.list()
    assert everyone == 4

    assert await store.messages.clear("u1") == 2
    assert await store.messages.list("u1") == []
    assert await store.conversations.get("u1") is not None
    assert await store.conversations.delete("u0") is True
    assert await store.conversations.delete("u0") is False
    assert await store.conversations.get("u0") is None
    assert await store.messages.list("u0") == []


async def test_ensure_conversation_then_the_first_round_sets_its_summary(
    store: MetadataStore,
) -> None:
    conv = await store.conversations.ensure(
        "prep", chat_mode="chat_excel", select_param={"file_name": "a.csv"}
    )
    assert (conv.summary, conv.select_param) == ("", '{"file_name": "a.csv"}')
    await store.conversations.save_round("prep", "what is in the file?", "columns a, b")
    again = await store.conversations.get("prep")
    assert again is not None
    assert (again.summary, again.chat_mode) == ("what is in the file?", "chat_excel")
    assert await store.messages.update("prep", 1, "ai", content="columns a, b, c") is True
    assert (await store.messages.list("prep"))[1].content == "columns a, b, c"


async def test_datasources_crud_and_password_kept_when_not_given(store: MetadataStore) -> None:
    ds = Datasource(
        db_type="mysql",
        db_name="shop",
        db_host="db.local",
        db_port=3306,
        db_user="reader",
        db_pwd="s3cret!",
        comment="the shop",
        ext_config={"schema": "public"},
    )
    added = await store.datasources.add(ds)
    assert added.id is not None and added.password == "s3cret!"
    assert "s3cret" not in repr(added)
    assert added.public()["db_pwd"] == PASSWORD_MASK
    with pytest.raises(DatasourceExists, match="'shop' already exists"):
        await store.datasources.add(ds)

    kept = await store.datasources.update(
        Datasource(db_type="mysql", db_name="shop", db_host="db2.local", db_pwd=None)
    )
    assert (kept.db_host, kept.password) == ("db2.local", "s3cret!")
    changed = await store.datasources.update(
        Datasource(db_type="mysql", db_name="shop", db_pwd="new")
    )
    assert changed.password == "new"
    renamed = await store.datasources.update(
        Datasource(db_type="mysql", db_name="shop2", db_pwd=None), by_id=added.id
    )
    assert renamed.db_name == "shop2" and renamed.password == "new"
    with pytest.raises(UnknownDatasource, match="'nope'"):
        await store.datasources.update(Datasource(db_type="mysql", db_name="nope"))
    with pytest.raises(UnknownDatasource, match="'nope'"):
        await store.datasources.require("nope")

    await store.datasources.add(Datasource(db_type="sqlite", db_name="mine", user_id="u1"))
    await store.datasources.add(Datasource(db_type="sqlite", db_name="theirs", user_id="u2"))
    visible = [d.db_name for d in await store.datasources.list(user_id="u1")]
    assert visible == ["shop2", "mine"]
    assert len(await store.datasources.list()) == 3

    await store.summaries.replace("mine", [TableSummary("mine", "t", "table t(a int)")])
    assert [s.table_name for s in await store.summaries.list("mine")] == ["t"]
    assert await store.datasources.delete("mine") is True
    assert await store.summaries.list("mine") == []
    assert await store.datasources.get("mine") is None


async def test_passwords_are_encrypted_in_the_database(store: MetadataStore) -> None:
    from sqlalchemy import text

    await store.datasources.add(Datasource(db_type="postgresql", db_name="p", db_pwd="hunter2-pw"))
    async with store.engine.connect() as conn:
        stored = (await conn.execute(text("SELECT db_pwd FROM datasources"))).scalar_one()
    assert "hunter2" not in stored
    assert stored.startswith("gAAAA")  # a Fernet token


def test_the_sqlite_file_holds_no_clear_password(tmp_path: Path) -> None:
    async def main() -> None:
        async with open_store(None, data_dir=tmp_path) as store:
            await store.datasources.add(
                Datasource(db_type="mysql", db_name="m", db_pwd="plain-text-pw-123")
            )
        # Reopened with the same data folder (and so the same key): the password reads back.
        async with open_store(None, data_dir=tmp_path) as store:
            ds = await store.datasources.require("m")
            assert ds.password == "plain-text-pw-123"

    asyncio.run(main())
    for path in tmp_path.iterdir():
        if path.name.startswith("awel.db"):
            assert b"plain-text-pw-123" not in path.read_bytes()
    key = tmp_path / "secret.key"
    assert key.stat().st_mode & 0o077 == 0


async def test_another_key_cannot_read_the_password_but_the_datasource_survives(
    tmp_path: Path,
) -> None:
    async with open_store(None, data_dir=tmp_path, secret_key="first passphrase") as store:
        await store.datasources.add(Datasource(db_type="mysql", db_name="m", db_pwd="pw"))
    async with open_store(None, data_dir=tmp_path, secret_key="second passphrase") as store:
        ds = await store.datasources.require("m")
        assert ds.password == ""


async def test_current_store_is_the_last_one_still_open(tmp_path: Path) -> None:
    before = installed_store()
    async with open_store(None, data_dir=tmp_path / "a") as first:
        assert current_store() is first
        second_cm = open_store(None, data_dir=tmp_path / "b")
        second = await second_cm.__aenter__()
        assert current_store() is second
    # The first closed before the second: the second stays current, the first is not back.
    assert current_store() is second
    await second_cm.__aexit__(None, None, None)
    assert installed_store() is before


async def test_no_store_is_a_clear_503() -> None:
    previous = install_store(None)
    try:
        with pytest.raises(StoreNotOpen) as caught:
            current_store()
        assert caught.value.code == "store.not_open"
    finally:
        install_store(previous)


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    from sqlalchemy import update

    from operators.storage.tables import SchemaRow

    async with open_store(None, data_dir=tmp_path) as store, store.engine.begin() as conn:
        await conn.execute(update(SchemaRow).values(version=999))
    with pytest.raises(RuntimeError, match="schema version 999"):
        await MetadataStore.open(None, data_dir=tmp_path)


def test_message_rows_are_unique_per_conversation_index() -> None:
    names = {c.name for c in Base.metadata.tables["messages"].constraints}
    assert "uq_messages_conv_idx" in names
