"""Building models to ONNX, offline, into a content-hashed cache.

    >>> path = build_model("smollm2", Path("data"))  # doctest: +SKIP
    >>> path.name  # doctest: +SKIP
    'smollm2-1f3c9a7e2b4d'

``awel model build`` is the command-line face of :func:`build_model`. Building needs the
``export`` extra (torch, transformers, the onnxruntime-genai model builder); reading the cache
(:func:`list_models`, :func:`find_model`) needs nothing beyond the standard library, so a
serving-only install can find the models. Modules:

* :mod:`.cache`: content hashes, cache folders, manifests, the build lock;
* :mod:`.sources`: known names (models shipped inside PyPI packages) and local paths;
* :mod:`.build`: :func:`build_model` and the recipe of each kind;
* :mod:`.gguf`, :mod:`.llm`, :mod:`.encoder`: the conversions, importing torch only when run.
"""

from __future__ import annotations

from .build import RECIPES, BuildError, Progress, Recipe, build_model
from .cache import BUILDER_VERSION, MANIFEST, ModelInfo, find_model, list_models
from .sources import DEFAULT_MODELS, KNOWN_MODELS, KnownModel, Source, resolve

__all__ = [
    "BUILDER_VERSION",
    "DEFAULT_MODELS",
    "KNOWN_MODELS",
    "MANIFEST",
    "RECIPES",
    "BuildError",
    "KnownModel",
    "ModelInfo",
    "Progress",
    "Recipe",
    "Source",
    "build_model",
    "find_model",
    "list_models",
    "resolve",
]
