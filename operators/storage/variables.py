"""Flow variables (:attr:`MetadataStore.variables`): DB-GPT's ``dbgpt_serve_variables``.

A variable is a value flows refer to as ``${key:name@scope:scope_key}``. Its identity is
``key``, ``name``, ``scope``, ``scope_key``, ``user_name`` and ``sys_code``; none of these
are NULL in the table (an absent one is stored as ``''``), because every database we run
on counts two NULLs as different in a unique key, which would let duplicates in.

Values are stored as text and typed on the way out by ``value_type``. A variable of
category ``secret`` has its value encrypted at rest with the datasource passwords' key
(:mod:`.secrets`); :meth:`Variable.public` is the only form a route answers with, the
value masked. The table is declared beside its only repository, so adding it touched no
other module's rows (``create_all`` makes it, no migration step).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Integer, String, Text, UniqueConstraint, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from awel.errors import AwelError

from .paging import page_limit, page_offset
from .records import PASSWORD_MASK
from .secrets import SecretBox
from .tables import Base, _Time, now
from .tx import Transaction

__all__ = [
    "CATEGORIES",
    "SCOPES",
    "SECRET",
    "VALUE_TYPES",
    "NewVariable",
    "UnknownVariable",
    "Variable",
    "VariableExists",
    "VariableKey",
    "VariableRepository",
    "VariableRow",
    "typed_value",
]

#: DB-GPT's value types, and its categories.
VALUE_TYPES = ("str", "int", "float", "bool")
SECRET = "secret"
CATEGORIES = ("common", SECRET)
#: DB-GPT's scopes.
SCOPES = ("global", "app", "agent", "flow", "datasource", "flow_priv", "agent_priv")


class UnknownVariable(AwelError):
    """No variable has that id (part of the path: a missing resource)."""

    code = "variable.not_found"

    def __init__(self, variable_id: int) -> None:
        super().__init__(f"no variable has id {variable_id} (id)", param="id")


class VariableExists(AwelError):
    """Another variable already has that key, name, scope, scope_key, user and sys_code."""

    code = "variable.exists"

    def __init__(self, key: str, name: str, scope: str) -> None:
        super().__init__(
            f"a variable '{key}:{name}' already exists in scope '{scope}' (name); edit it"
            " with PUT /variables/{id} or choose another name",
            param="name",
        )


class VariableRow(Base):
    """One flow variable; ``value`` holds a secret's value encrypted, never clear."""

    __tablename__ = "flow_variables"
    __table_args__ = (
        UniqueConstraint(
            "key", "name", "scope", "scope_key", "user_name", "sys_code", name="uq_flow_variable"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(128), index=True)
    name: Mapped[str] = mapped_column(String(128))
    label: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    value_type: Mapped[str] = mapped_column(String(16), default="str")
    category: Mapped[str] = mapped_column(String(16), default="common")
    scope: Mapped[str] = mapped_column(String(32), default="global")
    scope_key: Mapped[str] = mapped_column(String(128), default="")
    value: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    user_name: Mapped[str] = mapped_column(String(128), default="")
    sys_code: Mapped[str] = mapped_column(String(128), default="")
    gmt_created: Mapped[datetime] = mapped_column(_Time, default=now)
    gmt_modified: Mapped[datetime] = mapped_column(_Time, default=now)


def typed_value(value_type: str, text: str) -> Any:
    """The stored text as its ``value_type`` (the text was checked when it was stored)."""
    if value_type == "int":
        return int(text)
    if value_type == "float":
        return float(text)
    if value_type == "bool":
        return text == "true"
    return text


@dataclass(frozen=True, slots=True)
class NewVariable:
    """What a variable is made or replaced with; ``value`` is its text form (``value_type``
    already checked), None on an update to keep the stored one."""

    key: str
    name: str
    value: str | None
    label: str = ""
    description: str = ""
    value_type: str = "str"
    category: str = "common"
    scope: str = "global"
    scope_key: str = ""
    enabled: bool = True
    user_name: str = ""
    sys_code: str = ""


@dataclass(frozen=True, slots=True)
class Variable:
    """A stored variable, its value typed. A secret's value is None, but where it was read
    to be resolved in a flow (:meth:`VariableRepository.find`). Routes answer :meth:`public`."""

    id: int
    key: str
    name: str
    label: str
    description: str
    value_type: str
    category: str
    scope: str
    scope_key: str
    value: Any
    enabled: bool
    user_name: str
    sys_code: str
    gmt_created: datetime
    gmt_modified: datetime

    @property
    def secret(self) -> bool:
        return self.category == SECRET

    def public(self) -> dict[str, Any]:
        """DB-GPT's ``VariablesResponse``, a secret's value masked."""
        return {
            "id": self.id,
            "key": self.key,
            "name": self.name,
            "label": self.label,
            "description": self.description,
            "value_type": self.value_type,
            "category": self.category,
            "scope": self.scope,
            "scope_key": self.scope_key or None,
            "value": PASSWORD_MASK if self.secret else self.value,
            "enabled": self.enabled,
            "user_name": self.user_name or None,
            "sys_code": self.sys_code or None,
            "gmt_created": self.gmt_created.strftime("%Y-%m-%d %H:%M:%S"),
            "gmt_modified": self.gmt_modified.strftime("%Y-%m-%d %H:%M:%S"),
        }


@dataclass(frozen=True, slots=True)
class VariableKey:
    """One key and what its variables say of it (DB-GPT's ``VariablesKeyResponse``)."""

    key: str
    label: str
    description: str
    value_type: str
    category: str
    scope: str
    scope_key: str


class VariableRepository:
    """The variables of one store; every method is one transaction.

    ``version`` grows with every write made through this repository, so whoever caches
    values (the flows' variables provider) knows when to read them again.
    """

    def __init__(self, tx: Transaction, secrets: SecretBox) -> None:
        self._tx = tx
        self._secrets = secrets
        self.version = 0

    async def add(self, new: NewVariable) -> Variable:
        """Store a new variable; :class:`VariableExists` when its identity is taken."""
        t = now()
        row = VariableRow(gmt_created=t, gmt_modified=t)
        self._fill(row, new)
        try:
            async with self._tx() as s:
                if await s.scalar(select(VariableRow.id).where(*_same_identity(new))):
                    raise VariableExists(new.key, new.name, new.scope)
                s.add(row)
                await s.flush()
                made = self._variable(row)
        except IntegrityError:
            raise VariableExists(new.key, new.name, new.scope) from None
        self.version += 1
        return made

    async def update(self, variable_id: int, new: NewVariable) -> Variable:
        """Replace the variable's fields (``value`` None keeps the stored value, which a
        secret must not be sent back for); :class:`UnknownVariable`, :class:`VariableExists`."""
        try:
            async with self._tx() as s:
                row = await s.get(VariableRow, variable_id)
                if row is None:
                    raise UnknownVariable(variable_id)
                clash = await s.scalar(
                    select(VariableRow.id).where(
                        *_same_identity(new), VariableRow.id != variable_id
                    )
                )
                if clash:
                    raise VariableExists(new.key, new.name, new.scope)
                if new.value is None and new.category != row.category:
                    # The stored text is encrypted, or not, for its old category.
                    kept = self._secrets.decrypt(row.value) if row.category == SECRET else row.value
                    self._fill(row, new, value=kept)
                else:
                    self._fill(row, new)
                row.gmt_modified = now()
                await s.flush()
                made = self._variable(row)
        except IntegrityError:
            raise VariableExists(new.key, new.name, new.scope) from None
        self.version += 1
        return made

    def _fill(self, row: VariableRow, new: NewVariable, value: str | None = None) -> None:
        row.key, row.name, row.label = new.key, new.name, new.label
        row.description, row.value_type = new.description, new.value_type
        row.category = new.category
        row.scope, row.scope_key, row.enabled = new.scope, new.scope_key, new.enabled
        row.user_name, row.sys_code = new.user_name, new.sys_code
        text = new.value if new.value is not None else value
        if text is not None:
            row.value = self._secrets.encrypt(text) if new.category == SECRET else text

    async def get(self, variable_id: int) -> Variable | None:
        async with self._tx() as s:
            row = await s.get(VariableRow, variable_id)
            return None if row is None else self._variable(row)

    async def require(self, variable_id: int) -> Variable:
        """The variable with that id, or :class:`UnknownVariable`."""
        found = await self.get(variable_id)
        if found is None:
            raise UnknownVariable(variable_id)
        return found

    async def find(
        self,
        key: str,
        name: str,
        *,
        scope: str = "global",
        scope_key: str = "",
        user_name: str = "",
        sys_code: str = "",
    ) -> Variable | None:
        """The enabled variable with exactly this identity (what a reference names)."""
        ident = NewVariable(
            key=key,
            name=name,
            value=None,
            scope=scope,
            scope_key=scope_key,
            user_name=user_name,
            sys_code=sys_code,
        )
        async with self._tx() as s:
            row = await s.scalar(
                select(VariableRow).where(*_same_identity(ident), VariableRow.enabled.is_(True))
            )
            return None if row is None else self._variable(row, reveal=True)

    async def keys(
        self,
        *,
        user_name: str | None = None,
        sys_code: str | None = None,
        category: str | None = None,
    ) -> list[VariableKey]:
        """Each key once (described by its first variable), in key order."""
        where = [
            column == value
            for column, value in (
                (VariableRow.user_name, user_name),
                (VariableRow.sys_code, sys_code),
                (VariableRow.category, category),
            )
            if value is not None
        ]
        first = select(func.min(VariableRow.id)).where(*where).group_by(VariableRow.key).subquery()
        async with self._tx() as s:
            rows = await s.scalars(
                select(VariableRow)
                .where(VariableRow.id.in_(select(first)))
                .order_by(VariableRow.key)
            )
            return [
                VariableKey(
                    key=r.key,
                    label=r.label,
                    description=r.description,
                    value_type=r.value_type,
                    category=r.category,
                    scope=r.scope,
                    scope_key=r.scope_key,
                )
                for r in rows.all()
            ]

    async def list(
        self,
        *,
        key: str | None = None,
        scope: str | None = None,
        scope_key: str | None = None,
        user_name: str | None = None,
        sys_code: str | None = None,
        category: str | None = None,
        page: int = 1,
        page_size: int = 20,
    ) -> tuple[list[Variable], int]:
        """Variables matching every filter given (oldest first), a page of them, and how
        many match in all."""
        where = [
            column == value
            for column, value in (
                (VariableRow.key, key),
                (VariableRow.scope, scope),
                (VariableRow.scope_key, scope_key),
                (VariableRow.user_name, user_name),
                (VariableRow.sys_code, sys_code),
                (VariableRow.category, category),
            )
            if value is not None
        ]
        query = (
            select(VariableRow)
            .where(*where)
            .order_by(VariableRow.id)
            .offset(page_offset(page, page_size))
            .limit(page_limit(page_size))
        )
        async with self._tx() as s:
            total = await s.scalar(select(func.count(VariableRow.id)).where(*where)) or 0
            rows = await s.scalars(query)
            return [self._variable(r) for r in rows.all()], int(total)

    async def delete(self, variable_id: int) -> Variable:
        """Delete the variable; it as it was. :class:`UnknownVariable` when absent."""
        async with self._tx() as s:
            row = await s.get(VariableRow, variable_id)
            if row is None:
                raise UnknownVariable(variable_id)
            gone = self._variable(row)
            await s.delete(row)
        self.version += 1
        return gone

    def _variable(self, row: VariableRow, *, reveal: bool = False) -> Variable:
        # A secret is decrypted only to be resolved in a flow (``reveal``); what routes
        # read carries None, so a clear secret is never in memory for them.
        value: Any = None
        if row.category != SECRET:
            value = typed_value(row.value_type, row.value)
        elif reveal:
            text = self._secrets.decrypt(
                row.value, what=f"the secret variable '{row.key}:{row.name}'"
            )
            value = typed_value(row.value_type, text)
        return Variable(
            id=row.id,
            key=row.key,
            name=row.name,
            label=row.label,
            description=row.description,
            value_type=row.value_type,
            category=row.category,
            scope=row.scope,
            scope_key=row.scope_key,
            value=value,
            enabled=row.enabled,
            user_name=row.user_name,
            sys_code=row.sys_code,
            gmt_created=row.gmt_created,
            gmt_modified=row.gmt_modified,
        )


def _same_identity(new: NewVariable) -> list[Any]:
    return [
        VariableRow.key == new.key,
        VariableRow.name == new.name,
        VariableRow.scope == new.scope,
        VariableRow.scope_key == new.scope_key,
        VariableRow.user_name == new.user_name,
        VariableRow.sys_code == new.sys_code,
    ]
