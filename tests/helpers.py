"""Small builders shared by tests."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from forensics.config import Config, parse_config
from forensics.preserve import PreserveResult, preserve
from forensics.stores.base import Store
from forensics.window import Window

WINDOW = Window(datetime(2026, 11, 20, 9, tzinfo=UTC), datetime(2026, 11, 20, 11, tzinfo=UTC))


def write_jsonl(path: Path, records: list[object], *, extra_lines: list[bytes] = ()) -> Path:  # type: ignore[assignment]
    """Write records as JSON lines (gzip when the name ends in .gz), plus raw extra lines."""
    data = b"".join(json.dumps(r).encode() + b"\n" for r in records) + b"".join(extra_lines)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
    return path


def log_records(count: int, *, start: datetime | None = None, step_s: float = 1.0) -> list[dict]:
    """ECS-style log records, one every ``step_s`` seconds from ``start``."""
    start = start or WINDOW.since
    out = []
    for i in range(count):
        moment = start + timedelta(seconds=i * step_s)
        out.append(
            {
                "@timestamp": moment.isoformat().replace("+00:00", "Z"),
                "log.level": "error" if i % 7 == 0 else "info",
                "message": f"request {i} handled",
                "service": {"name": f"svc-{i % 3}"},
                "host": {"name": "host-1"},
                "order_id": i,
            }
        )
    return out


def files_config(base: Path, pattern: str = "logs/*.jsonl*", **options: object) -> Config:
    """A config with one files source over ``pattern``."""
    source = {"name": "app-logs", "type": "files", "kind": "logs", "paths": [pattern], **options}
    return parse_config({"source": [source]}, base_dir=base)


def small_bundle(store: Store, base: Path, *, incident: str = "INC-1") -> PreserveResult:
    """Preserve a small log set (with one reject) into ``store``."""
    write_jsonl(base / "logs" / "app.jsonl.gz", log_records(300), extra_lines=[b"{not json\n"])
    return preserve(files_config(base), store, incident=incident, window=WINDOW)
