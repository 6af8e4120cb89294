"""JSON lines: one JSON object per line (the record is used as is)."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from collectors.formats.base import LogFormat
from collectors.records import RecordError


class JsonLinesFormat(LogFormat):
    """One JSON document per line; its keys are mapped by ``fields``."""

    name: ClassVar[str] = "jsonl"

    def parse_text(self, text: str) -> Any:
        """Parse one JSON document (any JSON value; the mapper refuses non-objects)."""
        try:
            return json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "nesting too deep"
            raise RecordError(f"invalid JSON: {reason}") from None


def json_object(text: str) -> dict[str, Any]:
    """Parse a JSON object, raising :class:`RecordError` for anything else."""
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "nesting too deep"
        raise RecordError(f"invalid JSON: {reason}") from None
    if not isinstance(value, dict):
        raise RecordError(f"record is a JSON {type(value).__name__}, not an object")
    return value
