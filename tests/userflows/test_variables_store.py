"""The variables' repository on SQLite, PostgreSQL and MariaDB: identity, paging, keys,
secrets encrypted at rest and decrypted only by ``find``."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from operators.storage import MetadataStore
from operators.storage.variables import (
    NewVariable,
    UnknownVariable,
    VariableExists,
    VariableRow,
)

# The store fixture, once per database.
from tests.storage.conftest import store as store


def var(name: str, value: str | None, **fields: object) -> NewVariable:
    return NewVariable(key="k", name=name, value=value, **fields)  # type: ignore[arg-type]


async def test_add_find_update_delete(store: MetadataStore) -> None:
    repo = store.variables
    before = repo.version
    made = await repo.add(var("n", "7", value_type="int", label="N"))
    assert (made.value, made.value_type, made.label) == (7, "int", "N")
    assert repo.version == before + 1
    found = await repo.find("k", "n")
    assert found is not None and found.id == made.id and found.value == 7
    # Another scope, user or sys_code is another variable.
    assert await repo.find("k", "n", scope="app") is None
    assert await repo.find("k", "n", user_name="ann") is None
    await repo.add(var("n", "8", value_type="int", user_name="ann"))
    mine = await repo.find("k", "n", user_name="ann")
    assert mine is not None and mine.value == 8
    with pytest.raises(VariableExists):
        await repo.add(var("n", "9", value_type="int"))
    changed = await repo.update(made.id, var("n", None, value_type="int", label="M"))
    assert (changed.value, changed.label) == (7, "M")  # None kept the value
    changed = await repo.update(made.id, var("n", "true", value_type="bool"))
    assert changed.value is True
    with pytest.raises(VariableExists):
        await repo.update(made.id, var("n", "1", user_name="ann"))
    disabled = await repo.update(made.id, var("n", "x", enabled=False))
    assert disabled.enabled is False and await repo.find("k", "n") is None
    gone = await repo.delete(made.id)
    assert gone.id == made.id and await repo.get(made.id) is None
    with pytest.raises(UnknownVariable):
        await repo.delete(made.id)
    with pytest.raises(UnknownVariable):
        await repo.update(made.id, var("n", "1"))


async def test_list_pages_and_filters_and_keys(store: MetadataStore) -> None:
    repo = store.variables
    for i in range(5):
        await repo.add(var(f"n{i}", str(i), scope="flow" if i % 2 else "global"))
    await repo.add(NewVariable(key="other", name="x", value="y", label="Other"))
    items, total = await repo.list(key="k", page=2, page_size=2)
    assert total == 5 and [v.name for v in items] == ["n2", "n3"]
    items, total = await repo.list(key="k", scope="flow")
    assert total == 2 and {v.name for v in items} == {"n1", "n3"}
    # A page past the rows (and past any integer a database holds) is empty.
    assert (await repo.list(key="k", page=2**60, page_size=1000))[0] == []
    keys = await repo.keys()
    assert [(k.key, k.label) for k in keys] == [("k", ""), ("other", "Other")]
    assert [k.key for k in await repo.keys(user_name="nobody")] == []


async def test_secrets_are_encrypted_at_rest_and_read_back_only_by_find(
    store: MetadataStore,
) -> None:
    repo = store.variables
    made = await repo.add(var("token", "sk-very-secret", category="secret"))
    assert made.value is None and made.public()["value"] == "******"
    async with store._tx() as s:
        raw = await s.scalar(select(VariableRow.value).where(VariableRow.id == made.id))
    assert raw and "sk-very-secret" not in raw
    assert store.secrets.decrypt(raw) == "sk-very-secret"
    assert (await repo.get(made.id)).value is None  # type: ignore[union-attr]
    listed, _ = await repo.list(key="k")
    assert listed[0].value is None
    found = await repo.find("k", "token")
    assert found is not None and found.value == "sk-very-secret"
    # Keeping the value while turning a secret common decrypts it; and back again.
    common = await repo.update(made.id, var("token", None, category="common"))
    assert common.value == "sk-very-secret"
    secret = await repo.update(made.id, var("token", None, category="secret"))
    assert secret.value is None
    again = await repo.find("k", "token")
    assert again is not None and again.value == "sk-very-secret"
