"""Stored prompts and round feedback on each database (SQLite, PostgreSQL, MariaDB)."""

from __future__ import annotations

import pytest

from operators.storage import (
    MetadataStore,
    NewFeedback,
    NewPrompt,
    PromptExists,
    UnknownPrompt,
)


def _prompt(code: str, name: str, **fields: str | None) -> NewPrompt:
    return NewPrompt(prompt_code=code, prompt_name=name, content=f"You are {name}.", **fields)


async def test_prompts_add_list_update_delete(store: MetadataStore) -> None:
    first = await store.prompts.add(_prompt("c1", "joker", prompt_type="common", sys_code="s"))
    assert (first.prompt_code, first.content, first.prompt_format) == (
        "c1",
        "You are joker.",
        "f-string",
    )
    await store.prompts.add(_prompt("c2", "coder", prompt_type="private", user_name="ann"))
    # A name is unique per system, language and model, NULLs included.
    with pytest.raises(PromptExists):
        await store.prompts.add(_prompt("c3", "joker", sys_code="s"))
    with pytest.raises(PromptExists):
        await store.prompts.add(_prompt("c3", "coder", user_name="bob"))
    # Another language is another prompt.
    await store.prompts.add(_prompt("c3", "joker", sys_code="s", prompt_language="zh"))

    listed, total = await store.prompts.list()
    assert ([p.prompt_code for p in listed], total) == (["c1", "c2", "c3"], 3)
    private, _ = await store.prompts.list({"prompt_type": "private"})
    assert [p.prompt_name for p in private] == ["coder"]
    page, total = await store.prompts.list(page=2, page_size=2)
    assert ([p.prompt_code for p in page], total) == (["c3"], 3)
    # A field that is no filter is ignored, not an error.
    assert (await store.prompts.list({"content": "x"}))[1] == 3

    changed = await store.prompts.update("c2", {"content": "Write code.", "prompt_code": "no"})
    assert (changed.prompt_code, changed.content) == ("c2", "Write code.")
    got = await store.prompts.get("c2")
    assert got is not None and got.content == "Write code."
    with pytest.raises(UnknownPrompt):
        await store.prompts.update("nope", {"content": "x"})

    assert await store.prompts.delete("joker", sys_code="other") == 0
    assert await store.prompts.delete("joker") == 2
    assert await store.prompts.get("c1") is None


async def test_feedback_is_one_per_round_and_goes_with_its_conversation(
    store: MetadataStore,
) -> None:
    new = NewFeedback(conv_uid="u1", conv_index=1, score=4, ques_type="just_fun", question="q")
    stored = await store.feedback.put(new)
    assert (stored.score, stored.ques_type, stored.messages) == (4, "just_fun", None)
    again = await store.feedback.put(
        NewFeedback(conv_uid="u1", conv_index=1, score=1, messages="wrong", user_name="ann")
    )
    assert again.id == stored.id and (again.score, again.messages) == (1, "wrong")
    await store.feedback.put(NewFeedback(conv_uid="u1", conv_index=2, score=5))
    await store.feedback.put(NewFeedback(conv_uid="u2", conv_index=1, score=3))
    got = await store.feedback.get("u1", 1)
    assert got is not None and got.user_name == "ann"
    assert await store.feedback.get("u1", 3) is None
    assert sorted(await store.feedback.of_conversation("u1")) == [1, 2]
    assert await store.feedback.forget("u1") == 2
    assert await store.feedback.of_conversation("u1") == {}
    assert await store.feedback.get("u2", 1) is not None
