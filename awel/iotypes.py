"""What an operator takes and gives, and whether one node's output fits the next one's input.

An operator's types are the type arguments of its generic base: ``class Ask(MapOperator[str,
Answer])`` takes ``str`` and gives ``Answer``. What each argument means is the kind's business
(:meth:`awel.operators.BaseOperator.kind_types`); this module only reads type arguments
(:func:`generic_args`), compares types (:func:`fits`) and names them for people
(:func:`type_name`). It imports nothing of the engine, so validation can sit below the
operator kinds.

The comparison is deliberately forgiving: a flow is refused before it runs only when the
types certainly cannot meet. ``Any``, a type variable, an annotation that cannot be read, a
protocol, or a declared type wider than the one expected (``BaseModel`` where a
``ChatMessage`` is taken: the value may well be one) are *unsure*, never a mismatch.
"""

from __future__ import annotations

import collections.abc as cabc
import functools
import inspect
import types
import typing
from dataclasses import dataclass, replace
from typing import Any, TypeVar, get_args, get_origin

__all__ = [
    "FROM_GENERICS",
    "NodeTypes",
    "fits",
    "generic_args",
    "is_unknown",
    "type_name",
]


class _FromGenerics:
    """The default of ``in_type`` / ``out_type``: read the type from the generic base."""

    def __repr__(self) -> str:
        return "FROM_GENERICS"


#: ``BaseOperator.in_type`` / ``out_type`` when the node leaves them to its generic base.
FROM_GENERICS: Any = _FromGenerics()


@dataclass(frozen=True, slots=True)
class NodeTypes:
    """What a node takes and gives, as far as it declares (``Any``: anything).

    Stream operators are described by their items: a streamify of ``str`` gives ``str`` with
    ``gives_stream``; a map over a stream takes and gives items, as it runs per item.
    """

    #: What every input takes (for joins: every input past the ones in ``inputs``).
    takes: Any = Any
    #: What the node gives (an item type when it gives a stream).
    gives: Any = Any
    #: Joins: the type of each positional input, in upstream order, where declared.
    inputs: tuple[Any, ...] = ()
    #: It gives what it is given (a branch passes its input on).
    passes_through: bool = False
    #: Takes a stream (reduce, unstreamify, transform); gives a stream (streamify, transform).
    takes_stream: bool = False
    gives_stream: bool = False

    def takes_at(self, index: int) -> Any:
        """The type the input at ``index`` (in upstream order) takes."""
        return self.inputs[index] if index < len(self.inputs) else self.takes

    def with_overrides(self, in_type: Any, out_type: Any) -> NodeTypes:
        """These types with a node's own ``in_type`` / ``out_type`` put in where set."""
        if in_type is FROM_GENERICS and out_type is FROM_GENERICS:
            return self
        return replace(
            self,
            takes=self.takes if in_type is FROM_GENERICS else in_type,
            inputs=self.inputs if in_type is FROM_GENERICS else (),
            gives=self.gives if out_type is FROM_GENERICS else out_type,
        )


# --- reading type arguments ----------------------------------------------------------------


def generic_args(cls: Any, base: type) -> tuple[Any, ...]:
    """The type arguments ``cls`` gives the parameters of its generic ``base``.

    ``generic_args(Ask, MapOperator)`` is ``(str, Answer)`` for ``class Ask(MapOperator[str,
    Answer])``, through any depth of subclasses (``class Sub(Mid[int])`` where ``class
    Mid(MapOperator[T, list[T]])`` gives ``(int, list[int])``); ``cls`` may be such a
    parameterised class itself (``MapOperator[int, str]``). A parameter nobody filled is
    ``Any``.
    """
    try:
        return _cached_args(cls, base)
    except TypeError:  # a parameterised class with an unhashable argument
        return _generic_args(cls, base)


def _generic_args(cls: Any, base: type) -> tuple[Any, ...]:
    origin = get_origin(cls)
    if isinstance(origin, type):
        found = _args_through(origin, base)
        if found is not None:
            mapping = dict(zip(getattr(origin, "__parameters__", ()), get_args(cls), strict=False))
            found = tuple(_substitute(arg, mapping) for arg in found)
    else:
        found = _args_through(cls, base)
    params = getattr(base, "__parameters__", ())
    if found is None:
        return tuple(Any for _ in params)
    return tuple(Any if isinstance(arg, TypeVar) else arg for arg in found)


_cached_args = functools.lru_cache(maxsize=1024)(_generic_args)


