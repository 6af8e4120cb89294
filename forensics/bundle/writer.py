"""Writes collector output into a staging directory as Parquet files.

Files are written per dataset and source (``logs/<source>/part-00000.parquet``),
zstd-compressed, with column statistics, rows sorted by ``@timestamp`` within
each file. A file holds at most ``max_rows_per_file`` rows, so memory stays
bounded whatever the source size; sorting happens once per file.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from forensics.bundle.schema import REJECTS_SCHEMA, TIMESTAMP
from forensics.errors import StagingFullError

#: Rows per Parquet row group: small enough for time-range pruning, large enough to compress.
ROW_GROUP_ROWS = 64 * 1024
DEFAULT_MAX_ROWS_PER_FILE = 200_000


def is_disk_full(exc: BaseException) -> bool:
    """True for "no space left on device" / "disk quota exceeded", also from Arrow's writers."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc)
    return isinstance(exc, OSError) and (
        "No space left on device" in text or "Disk quota exceeded" in text
    )


def staging_full(folder: Path, *, resumable: bool) -> StagingFullError:
    """The one-line error for a full staging disk, naming the folder and what to do."""
    if resumable:  # collection finished; hashing or storing from staging hit a full disk
        return StagingFullError(
            f"no space left on device while sealing from the staging folder {folder} (its disk "
            "or the store's is full); free space, then finish the run with --resume"
        )
    return StagingFullError(
        f"the staging folder {folder} is full (no space left on device); nothing was sealed; "
        "free space there or pass --staging on a disk with room, then run preserve again"
    )


@dataclass(frozen=True)
class StagedFile:
    """A data file written to staging, before it is hashed and stored."""

    path: str  # relative to the bundle root, with forward slashes
    dataset: str
    source: str
    rows: int


class DatasetWriter:
    """Buffers batches of one dataset of one source and writes sorted Parquet parts."""

    def __init__(
        self,
        root: Path,
        dataset: str,
        source: str,
        schema: pa.Schema,
        *,
        max_rows_per_file: int = DEFAULT_MAX_ROWS_PER_FILE,
    ) -> None:
        self.root = root
        self.dataset = dataset
        self.source = source
        self.schema = schema
        self.max_rows_per_file = max_rows_per_file
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self.rows = 0
        self.files: list[StagedFile] = []

    def write(self, batch: pa.RecordBatch) -> None:
        """Add one batch; a full buffer is written out as the next part file."""
        if not batch.schema.equals(self.schema):
            raise TypeError(
                f"{self.dataset}/{self.source}: batch schema does not match the declared schema"
            )
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        self.rows += batch.num_rows
        if self._pending_rows >= self.max_rows_per_file:
            self._flush()

    def _flush(self) -> None:
        if not self._pending_rows:
            return
        table = pa.Table.from_batches(self._pending, schema=self.schema)
        self._pending, self._pending_rows = [], 0
        if TIMESTAMP in self.schema.names:
            table = table.sort_by([(TIMESTAMP, "ascending")])
        relative = f"{self.dataset}/{self.source}/part-{len(self.files):05d}.parquet"
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(
            table,
            target,
            compression="zstd",
            row_group_size=ROW_GROUP_ROWS,
            write_statistics=True,
        )
        self.files.append(StagedFile(relative, self.dataset, self.source, table.num_rows))

    def close(self) -> list[StagedFile]:
        """Write what is buffered and return every part written."""
        self._flush()
        return self.files


class RejectWriter:
    """Keeps unparseable input of one source raw, with its reason (a ``RejectSink``)."""

    def __init__(self, root: Path, source: str, *, batch_rows: int = 4096) -> None:
        self._writer = DatasetWriter(root, "rejects", source, REJECTS_SCHEMA)
        self.source = source
        self.batch_rows = batch_rows
        self._refs: list[str] = []
        self._errors: list[str] = []
        self._raws: list[bytes] = []
        self.count = 0

    def reject(self, source_ref: str, error: str, raw: bytes) -> None:
        """Keep one record that could not become a row."""
        self._refs.append(source_ref)
        self._errors.append(error)
        self._raws.append(bytes(raw))
        self.count += 1
        if len(self._refs) >= self.batch_rows:
            self._emit()

    def _emit(self) -> None:
        if not self._refs:
            return
        batch = pa.RecordBatch.from_arrays(
            [
                pa.array([self.source] * len(self._refs), pa.string()),
                pa.array(self._refs, pa.string()),
                pa.array(self._errors, pa.string()),
                pa.array(self._raws, pa.binary()),
            ],
            schema=REJECTS_SCHEMA,
        )
        self._refs, self._errors, self._raws = [], [], []
        self._writer.write(batch)

    def close(self) -> list[StagedFile]:
        """Write what is buffered and return every part written."""
        self._emit()
        return self._writer.close()
