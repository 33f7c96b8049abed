"""The process's models: names to language and embeddings models, and the set flows reach.

A server loads one :class:`ModelSet` at start-up (the default models built in its data
folder) and installs it with :func:`install_models`; every flow of every app in the process
(the model API on 8100, the webserver's examples) reads it through :func:`current_models`.
One set per process, not one per app: a model holds hundreds of megabytes, and requests of
both apps sharing one engine get batched together.

    >>> models = ModelSet(llms=[my_llm])  # doctest: +SKIP
    >>> previous = install_models(models)  # doctest: +SKIP
    >>> current_models().llm("smollm2")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NoReturn, cast

from awel.errors import AwelError

from .admission import ModelQueue, QueueLimits
from .embed.types import EmbeddingModel
from .export.cache import find_model, list_models
from .export.sources import DEFAULT_MODELS
from .llm.types import LanguageModel

__all__ = [
    "ModelCard",
    "ModelSet",
    "NoModel",
    "UnknownModel",
    "WrongModelKind",
    "current_models",
    "install_models",
    "installed_models",
    "load_model",
    "queue_of",
    "using_models",
]

log = logging.getLogger("awel.models")

Kind = Literal["llm", "embeddings"]
_KIND_WORDS = {"llm": "language", "embeddings": "embeddings"}


class UnknownModel(AwelError):
    """No model of the wanted kind goes by that name (OpenAI's 404 ``model_not_found``)."""

    code = "model.not_found"

    def __init__(self, name: str, kind: Kind | None, known: Sequence[str]) -> None:
        listed = ", ".join(known) if known else "none is loaded"
        what = f"{_KIND_WORDS[kind]} models" if kind is not None else "models"
        super().__init__(f"the model '{name}' does not exist; {what}: {listed}", param="model")
        self.name = name
        self.kind = kind


class WrongModelKind(AwelError):
    """The model exists but cannot do what was asked (an embeddings model asked to chat)."""

    code = "model.wrong_kind"

    def __init__(self, name: str, kind: Kind, is_kind: Kind) -> None:
        super().__init__(
            f"the model '{name}' is an {_KIND_WORDS[is_kind]} model; this route needs"
            f" a {_KIND_WORDS[kind]} model",
            param="model",
        )


class NoModel(AwelError):
    """Nothing of a kind is loaded, so there is no default to fall back on."""

    code = "model.not_loaded"

    def __init__(self, kind: Kind) -> None:
        super().__init__(
            f"no {_KIND_WORDS[kind]} model is loaded; build one with `awel model build`"
            " and restart the server"
        )


@dataclass(frozen=True, slots=True)
class ModelCard:
    """What the model list says about one model."""

    id: str
    kind: Kind
    created: int
    owned_by: str = "awel"


class ModelSet:
    """Models by name. The first of each kind is its default."""

    def __init__(
        self,
        llms: Iterable[LanguageModel] = (),
        embedders: Iterable[EmbeddingModel] = (),
        *,
        created: int | None = None,
    ) -> None:
        self._llms: dict[str, LanguageModel] = {m.name: m for m in llms}
        self._embedders: dict[str, EmbeddingModel] = {m.name: m for m in embedders}
        #: When the set was loaded (the model list's ``created``).
        self.created = int(time.time()) if created is None else created
        #: The queue limits of the set's models (:meth:`limit_queues`), None: their own.
        self.queue_limits: QueueLimits | None = None

    def limit_queues(self, limits: QueueLimits) -> None:
        """Bound the queue of every model that queues, now and added later."""
        self.queue_limits = limits
        for model in (*self._llms.values(), *self._embedders.values()):
            queue = queue_of(model)
            if queue is not None:
                queue.limits = limits

    def queues(self) -> list[ModelQueue]:
        """The admission queues of the models that have one (local engines do)."""
        found = (queue_of(m) for m in (*self._llms.values(), *self._embedders.values()))
        return [q for q in found if q is not None]

    def llm(self, name: str | None = None) -> LanguageModel:
        """The language model called ``name`` (the default one for None)."""
        if name is None:
            if not self._llms:
                raise NoModel("llm")
            return next(iter(self._llms.values()))
        found = self._llms.get(name)
        if found is None:
            self._missing(name, "llm")
        return found

    def embedder(self, name: str | None = None) -> EmbeddingModel:
        """The embeddings model called ``name`` (the default one for None)."""
        if name is None:
            if not self._embedders:
                raise NoModel("embeddings")
            return next(iter(self._embedders.values()))
        found = self._embedders.get(name)
        if found is None:
            self._missing(name, "embeddings")
        return found

    def has_llm(self, name: str) -> bool:
        return name in self._llms

    def card(self, name: str) -> ModelCard:
        """The card of the model called ``name``, of either kind."""
        for card in self.cards():
            if card.id == name:
                return card
        raise UnknownModel(name, None, [c.id for c in self.cards()])

    def _missing(self, name: str, kind: Kind) -> NoReturn:
        if kind == "llm" and name in self._embedders:
            raise WrongModelKind(name, "llm", "embeddings")
        if kind == "embeddings" and name in self._llms:
            raise WrongModelKind(name, "embeddings", "llm")
        raise UnknownModel(name, kind, list(self._llms if kind == "llm" else self._embedders))

    def cards(self) -> list[ModelCard]:
        """Every model, language models first, each kind in load order."""
        return [ModelCard(n, "llm", self.created) for n in self._llms] + [
            ModelCard(n, "embeddings", self.created) for n in self._embedders
        ]

    def __len__(self) -> int:
        return len(self._llms) + len(self._embedders)

    def add(self, model: LanguageModel | EmbeddingModel, kind: Kind) -> None:
        """Serve ``model`` from now on (a worker manager starting a model)."""
        if model.name in self._llms or model.name in self._embedders:
            raise ValueError(f"a model called '{model.name}' is already in the set")
        if kind == "llm":
            self._llms[model.name] = cast(LanguageModel, model)
        else:
            self._embedders[model.name] = cast(EmbeddingModel, model)
        queue = queue_of(model)
        if queue is not None and self.queue_limits is not None:
            queue.limits = self.queue_limits

    def remove(self, name: str) -> LanguageModel | EmbeddingModel | None:
        """Stop serving the model called ``name`` and return it (the caller closes it)."""
        return self._llms.pop(name, None) or self._embedders.pop(name, None)

    async def aclose(self) -> None:
        """Close every model (each frees its engine); the set is empty afterwards."""
        models: list[LanguageModel | EmbeddingModel] = [
            *self._llms.values(),
            *self._embedders.values(),
        ]
        self._llms.clear()
        self._embedders.clear()
        for model in models:
            try:
                await model.aclose()
            except Exception:
                # One model failing to close must not keep the others open.
                log.exception("closing model %s failed", model.name)

    @classmethod
    def load(
        cls, data_dir: Path, *, names: Sequence[str] = DEFAULT_MODELS, device: str = "cpu"
    ) -> ModelSet:
        """Load the builds called ``names`` from the data folder (blocking: call it in a
        thread). A name with no finished build, or one that fails to load, is skipped and
        logged, so a server without models still starts and says what is missing."""
        llms: list[LanguageModel] = []
        embedders: list[EmbeddingModel] = []
        for name in names:
            info = find_model(data_dir, name, device=device)
            if info is None:
                log.warning(
                    "model '%s' is not built in %s; run `awel model build %s --data-dir %s`",
                    name,
                    data_dir,
                    name,
                    data_dir,
                )
                continue
            started = time.perf_counter()
            try:
                model = _load_one(info.path, info.kind, name, device)
            except Exception:
                # One broken build must not keep the server (and the other models) down.
                log.exception("cannot load %s model '%s' from %s", info.kind, name, info.path)
                continue
            if model is None:
                log.warning("model '%s' is of kind '%s', which nothing serves", name, info.kind)
                continue
            if info.kind == "llm":
                llms.append(cast(LanguageModel, model))
            else:
                embedders.append(cast(EmbeddingModel, model))
            log.info(
                "loaded %s model '%s' from %s in %.1fs",
                info.kind,
                name,
                info.path,
                time.perf_counter() - started,
            )
        return cls(llms, embedders)


def queue_of(model: object) -> ModelQueue | None:
    """The model's admission queue: local engines have one; proxies and remote models
    leave queueing to whoever runs the model."""
    queue = getattr(model, "queue", None)
    return queue if isinstance(queue, ModelQueue) else None


def load_model(
    data_dir: Path, name: str, *, device: str = "cpu"
) -> tuple[LanguageModel | EmbeddingModel, Kind]:
    """Load the build called ``name`` (blocking: call it in a thread), with its kind.

    Raises :class:`UnknownModel` when no finished build has that name.
    """
    info = find_model(data_dir, name, device=device)
    if info is None:
        raise UnknownModel(name, None, sorted({i.name for i in list_models(data_dir)}))
    model = _load_one(info.path, info.kind, name, device)
    if model is None:
        raise UnknownModel(name, None, [])
    return model, cast(Kind, info.kind)


def _load_one(
    folder: Path, kind: str, name: str, device: str
) -> LanguageModel | EmbeddingModel | None:
    # The engines are imported here: they pull in onnxruntime, which a process that never
    # loads a model should not pay for.
    if kind == "llm":
        from .llm.engine import load_llm

        return load_llm(folder, name=name, device=device)
    if kind == "embeddings":
        from .embed.engine import load_embedder

        return load_embedder(folder, name=name, device=device)
    return None


_EMPTY = ModelSet(created=0)
_current: ModelSet | None = None


def current_models() -> ModelSet:
    """The set installed for this process (an empty one when none is)."""
    return _current if _current is not None else _EMPTY


def installed_models() -> ModelSet | None:
    """The set installed for this process, or None."""
    return _current


def install_models(models: ModelSet | None) -> ModelSet | None:
    """Make ``models`` the process's set; return the one it replaces."""
    global _current
    previous, _current = _current, models
    return previous


@asynccontextmanager
async def using_models(models: ModelSet, *, close: bool = True) -> AsyncIterator[ModelSet]:
    """Install ``models`` for the block; put the previous set back (and close these) after."""
    previous = install_models(models)
    try:
        yield models
    finally:
        install_models(previous)
        if close:
            await models.aclose()