def _args_through(cls: type, base: type) -> tuple[Any, ...] | None:
    """``base``'s arguments in terms of ``cls``'s own type parameters (None: not a base)."""
    if cls is base:
        return tuple(getattr(base, "__parameters__", ()))
    for parent in getattr(cls, "__orig_bases__", cls.__bases__):
        origin = get_origin(parent) or parent
        if not (isinstance(origin, type) and issubclass(origin, base)):
            continue
        through = _args_through(origin, base)
        if through is None:
            continue
        params = getattr(origin, "__parameters__", ())
        given = get_args(parent) if get_origin(parent) is not None else ()
        mapping = dict(zip(params, given, strict=False))
        return tuple(_substitute(arg, mapping) for arg in through)
    return None


def _substitute(tp: Any, mapping: dict[Any, Any]) -> Any:
    if isinstance(tp, TypeVar):
        return mapping.get(tp, tp)
    free = getattr(tp, "__parameters__", ())
    if free and not isinstance(tp, type):
        try:
            return tp[tuple(mapping.get(p, p) for p in free)]
        except TypeError:
            return tp
    return tp


# --- comparing -----------------------------------------------------------------------------

_UNION_TYPES: tuple[Any, ...] = (typing.Union, types.UnionType)
# Generic origins whose arguments mean the same thing position by position, so ``list[X]``
# can be compared with ``Sequence[Y]`` argument by argument.
_ONE_ITEM = frozenset(
    {
        list,
        set,
        frozenset,
        cabc.Iterable,
        cabc.Iterator,
        cabc.Collection,
        cabc.Sequence,
        cabc.MutableSequence,
        cabc.Set,
        cabc.MutableSet,
        cabc.AsyncIterable,
        cabc.AsyncIterator,
    }
)
_TWO_ITEMS = frozenset({dict, cabc.Mapping, cabc.MutableMapping})
# A stream's type names its items; the engine compares items.
_STREAMS = frozenset({cabc.AsyncIterator, cabc.AsyncIterable, cabc.AsyncGenerator})
# PEP 484's numeric tower: an int is accepted where a float is.
_NUMERIC = {int: (float, complex), float: (complex,)}


def is_unknown(tp: Any) -> bool:
    """``Any``, a type variable, an unread annotation: a type that says nothing."""
    tp = _strip(tp)
    return (
        tp is Any
        or tp is object
        or tp is FROM_GENERICS
        or isinstance(tp, (TypeVar, str, typing.ForwardRef))
    )


def _strip(tp: Any) -> Any:
    """``Annotated[X, ...]`` as ``X``, a ``NewType`` as its base, a stream as its items."""
    while True:
        origin = get_origin(tp)
        if origin is typing.Annotated:
            tp = get_args(tp)[0]
        elif isinstance(tp, typing.NewType):
            tp = tp.__supertype__
        elif origin in _STREAMS:
            args = get_args(tp)
            tp = args[0] if args else Any
        elif isinstance(tp, type) and tp in _STREAMS:
            tp = Any
        else:
            return tp


def _members(tp: Any) -> tuple[Any, ...]:
    return get_args(tp) if get_origin(tp) in _UNION_TYPES else (tp,)


def fits(given: Any, taken: Any) -> bool | None:
    """Whether a value declared ``given`` fits an input declared ``taken``.

    True: it certainly does. False: it certainly does not (the flow is refused). None:
    unsure (something is ``Any``, unreadable, or the given type is wider than the taken
    one), which is never reported.
    """
    given, taken = _strip(given), _strip(taken)
    if is_unknown(given) or is_unknown(taken):
        return None
    if len(_members(taken)) > 1:
        return _any_of(fits(given, member) for member in _members(taken))
    if len(_members(given)) > 1:
        # Every member must fit for sure; one that might is enough not to refuse.
        results = [fits(member, taken) for member in _members(given)]
        if all(r is True for r in results):
            return True
        return False if all(r is False for r in results) else None
    if get_origin(given) is typing.Literal:
        return fits(_literal_types(given), taken)
    if get_origin(taken) is typing.Literal:
        # Only some values of the given type fit; certain only when none can.
        return None if fits(given, _literal_types(taken)) is not False else False
    return _fits_class(given, taken)


def _any_of(results: cabc.Iterable[bool | None]) -> bool | None:
    unsure = False
    for r in results:
        if r is True:
            return True
        unsure = unsure or r is None
    return None if unsure else False


