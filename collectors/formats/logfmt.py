"""logfmt: ``key=value`` pairs, values optionally double-quoted with backslash escapes.

Grafana Agent, Loki, Prometheus and most Go services (go-kit, logrus text) log
this way: ``level=info ts=2024-04-16T15:10:42.556Z caller=x.go:12 msg="..."``.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar, Final

from collectors.formats.base import LogFormat, promote
from collectors.records import RecordError

_PAIR: Final = re.compile(r'\s*([^\s="]+)(?:=(?:"((?:[^"\\]|\\.)*)"|([^\s"]*)))?(?=\s|$)')

#: Canonical column -> logfmt keys that fill it (first present wins).
ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "@timestamp": ("ts", "time", "timestamp", "t", "@timestamp"),
    "log.level": ("level", "lvl", "severity", "loglevel"),
    "message": ("msg", "message"),
    "trace.id": ("traceID", "trace_id", "traceId", "trace.id"),
    "service.name": ("service", "service_name", "app"),
    "host.name": ("host", "hostname"),
}


def _unquote(value: str) -> str:
    if "\\" not in value:
        return value
    try:
        result = json.loads(f'"{value}"')
    except json.JSONDecodeError:
        return value
    return str(result)


def parse_pairs(text: str) -> dict[str, Any]:
    """Parse a logfmt line into a dict; a key seen twice keeps every value in a list."""
    record: dict[str, Any] = {}
    position, end = 0, len(text.rstrip())
    while position < end:
        match = _PAIR.match(text, position)
        if match is None:
            raise RecordError(f"not logfmt at character {position + 1}")
        key, quoted, bare = match.groups()
        value: Any = _unquote(quoted) if quoted is not None else bare if bare is not None else True
        if key in record:
            previous = record[key]
            record[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            record[key] = value
        position = match.end()
    if not record:
        raise RecordError("no key=value pairs")
    return record


class LogfmtFormat(LogFormat):
    """logfmt lines; ts/level/msg (and common synonyms) fill the canonical columns."""

    name: ClassVar[str] = "logfmt"

    def parse_text(self, text: str) -> dict[str, Any]:
        """Parse one logfmt line and promote the well-known keys."""
        record = parse_pairs(text)
        promote(record, ALIASES, self.ctx)
        return record
