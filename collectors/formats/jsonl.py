"""JSON lines: one JSON object per line (the record is used as is)."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from collectors.formats.base import LogFormat
from collectors.records import RecordError


def json_error(exc: ValueError | RecursionError) -> str:
    """The reject reason of a JSON text ``json.loads`` refused."""
    if isinstance(exc, json.JSONDecodeError):
        return exc.msg
    if isinstance(exc, RecursionError):
        return "nesting too deep"
    return str(exc).split(";")[0]  # e.g. an integer of more than 4300 digits


class JsonLinesFormat(LogFormat):
    """One JSON document per line; its keys are mapped by ``fields``."""

    name: ClassVar[str] = "jsonl"

    def parse_text(self, text: str) -> Any:
        """Parse one JSON document (any JSON value; the mapper refuses non-objects)."""
        try:
            return json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise RecordError(f"invalid JSON: {json_error(exc)}") from None


def json_object(text: str) -> dict[str, Any]:
    """Parse a JSON object, raising :class:`RecordError` for anything else."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise RecordError(f"invalid JSON: {json_error(exc)}") from None
    if not isinstance(value, dict):
        raise RecordError(f"record is a JSON {type(value).__name__}, not an object")
    return value
