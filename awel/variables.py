"""Flow variables: DB-GPT's ``${key:name@scope:scope_key#sys_code%user_name}`` references.

A text parameter of a YAML node may be such a reference, or hold one inside its text::

    nodes:
      greet: {op: awel.format, params: {template: "${greeting:text@global}, {{ name }}"}}
      call:
        op: http.request
        params:
          url: https://api.example.com/v1/items
          headers: {Authorization: "Bearer ${api:token@global}"}

**When they are resolved: just before the node runs, at every call.** The loader keeps the
node as written (its parameters validated with the references in place) and gives it a
:class:`VariableBinding`; the plan wraps the node's step with it. At each call the binding
asks the installed :class:`VariablesProvider` for the values, and when they differ from
the last call's it builds a twin of the node from the parameters with the values put in
and compiles the twin's step (once per set of values, not per call). So a changed
variable is seen by the next call, with no reload or redeploy, and a flow loads where no
variables exist (``awel validate``). Resolving at load would have meant reloading every
flow that names a variable on each change, through whoever loaded it.

**The engine holds only the interface.** The values live in the metadata store, which the
engine does not know: the server installs a provider (:func:`install_variables`), as it
installs the flows callable by id (:mod:`awel.catalog`).

**Values for one call.** :func:`call_variables` puts values in front of the provider for
the calls made inside its block (DB-GPT's per-call ``dag_variables``, which ``/flow/debug``
takes as ``variables``): a context variable holds them, so the tasks a call starts see them
and any other call, concurrent or later, does not; nothing stored changes.

**Secrets.** A variable the provider says is secret is put only into parameters whose
field is marked as holding credentials (``Field(json_schema_extra=SECRET_PARAM)``, e.g.
``http.request``'s ``headers``); anywhere else the node fails naming the reference, since a
text parameter such as ``awel.format``'s template would hand the secret to whoever calls
the flow. A failure of a node holding a secret is reported with the secret's text replaced
by ``******`` (and without its chained cause), so it reaches no log and no answer.

Rules of the syntax: a reference needs ``key`` and ``name``; ``scope`` defaults to
``global``; ``flow_priv`` without a ``scope_key`` means the flow's own id. ``\\`` escapes
``: @ # % } \\``. ``${key}`` alone (DB-GPT's "every value of a key") is not a reference
here and stays text, as does anything else that is not ``${key:name...}``. In a parameter,
a value is put in as text: ``true``/``false`` for a bool, the number's digits otherwise.
"""

from __future__ import annotations

import contextvars
import copy
import dataclasses
import re
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError

from .errors import AwelError

if TYPE_CHECKING:
    from .operators import BaseOperator
    from .plan import Step

__all__ = [
    "MASK",
    "SECRET_PARAM",
    "ResolvedVariable",
    "VariableBinding",
    "VariableError",
    "VariableRef",
    "VariablesProvider",
    "call_variables",
    "find_references",
    "install_variables",
    "installed_variables",
    "parse_reference",
    "references_in",
]

#: What a secret's text is replaced with in errors.
MASK = "******"
#: ``json_schema_extra`` of a parameter field that may hold a secret variable.
SECRET_PARAM: dict[str, Any] = {"x-secret": True}
#: The scope a reference without ``@scope`` names.
DEFAULT_SCOPE = "global"

_REFERENCE = re.compile(r"\$\{((?:\\.|[^}\\])+)\}")
_KEY = re.compile(r"[A-Za-z_][\w.\-]*")


class VariableError(AwelError):
    """A reference cannot be resolved: unknown variable, a secret where secrets may not go,
    a value that does not fit its parameter, no variables here at all."""

    code = "variable.unresolved"


@dataclass(frozen=True, slots=True)
class VariableRef:
    """One parsed ``${...}`` reference; ``text`` is how it was written."""

    key: str
    name: str
    scope: str = DEFAULT_SCOPE
    scope_key: str | None = None
    sys_code: str | None = None
    user_name: str | None = None
    text: str = ""

    def __str__(self) -> str:
        return self.text or f"${{{self.key}:{self.name}@{self.scope}}}"


