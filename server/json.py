"""JSON encoding for responses: pydantic models, dataclasses and plain values alike."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import json
import uuid
from typing import Any

from pydantic import BaseModel


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        # numpy arrays and scalars (embeddings.embed's vectors), without importing numpy.
        return tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# Compact, non-ASCII kept as is: what FastAPI's JSONResponse (DB-GPT's server) writes.
_encoder = json.JSONEncoder(ensure_ascii=False, default=_default, separators=(",", ":"))


def dumps(value: Any) -> bytes:
    """UTF-8 JSON bytes."""
    return _encoder.encode(value).encode()


def dumps_text(value: Any) -> str:
    """One-line JSON text, for stream events."""
    return _encoder.encode(value)
