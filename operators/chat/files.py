"""Files uploaded for chat_excel: kept under the data folder, loaded into DuckDB.

A file's name never reaches the file system as sent: it is cut to its last path part,
reduced to letters, digits, ``.``, ``-`` and ``_``, and stored in a folder named by a fresh
id (``<data_dir>/files/<file_id>/``). Its rows go into a DuckDB file beside it, table
``data_analysis_table`` (DB-GPT's name), which the chat_excel scene queries read-only.

A scene finds the file again from the descriptor the upload answered (``file_path`` ends
with the file id), through the store: never from a path a client sends.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import re
import unicodedata
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

import anyio.to_thread
import duckdb

from awel.errors import AwelError
from awel.trigger import UploadedFile
from operators.storage import Datasource, MetadataStore, StoredFile

__all__ = [
    "BUCKET",
    "MAX_UPLOAD_BYTES",
    "SUFFIXES",
    "TABLE",
    "BadUpload",
    "descriptor",
    "excel_datasource",
    "resolve_file",
    "safe_name",
    "store_upload",
]

#: The largest file accepted, in bytes (the request limit of the server may be larger).
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
#: The file kinds chat_excel reads.
SUFFIXES = (".csv", ".xlsx", ".json", ".parquet")
TABLE = "data_analysis_table"
BUCKET = "dbgpt_app_file"
_URI_PREFIX = f"awel-fs://local/{BUCKET}/"
_ID = re.compile(r"^[0-9a-f]{32}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class BadUpload(AwelError):
    code = "upload.invalid"

    def __init__(self, message: str, field: str = "doc_files") -> None:
        super().__init__(f"{field}: {message}", param=field)


class UploadTooLarge(BadUpload):
    code = "upload.too_large"


def safe_name(filename: str | None) -> str:
    """A name safe to use in the file system: the last path part, ASCII letters, digits,
    ``.``, ``-``, ``_`` only, no leading dot, at most 100 characters."""
    # Some clients percent-encode the name (aiohttp does): decode it first, so an encoded
    # "../" is cut like a plain one.
    name = urllib.parse.unquote(filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    name = _UNSAFE.sub("_", name).lstrip("._-")
    if len(name) > 100:
        stem, dot, suffix = name.rpartition(".")
        name = (stem[: 100 - len(suffix) - 1] + dot + suffix) if dot else name[:100]
    return name or "upload"


def _suffix(name: str) -> str:
    return Path(name).suffix.lower()


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _xlsx_to_csv(source: Path, target: Path) -> None:
    import openpyxl  # type: ignore[import-untyped]

    book = openpyxl.load_workbook(source, read_only=True, data_only=True)
    try:
        sheet = book.worksheets[0]
        with target.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            for row in sheet.iter_rows(values_only=True):
                if row is None or all(v is None for v in row):
                    continue
                writer.writerow(
                    [
                        "" if v is None else v.isoformat() if isinstance(v, dt.date) else v
                        for v in row
                    ]
                )
    finally:
        book.close()


def _load(source: Path, database: Path) -> dict[str, Any]:
    """Load ``source`` into ``database``'s table; its columns and row count."""
    kind = _suffix(source.name)
    if kind == ".xlsx":
        as_csv = source.with_suffix(".csv.tmp")
        _xlsx_to_csv(source, as_csv)
        reader = f"read_csv_auto({_literal(as_csv)}, header = true)"
    elif kind == ".csv":
        reader = f"read_csv_auto({_literal(source)}, header = true)"
    elif kind == ".json":
        reader = f"read_json_auto({_literal(source)})"
    else:
        reader = f"read_parquet({_literal(source)})"
    conn = duckdb.connect(str(database))
    try:
        conn.execute(f"CREATE TABLE {TABLE} AS SELECT * FROM {reader}")
        columns = [
            {"name": r[0], "type": r[1]} for r in conn.execute(f"DESCRIBE {TABLE}").fetchall()
        ]
        count_row = conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()
    finally:
        conn.close()
    return {"columns": columns, "rows": int(count_row[0]) if count_row else 0}