@dataclass(frozen=True, slots=True)
class ResolvedVariable:
    """A variable's value as the provider found it, and whether it is a secret."""

    value: Any
    secret: bool = False

    def text(self) -> str:
        """The value as put into a text parameter."""
        if isinstance(self.value, bool):
            return "true" if self.value else "false"
        return "" if self.value is None else str(self.value)


class VariablesProvider(Protocol):
    """Whatever holds the variables flows refer to (the server installs one)."""

    async def lookup(self, ref: VariableRef, *, flow_id: str) -> ResolvedVariable | None:
        """The variable ``ref`` names for a node of the flow ``flow_id``; None if none."""
        ...


_installed: VariablesProvider | None = None


def install_variables(provider: VariablesProvider | None) -> VariablesProvider | None:
    """Make ``provider`` the one flows resolve references with; returns the one replaced."""
    global _installed
    previous, _installed = _installed, provider
    return previous


def installed_variables() -> VariablesProvider | None:
    return _installed


#: What a reference is looked up by: key, name, scope, scope_key, sys_code, user_name.
Ident = tuple[str, str, str, str | None, str | None, str | None]
_call_values: contextvars.ContextVar[Mapping[Ident, ResolvedVariable] | None] = (
    contextvars.ContextVar("awel_call_variables", default=None)
)


def _ident(ref: VariableRef) -> Ident:
    return (ref.key, ref.name, ref.scope, ref.scope_key, ref.sys_code, ref.user_name)


@contextmanager
def call_variables(values: Mapping[VariableRef, ResolvedVariable]) -> Iterator[None]:
    """Within the block, ``values`` win over the provider's for the references naming them
    (matched by key, name, scope, scope key, sys code and user); the calls made outside it
    never see them. Blocks nest, the inner values winning.

    >>> ref = parse_reference("${greeting:text}")
    >>> with call_variables({ref: ResolvedVariable("Hola")}):
    ...     pass
    """
    merged = dict(_call_values.get() or {})
    merged.update((_ident(ref), value) for ref, value in values.items())
    token = _call_values.set(merged)
    try:
        yield
    finally:
        _call_values.reset(token)


# --- the syntax ------------------------------------------------------------------------------


def _split(body: str) -> Iterator[tuple[str, str]]:
    """The parts of a reference's body, each with the delimiter before it ('' first)."""
    lead, part, escaped = "", [], False
    for ch in body:
        if escaped:
            part.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in ":@#%":
            yield lead, "".join(part)
            lead, part = ch, []
        else:
            part.append(ch)
    yield lead, "".join(part)


#: After each part of a reference, the delimiters that may follow and the part each opens.
_NEXT: dict[str, dict[str, str]] = {
    "key": {":": "name", "@": "scope", "#": "sys_code", "%": "user_name"},
    "name": {"@": "scope", "#": "sys_code", "%": "user_name"},
    "scope": {":": "scope_key", "#": "sys_code", "%": "user_name"},
    "scope_key": {"#": "sys_code", "%": "user_name"},
    "sys_code": {"%": "user_name"},
    "user_name": {},
}


def _parse_body(body: str, text: str) -> VariableRef | None:
    fields: dict[str, str] = {}
    current = "key"
    for lead, part in _split(body):
        if lead:
            following = _NEXT[current].get(lead)
            if following is None:
                return None
            current = following
        fields[current] = part
    key, name = fields.get("key", ""), fields.get("name", "")
    if not _KEY.fullmatch(key) or not name:
        return None
    return VariableRef(
        key=key,
        name=name,
        scope=fields.get("scope") or DEFAULT_SCOPE,
        scope_key=fields.get("scope_key") or None,
        sys_code=fields.get("sys_code") or None,
        user_name=fields.get("user_name") or None,
        text=text,
    )


