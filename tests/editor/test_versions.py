"""Edits of a stored round keep what they replaced; undo puts it back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from operators.storage import MetadataStore, open_store
from operators.storage.versions import (
    NothingToUndo,
    UnknownRound,
    edit_round,
    round_history,
    undo_edit,
)
from tests.storage.databases import scratch_database


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MetadataStore]:
    if request.param == "sqlite":
        async with open_store(None, data_dir=tmp_path) as opened:
            yield opened
    else:
        async with scratch_database(request.param) as url, open_store(url, data_dir=tmp_path) as s:
            yield s


async def _contents(store: MetadataStore, conv: str, round_index: int) -> dict[str, str]:
    return {m.role: m.content for m in await store.messages.list(conv, round_index=round_index)}


async def test_edit_undo_and_history(store: MetadataStore) -> None:
    await store.conversations.save_round("c1", "q1", '{"sql": "a"}', view_message="v-a")
    await store.conversations.save_round("c1", "q2", '{"sql": "b"}', view_message="v-b")

    assert await edit_round(store, "c1", 2, {"ai": '{"sql": "b2"}', "view": "v-b2"}, note="e1") == 2
    # Only what changed is an edit's; the same content again changes nothing.
    assert await edit_round(store, "c1", 2, {"ai": '{"sql": "b3"}', "view": "v-b2"}) == 3
    assert await edit_round(store, "c1", 2, {"ai": '{"sql": "b3"}'}) == 3
    assert await _contents(store, "c1", 2) == {"human": "q2", "ai": '{"sql": "b3"}', "view": "v-b2"}
    assert await _contents(store, "c1", 1) == {"human": "q1", "ai": '{"sql": "a"}', "view": "v-a"}

    history = await round_history(store, "c1", 2)
    assert [(v.version, v.current, v.messages["ai"], v.messages["view"]) for v in history] == [
        (1, False, '{"sql": "b"}', "v-b"),
        (2, False, '{"sql": "b2"}', "v-b2"),
        (3, True, '{"sql": "b3"}', "v-b2"),
    ]
    assert [v.note for v in history] == ["", "e1", ""]

    assert await undo_edit(store, "c1", 2) == 2
    assert await _contents(store, "c1", 2) == {"human": "q2", "ai": '{"sql": "b2"}', "view": "v-b2"}
    assert await undo_edit(store, "c1", 2) == 1
    assert await _contents(store, "c1", 2) == {"human": "q2", "ai": '{"sql": "b"}', "view": "v-b"}
    with pytest.raises(NothingToUndo, match="no edit to undo"):
        await undo_edit(store, "c1", 2)
    assert len(await round_history(store, "c1", 2)) == 1


async def test_unknown_rounds_are_named(store: MetadataStore) -> None:
    await store.conversations.save_round("c2", "q", "a")
    for call in (
        edit_round(store, "c2", 5, {"ai": "x"}),
        edit_round(store, "nope", 1, {"ai": "x"}),
        undo_edit(store, "c2", 5),
        round_history(store, "c2", 5),
    ):
        with pytest.raises(UnknownRound, match="has no round") as info:
            await call
        assert info.value.param == "round"
    # A role the round lacks (no view) is left out rather than made up.
    assert await edit_round(store, "c2", 1, {"ai": "b", "view": "v"}) == 2
    assert await _contents(store, "c2", 1) == {"human": "q", "ai": "b"}


async def test_concurrent_edits_get_their_own_numbers(store: MetadataStore) -> None:
    await store.conversations.save_round("c3", "q", "a0", view_message="v0")
    versions = await asyncio.gather(
        *(edit_round(store, "c3", 1, {"ai": f"a{i}"}) for i in range(1, 6))
    )
    assert sorted(versions) == [2, 3, 4, 5, 6]
    history = await round_history(store, "c3", 1)
    assert [v.version for v in history] == [1, 2, 3, 4, 5, 6]
    assert len({v.messages["ai"] for v in history}) == 6


async def test_versions_go_with_their_messages(store: MetadataStore) -> None:
    await store.conversations.save_round("c4", "q", "a0")
    await edit_round(store, "c4", 1, {"ai": "a1"})
    await store.messages.clear("c4")
    await store.conversations.save_round("c4", "q", "fresh")
    # The new round 1 starts its own history: the cleared round's versions went with it.
    assert [v.version for v in await round_history(store, "c4", 1)] == [1]
    await store.conversations.delete("c4")