def _literal_types(tp: Any) -> Any:
    kinds = tuple(dict.fromkeys(type(v) for v in get_args(tp)))
    return kinds[0] if len(kinds) == 1 else typing.Union[kinds]  # noqa: UP007


def _split(tp: Any) -> tuple[Any, tuple[Any, ...]]:
    """A type as (runtime class, its arguments)."""
    if tp is None or tp is types.NoneType:
        return types.NoneType, ()
    if typing.is_typeddict(tp):
        return dict, (str, Any)
    origin = get_origin(tp)
    if origin is not None:
        return origin, get_args(tp)
    return tp, ()


def _is_record(cls: type) -> bool:
    # A pydantic model, recognised without importing pydantic into the engine's core.
    return hasattr(cls, "model_fields") and hasattr(cls, "model_validate")


def _fits_class(given: Any, taken: Any) -> bool | None:
    g_cls, g_args = _split(given)
    t_cls, t_args = _split(taken)
    if not (isinstance(g_cls, type) and isinstance(t_cls, type)):
        return None  # Callable[...], a special form: not ours to judge
    try:
        if issubclass(g_cls, t_cls):
            return _fits_args(g_cls, g_args, t_cls, t_args)
        if issubclass(t_cls, g_cls):
            return None  # declared wider than taken: the value may be the narrower kind
    except TypeError:
        return None  # a protocol or another class that refuses subclass checks
    if t_cls in _NUMERIC.get(g_cls, ()):
        return True
    mapping = issubclass(g_cls, cabc.Mapping), issubclass(t_cls, cabc.Mapping)
    if (mapping[0] and _is_record(t_cls)) or (mapping[1] and _is_record(g_cls)):
        # Dicts and pydantic models are both records: expressions bind either's fields,
        # and many operators validate a dict into their model.
        return None
    if _is_protocol(t_cls) or _is_protocol(g_cls) or (_is_abstract(g_cls) and _is_abstract(t_cls)):
        return None  # structural, or two interfaces one class may well implement both of
    return False


def _is_abstract(cls: type) -> bool:
    return inspect.isabstract(cls) or cls.__module__ == "collections.abc"


def _is_protocol(cls: type) -> bool:
    return bool(getattr(cls, "_is_protocol", False))


def _fits_args(
    g_cls: type, g_args: tuple[Any, ...], t_cls: type, t_args: tuple[Any, ...]
) -> bool | None:
    if not t_args:
        return True
    if t_cls in _ONE_ITEM and len(t_args) == 1:
        # Compare items: list[X] with Sequence[Y], and a str is a sequence of str.
        if issubclass(g_cls, (str, bytes, bytearray)):
            g_args = (str,) if issubclass(g_cls, str) else (int,)
        elif issubclass(g_cls, tuple):
            g_args = g_args[:1] if len(g_args) == 2 and g_args[1] is Ellipsis else ()
        elif not (g_cls in _ONE_ITEM or issubclass(g_cls, (list, set, frozenset))):
            return None
    elif not (g_cls is t_cls or (g_cls in _TWO_ITEMS and t_cls in _TWO_ITEMS)):
        return None
    if not g_args:
        return None  # a bare list may hold anything
    if len(g_args) != len(t_args) or Ellipsis in g_args + t_args:
        return None
    results = [fits(g, t) for g, t in zip(g_args, t_args, strict=True)]
    if any(r is False for r in results):
        return False
    return True if all(r is True for r in results) else None


# --- naming --------------------------------------------------------------------------------


def type_name(tp: Any) -> str:
    """A type as a person writes it: ``list[ChatMessage]``, ``str | None``, ``Any``."""
    if is_unknown(tp):
        return "Any"
    if tp is None or tp is types.NoneType:
        return "None"
    if tp is Ellipsis:
        return "..."
    origin = get_origin(tp)
    if origin is typing.Annotated:
        return type_name(get_args(tp)[0])
    if origin in _UNION_TYPES:
        return " | ".join(type_name(member) for member in get_args(tp))
    if origin is typing.Literal:
        return f"Literal[{', '.join(repr(v) for v in get_args(tp))}]"
    if isinstance(tp, typing.NewType):
        return tp.__name__
    if origin is not None:
        args = get_args(tp)
        name = type_name(origin)
        if not args:
            return name
        if origin is cabc.Callable and len(args) == 2 and isinstance(args[0], list):
            params = ", ".join(type_name(a) for a in args[0])
            return f"Callable[[{params}], {type_name(args[1])}]"
        return f"{name}[{', '.join(type_name(a) for a in args)}]"
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")