def find_references(text: str) -> list[tuple[int, int, VariableRef]]:
    """Each reference in ``text``: where it starts and ends, and what it names."""
    found: list[tuple[int, int, VariableRef]] = []
    for match in _REFERENCE.finditer(text):
        ref = _parse_body(match.group(1), match.group(0))
        if ref is not None:
            found.append((match.start(), match.end(), ref))
    return found


def parse_reference(text: str) -> VariableRef | None:
    """The reference ``text`` is, exactly; None when it is anything else."""
    refs = find_references(text)
    if len(refs) == 1 and refs[0][0] == 0 and refs[0][1] == len(text):
        return refs[0][2]
    return None


Path = tuple[str | int, ...]


def references_in(params: Any, path: Path = ()) -> list[tuple[Path, VariableRef]]:
    """Every reference inside ``params`` (dicts and lists walked), with the path to its
    string."""
    if isinstance(params, str):
        return [(path, ref) for _, _, ref in find_references(params)]
    out: list[tuple[Path, VariableRef]] = []
    if isinstance(params, Mapping):
        for key, value in params.items():
            out.extend(references_in(value, (*path, str(key))))
    elif isinstance(params, list):
        for i, value in enumerate(params):
            out.extend(references_in(value, (*path, i)))
    return out


def _substitute(params: Any, values: Mapping[str, ResolvedVariable]) -> Any:
    if isinstance(params, str):
        refs = find_references(params)
        if not refs:
            return params
        out, pos = [], 0
        for start, end, ref in refs:
            out.append(params[pos:start])
            out.append(values[ref.text].text())
            pos = end
        out.append(params[pos:])
        return "".join(out)
    if isinstance(params, Mapping):
        return {key: _substitute(value, values) for key, value in params.items()}
    if isinstance(params, list):
        return [_substitute(value, values) for value in params]
    return params


