"""The records of uploaded files (:attr:`MetadataStore.files`); their bytes live elsewhere
(:mod:`operators.chat.files`)."""

from __future__ import annotations

from sqlalchemy import delete, select

from .records import StoredFile
from .tables import FileRow
from .tx import Transaction, rows_affected

__all__ = ["FileRepository"]


class FileRepository:
    """The uploaded files' records of one store; every method is one transaction."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    async def add(self, record: StoredFile) -> StoredFile:
        async with self._tx() as s:
            s.add(
                FileRow(
                    file_id=record.file_id,
                    bucket=record.bucket,
                    file_name=record.file_name,
                    storage_path=record.storage_path,
                    content_type=record.content_type,
                    file_size=record.file_size,
                    file_hash=record.file_hash,
                    conv_uid=record.conv_uid,
                    user_name=record.user_name,
                    custom_metadata=record.custom_metadata,
                    gmt_created=record.gmt_created,
                )
            )
        return record

    async def get(self, file_id: str) -> StoredFile | None:
        async with self._tx() as s:
            row = await s.scalar(select(FileRow).where(FileRow.file_id == file_id))
            return None if row is None else _file(row)

    async def list(self, *, conv_uid: str | None = None) -> list[StoredFile]:
        query = select(FileRow)
        if conv_uid is not None:
            query = query.where(FileRow.conv_uid == conv_uid)
        async with self._tx() as s:
            return [_file(r) for r in (await s.scalars(query.order_by(FileRow.id))).all()]

    async def delete(self, file_id: str) -> bool:
        """Forget the file's record (its bytes are the caller's to remove)."""
        async with self._tx() as s:
            gone = await s.execute(delete(FileRow).where(FileRow.file_id == file_id))
            return bool(rows_affected(gone))


def _file(row: FileRow) -> StoredFile:
    return StoredFile(
        file_id=row.file_id,
        file_name=row.file_name,
        storage_path=row.storage_path,
        bucket=row.bucket,
        content_type=row.content_type,
        file_size=row.file_size,
        file_hash=row.file_hash,
        conv_uid=row.conv_uid,
        user_name=row.user_name,
        custom_metadata=dict(row.custom_metadata or {}),
        gmt_created=row.gmt_created,
    )
