"""Container runtime logs: CRI (Kubernetes) and Docker ``json-file``.

CRI lines are ``<RFC 3339 time> <stream> <P|F> <text>``; ``P`` marks a partial line that the
next line of the same stream continues, up to the ``F`` that ends it. Docker json-file lines
are ``{"log": "text\\n", "stream": "stdout", "time": "..."}``; an entry whose ``log`` does not
end in a newline is partial in the same way. Partial lines are joined into one record (its
time is the first part's). ``inner_format`` parses the joined text further (``json``,
``logfmt``, or a text pattern: ``plain``, ``java``, ``python`` with ``pattern``/``preset``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar, Final

from collectors.formats.base import (
    FormatContext,
    LogFormat,
    NumberedLine,
    Outcome,
    Parsed,
    Rejected,
    Skipped,
    decode,
    promote,
    strip_eol,
)
from collectors.formats.jsonl import json_object
from collectors.formats.logfmt import ALIASES
from collectors.records import RecordError, parse_timestamp
from forensics.errors import ConfigError

_CRI: Final = re.compile(
    r"^(?P<time>\S+) (?P<stream>stdout|stderr) (?P<tag>[A-Z](?::\S+)?)(?: (?P<text>.*))?$",
    re.DOTALL,
)
INNER_FORMATS: Final = ("json", "logfmt", "plain", "java", "python")
_INNER_NAME: Final = {"json": "jsonl"}


def build_inner(options: Mapping[str, Any], ctx: FormatContext) -> LogFormat | None:
    """The parser of the container's own text, from ``inner_format`` (and its options)."""
    name = options.get("inner_format")
    rest = {k: v for k, v in options.items() if k in ("pattern", "preset")}
    if name is None:
        if rest:
            raise ConfigError(f'{ctx.where}: pattern/preset need inner_format = "plain"')
        return None
    if name not in INNER_FORMATS:
        raise ConfigError(
            f"{ctx.where}: inner_format {name!r} is not supported; use {', '.join(INNER_FORMATS)}"
        )
    if rest and name not in ("plain", "java", "python"):
        raise ConfigError(f"{ctx.where}: pattern/preset only apply to a plain text inner_format")
    from collectors.formats import build_format  # late: the registry imports this module

    return build_format(_INNER_NAME.get(name, name), rest, ctx)


def merge_inner(record: dict[str, Any], inner: LogFormat | None) -> None:
    """Parse ``record["message"]`` with ``inner`` and merge what it finds into ``record``.

    Well-known keys of JSON text (``msg``, ``level``, ``ts``...) are renamed as for logfmt.
    The container's time stays the record's time (the inner one is kept as
    ``inner.timestamp``); the inner message, level and other fields replace or join the
    outer ones. Text the inner format cannot parse is kept as is, with ``inner.error``.
    """
    if inner is None or not isinstance(record.get("message"), str):
        return
    try:
        parsed = inner.parse_text(record["message"])
    except RecordError as exc:
        record["inner.error"] = str(exc)
        return
    if not isinstance(parsed, dict):
        record["inner.error"] = f"inner record is a JSON {type(parsed).__name__}, not an object"
        return
    promote(parsed, ALIASES, inner.ctx)
    for key, value in parsed.items():
        if key in ("@timestamp", "timestamp"):
            record["inner.timestamp"] = value.isoformat() if hasattr(value, "isoformat") else value
        elif key in record and key not in ("message", "log.level"):
            record[f"inner.{key}"] = value
        else:
            record[key] = value


class _Joining(LogFormat):
    """Shared by CRI and Docker: joins partial lines per stream."""

    option_keys: ClassVar[frozenset[str]] = frozenset({"inner_format", "pattern", "preset"})

    def __init__(self, options: Mapping[str, Any], ctx: FormatContext) -> None:
        super().__init__(options, ctx)
        self.inner = build_inner(self.options, ctx)

    def split(self, text: str) -> tuple[dict[str, Any], str, bool]:
        """One physical line -> (record without its text, stream, is_partial) and its text."""
        raise NotImplementedError

    def parse_text(self, text: str) -> dict[str, Any]:
        """Parse one complete line (a partial one is kept as is, marked partial)."""
        record, _stream, partial = self.split(text)
        if partial:
            record["log.partial"] = True
        merge_inner(record, self.inner)
        return record

    def parse(self, lines: Iterable[NumberedLine]) -> Iterator[Outcome]:
        """Join partial lines of a stream with the line that completes them."""
        pending: dict[str, list[tuple[int, bytes, str, dict[str, Any]]]] = {}
        for number, data in lines:
            body = strip_eol(data)
            if not body.strip():
                yield Skipped(number, number, 1, data, "blank_line")
                continue
            try:
                text = decode(body)
                record, stream, partial = self.split(text)
            except RecordError as exc:
                yield Rejected(number, number, 1, data, str(exc))
                continue
            parts = pending.setdefault(stream, [])
            parts.append((number, data, text, record))
            if not partial:
                yield self._joined(pending.pop(stream), complete=True)
        for parts in pending.values():
            yield self._joined(parts, complete=False)

    def _joined(
        self, parts: list[tuple[int, bytes, str, dict[str, Any]]], *, complete: bool
    ) -> Outcome:
        record = parts[0][3]
        if len(parts) > 1:
            record["message"] = "".join(p[3]["message"] for p in parts)
            record["log.parts"] = len(parts)
            record["log.part_lines"] = [p[0] for p in parts]
        if not complete:
            record["log.partial"] = True
        merge_inner(record, self.inner)
        raw = b"".join(p[1] for p in parts)
        text = "\n".join(p[2] for p in parts)
        return Parsed(parts[0][0], parts[-1][0], len(parts), raw, text, record)


class CriFormat(_Joining):
    """Kubernetes CRI container log lines."""

    name: ClassVar[str] = "cri"

    def split(self, text: str) -> tuple[dict[str, Any], str, bool]:
        """Split ``time stream tag text``."""
        match = _CRI.match(text)
        if match is None:
            raise RecordError("not a CRI log line (expected 'time stdout|stderr P|F text')")
        stamp = parse_timestamp(match.group("time"))
        stream, tag = match.group("stream"), match.group("tag")
        record = {
            "@timestamp": stamp,
            "log.stream": stream,
            "message": match.group("text") or "",
        }
        return record, stream, tag.split(":")[0] == "P"


class DockerFormat(_Joining):
    """Docker ``json-file`` log lines."""

    name: ClassVar[str] = "docker"

    def split(self, text: str) -> tuple[dict[str, Any], str, bool]:
        """Split a Docker JSON entry; ``log`` without a final newline is partial."""
        entry = json_object(text)
        log = entry.pop("log", None)
        if not isinstance(log, str):
            raise RecordError("Docker log entry has no 'log' text")
        time = entry.pop("time", None)
        if time is None:
            raise RecordError("Docker log entry has no 'time'")
        stream = entry.pop("stream", "")
        record: dict[str, Any] = {"@timestamp": parse_timestamp(time), "log.stream": stream}
        record.update({f"docker.{k}": v for k, v in entry.items()})
        partial = not log.endswith("\n")
        record["message"] = log.removesuffix("\n").removesuffix("\r") if not partial else log
        return record, str(stream), partial