def _dotted(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# --- binding a node to its variables -----------------------------------------------------------


@dataclass(eq=False)
class VariableBinding:
    """What a node built from parameters holding references needs to resolve them.

    ``params`` are the parameters as written; ``rebuild`` builds a fresh node of the same
    operator from parameters (the loader gives the registry's build); ``secret_fields``
    are the top-level parameters that may hold a secret.
    """

    params: dict[str, Any]
    rebuild: Callable[[dict[str, Any]], BaseOperator]
    secret_fields: frozenset[str] = frozenset()
    refs: list[tuple[Path, VariableRef]] = field(init=False)

    def __post_init__(self) -> None:
        self.refs = references_in(self.params)

    def bind(self, node: BaseOperator, inputs: Sequence[bool], streams: bool) -> Step:
        """The node's step, resolving its references at each call (see the module)."""
        last: list[Any] = [None, None]  # the values the twin was built with, its step

        async def with_variables(*args: Any) -> Any:
            values = await self.resolve(node)
            key = tuple((text, v.value, v.secret) for text, v in values.items())
            if last[0] != key:
                last[1] = self._twin_step(node, values, inputs, streams)
                last[0] = key
            step: Step = last[1]
            secrets = [v.text() for v in values.values() if v.secret and v.text()]
            if not secrets:
                return await step(*args)
            clean: Exception | None = None
            try:
                out = await step(*args)
            except Exception as exc:
                clean = _scrubbed(exc, secrets)
                if clean is exc:
                    raise
            if clean is not None:
                # Raised outside the except block: not even __context__ holds the original.
                raise clean
            return _scrubbed_stream(out, secrets) if streams else out

        return with_variables

    async def resolve(self, node: BaseOperator) -> dict[str, ResolvedVariable]:
        """Each reference's value, by how it was written; :class:`VariableError` naming the
        reference and the node for the first that cannot be resolved or placed."""
        provider = _installed
        given = _call_values.get()
        flow_id = node.dag.dag_id if node.dag is not None else ""
        values: dict[str, ResolvedVariable] = {}
        for path, ref in self.refs:
            if ref.text in values:
                found: ResolvedVariable | None = values[ref.text]
            else:
                lookup = ref
                if ref.scope == "flow_priv" and ref.scope_key is None:
                    lookup = dataclasses.replace(ref, scope_key=flow_id)
                found = given.get(_ident(lookup)) if given else None
                if found is None and provider is None:
                    raise VariableError(
                        f"{_where(node)}: {ref} (parameter '{_dotted(path)}') cannot be"
                        " resolved: no variables are available here (the server provides"
                        " them)"
                    )
                if found is None and provider is not None:
                    found = await provider.lookup(lookup, flow_id=flow_id)
            if found is None:
                raise VariableError(
                    f"{_where(node)}: unknown variable {ref} (parameter '{_dotted(path)}');"
                    " define it (the /variables API) or correct the reference"
                )
            if found.secret and str(path[0]) not in self.secret_fields:
                allowed = ", ".join(sorted(self.secret_fields)) or "none"
                raise VariableError(
                    f"{_where(node)}: {ref} is a secret, and parameter '{_dotted(path)}'"
                    f" does not take secrets (those of this operator that do: {allowed});"
                    " a secret goes only where it cannot be echoed back"
                )
            values[ref.text] = found
        return values

    def _twin_step(
        self,
        node: BaseOperator,
        values: Mapping[str, ResolvedVariable],
        inputs: Sequence[bool],
        streams: bool,
    ) -> Step:
        secrets = [v.text() for v in values.values() if v.secret and v.text()]
        clean: Exception | None = None
        try:
            twin = self.rebuild(_substitute(self.params, values))
        except ValidationError as exc:
            # Its message and context would show the value put in: say only where and why.
            first = exc.errors()[0]
            where = _dotted(tuple(first["loc"])) or "params"
            clean = VariableError(
                _masked(
                    f"{_where(node)}: with its variables put in, parameter '{where}'"
                    f" is refused: {first['msg']}",
                    secrets,
                )
            )
        except Exception as exc:
            clean = _scrubbed(exc, secrets)
            if clean is exc:
                raise
        if clean is not None:
            raise clean
        # The twin stands where the node stands: same links, flow and location.
        twin.dag, twin.upstream, twin.downstream = node.dag, node.upstream, node.downstream
        twin.location, twin.node_id = node.location, node.node_id
        step, twin_streams = twin.compile_step(inputs)
        if twin_streams != streams:
            raise VariableError(
                f"{_where(node)}: with its variables put in, the node "
                f"{'gives' if twin_streams else 'no longer gives'} a stream; a variable"
                " cannot change what kind of output a node has"
            )
        return step


def _where(node: BaseOperator) -> str:
    flow = node.dag.dag_id if node.dag is not None else "?"
    return f"flow '{flow}', node '{node.label}'"


def _masked(text: str, secrets: Sequence[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def _scrubbed(exc: Exception, secrets: Sequence[str]) -> Exception:
    """``exc`` if no secret is in what it says; else an error of the same kind (code and
    param kept for an :class:`AwelError`) saying it with the secrets masked."""
    said = str(exc)
    if not any(s in said for s in secrets):
        return exc
    text = _masked(said, secrets)
    if isinstance(exc, AwelError):
        clean = copy.copy(exc)
        clean.message = _masked(exc.message, secrets)
        clean.args = (clean.message,)
        clean.__cause__ = clean.__context__ = None
        return clean
    try:
        made = type(exc)(text)
    except Exception:
        return RuntimeError(text)
    return made if str(made) == text else RuntimeError(text)


async def _scrubbed_stream(stream: Any, secrets: Sequence[str]) -> AsyncIterator[Any]:
    clean: Exception | None = None
    try:
        async for item in stream:
            yield item
    except Exception as exc:
        clean = _scrubbed(exc, secrets)
        if clean is exc:
            raise
    if clean is not None:
        raise clean