async def store_upload(
    store: MetadataStore,
    upload: UploadedFile,
    *,
    conv_uid: str,
    user_name: str | None,
    load: bool = True,
) -> StoredFile:
    """Keep the file, load it into its DuckDB table (with ``load``) and record it;
    :class:`BadUpload` for a file that is empty, too large, of another kind, or unreadable."""
    name = safe_name(upload.filename)
    if load and _suffix(name) not in SUFFIXES:
        raise BadUpload(
            f"'{name}' is not a file chat_excel reads; send one of {', '.join(SUFFIXES)}"
        )
    if upload.size == 0:
        raise BadUpload(f"'{name}' is empty")
    if upload.size > MAX_UPLOAD_BYTES:
        raise UploadTooLarge(
            f"'{name}' is {upload.size} bytes; the limit is {MAX_UPLOAD_BYTES} bytes"
        )
    file_id = uuid.uuid4().hex
    folder = store.data_dir / "files" / file_id
    path = folder / name
    database = folder / "data.duckdb"

    def save_and_load() -> dict[str, Any]:
        folder.mkdir(parents=True, exist_ok=False)
        path.write_bytes(upload.data)
        if not load:
            return {}
        try:
            return _load(path, database)
        except Exception as exc:
            # Leave nothing half made: the record is written only for a loaded file.
            for child in folder.iterdir():
                child.unlink()
            folder.rmdir()
            raise BadUpload(f"'{name}' could not be read as {_suffix(name)[1:]}: {exc}") from None

    loaded = await anyio.to_thread.run_sync(save_and_load)
    record = StoredFile(
        file_id=file_id,
        file_name=name,
        storage_path=str(path),
        bucket=BUCKET,
        content_type=upload.content_type or "application/octet-stream",
        file_size=upload.size,
        file_hash=hashlib.sha256(upload.data).hexdigest(),
        conv_uid=conv_uid,
        user_name=user_name,
        custom_metadata={"duckdb_path": str(database), "table": TABLE, **loaded} if load else {},
        gmt_created=dt.datetime.now(),
    )
    return await store.files.add(record)


def descriptor(record: StoredFile, *, learned: bool) -> dict[str, Any]:
    """DB-GPT's file descriptor, what ``select_param`` carries back for chat_excel."""
    return {
        "is_oss": True,
        "file_path": _URI_PREFIX + record.file_id,
        "file_name": record.file_name,
        "file_learning": learned,
        "bucket": BUCKET,
    }


def _file_id(select_param: str) -> str | None:
    text = select_param.strip()
    if text.startswith("{"):
        try:
            found = json.loads(text)
        except ValueError:
            return None
        text = str(found.get("file_path", "")) if isinstance(found, dict) else ""
    last = text.rstrip("/").rsplit("/", 1)[-1]
    return last if _ID.match(last) else None


async def resolve_file(store: MetadataStore, select_param: str) -> StoredFile:
    """The uploaded file ``select_param`` names (the upload's descriptor, its JSON, its
    ``file_path`` or the file id); :class:`BadUpload` naming ``select_param`` if none."""
    file_id = _file_id(select_param)
    record = await store.files.get(file_id) if file_id else None
    if record is None or "duckdb_path" not in record.custom_metadata:
        shown = select_param if len(select_param) < 200 else select_param[:200] + "..."
        raise BadUpload(
            f"no uploaded file matches '{shown}'; upload one with"
            " POST /api/v1/resource/file/upload and send the descriptor it answers",
            field="select_param",
        )
    return record


def excel_datasource(record: StoredFile) -> Datasource:
    """The uploaded file's DuckDB table as a (read-only) datasource."""
    return Datasource(
        db_type="duckdb",
        db_name=f"excel_{record.file_id}",
        db_path=str(record.custom_metadata["duckdb_path"]),
        comment=f"the uploaded file {record.file_name}",
    )
