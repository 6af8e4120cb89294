"""Syslog: RFC 3164 (BSD) and RFC 5424 lines, with or without ``<PRI>``.

RFC 3164 ``<PRI>Mmm dd hh:mm:ss host app[pid]: message`` carries neither a year nor a zone:
the year is the latest one that puts the time no later than one day after the window end
(so a window ending in January reads December lines as the year before), and the zone is the
source's ``timezone`` (without it the line is rejected, as for any zone-less time). A line
starting with whitespace continues the record before it. RFC 5424 lines carry both, and their
structured data is kept in ``attributes`` under ``syslog.structured_data``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Final

from collectors.formats.access import MONTHS
from collectors.formats.base import (
    LogFormat,
    NumberedLine,
    Outcome,
    Parsed,
    Rejected,
    Skipped,
    decode,
    strip_eol,
)
from collectors.records import RecordError, localize, parse_timestamp
from forensics.errors import ConfigError

SEVERITIES: Final = ("emergency", "alert", "critical", "error", "warn", "notice", "info", "debug")
FACILITIES: Final = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
    "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
)  # fmt: skip

_PRI: Final = re.compile(r"^<(\d{1,3})>")
_RFC3164: Final = re.compile(
    r"^(?P<mon>[A-Za-z]{3})\s+(?P<day>\d{1,2})\s+(?P<h>\d\d):(?P<m>\d\d):(?P<s>\d\d)"
    r"(?:\.(?P<frac>\d{1,6}))?(?P<colon>:)?(?:\s+(?P<rest>.*))?$",
    re.DOTALL,
)
_TAG: Final = re.compile(r"^(?P<app>[^\s\[\]:]+)(?:\[(?P<pid>[^\]]*)\])?:(?:\s|$)")
_RFC5424: Final = re.compile(
    r"^(?P<version>\d{1,2}) (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<procid>\S+) "
    r"(?P<msgid>\S+) (?P<rest>.*)$",
    re.DOTALL,
)
_SD_ELEMENT: Final = re.compile(
    r'\[(?P<id>[^\s\]=]+)(?P<params>(?:\s+[^\s=\]]+="(?:[^"\\]|\\.)*")*)\]'
)
_SD_PARAM: Final = re.compile(r'([^\s=\]]+)="((?:[^"\\]|\\.)*)"')
_SD_UNESCAPE: Final = re.compile(r"\\([\"\\\]])")


def _structured_data(text: str) -> tuple[dict[str, dict[str, str]] | None, str]:
    """Split RFC 5424 STRUCTURED-DATA from the message that follows it."""
    if text.startswith("-"):
        return None, text[2:] if text.startswith("- ") else text[1:]
    data: dict[str, dict[str, str]] = {}
    position = 0
    while position < len(text) and text[position] == "[":
        match = _SD_ELEMENT.match(text, position)
        if match is None:
            raise RecordError("malformed RFC 5424 structured data")
        data[match.group("id")] = {
            key: _SD_UNESCAPE.sub(r"\1", value)
            for key, value in _SD_PARAM.findall(match.group("params"))
        }
        position = match.end()
    if not data:
        raise RecordError("RFC 5424 structured data must be '-' or [id ...]")
    return data, text[position + 1 :] if text[position : position + 1] == " " else text[position:]


class SyslogFormat(LogFormat):
    """RFC 3164 and RFC 5424 syslog lines."""

    name: ClassVar[str] = "syslog"
    option_keys: ClassVar[frozenset[str]] = frozenset({"year"})

    def __init__(self, options: Any, ctx: Any) -> None:
        super().__init__(options, ctx)
        year = self.options.get("year")
        if year is not None and (not isinstance(year, int) or isinstance(year, bool)):
            raise ConfigError(f"{ctx.where}: year must be an integer")
        self.year: int | None = year
        self.latest = self.ctx.window.until + timedelta(days=1)

    def notes(self) -> list[str]:
        """The year (and zone) assumption of RFC 3164 timestamps."""
        year = (
            f"year {self.year}"
            if self.year
            else "the latest year not more than one day after the window end"
        )
        return [f"RFC 3164 syslog timestamps carry no year: read with {year}"]

    def parse(self, lines: Iterable[NumberedLine]) -> Iterator[Outcome]:
        """Join whitespace-led continuation lines to the record before them."""
        pending: list[NumberedLine] = []
        for number, data in lines:
            body = strip_eol(data)
            if not body.strip():
                if pending:
                    yield from self._emit(pending)
                    pending = []
                yield Skipped(number, number, 1, data, "blank_line")
            elif pending and body[:1] in (b" ", b"\t"):
                pending.append((number, data))
            else:
                if pending:
                    yield from self._emit(pending)
                pending = [(number, data)]
        if pending:
            yield from self._emit(pending)

    def _emit(self, lines: list[NumberedLine]) -> Iterator[Outcome]:
        first, last = lines[0][0], lines[-1][0]
        raw = b"".join(data for _, data in lines)
        try:
            text = decode(strip_eol(raw))
            record = self.parse_text(text)
        except RecordError as exc:
            yield Rejected(first, last, len(lines), raw, str(exc))
            return
        yield Parsed(first, last, len(lines), raw, text, record)

    def parse_text(self, text: str) -> dict[str, Any]:
        """Parse one syslog record (continuation lines included)."""
        record: dict[str, Any] = {}
        pri = _PRI.match(text)
        if pri:
            value = int(pri.group(1))
            if value > 191:
                raise RecordError(f"syslog priority {value} is out of range (0-191)")
            facility, severity = divmod(value, 8)
            record["log.syslog.priority"] = value
            record["log.syslog.facility.code"] = facility
            record["log.syslog.facility.name"] = FACILITIES[facility]
            record["log.syslog.severity.code"] = severity
            record["log.level"] = SEVERITIES[severity]
            text = text[pri.end() :]
            modern = _RFC5424.match(text)
            if modern and modern.group("version") != "0":
                return self._rfc5424(record, modern)
        return self._rfc3164(record, text)

    def _rfc5424(self, record: dict[str, Any], match: re.Match[str]) -> dict[str, Any]:
        record["log.syslog.version"] = int(match.group("version"))
        if match.group("ts") == "-":
            raise RecordError("RFC 5424 line has no timestamp ('-')")
        record["@timestamp"] = parse_timestamp(match.group("ts"), self.ctx.default_tz)
        for key, column in (
            ("host", "host.name"),
            ("app", "service.name"),
            ("procid", "process.pid"),
            ("msgid", "event.code"),
        ):
            if match.group(key) != "-":
                record[column] = match.group(key)
        data, message = _structured_data(match.group("rest"))
        if data:
            record["syslog.structured_data"] = data
        record["message"] = message.removeprefix("\ufeff")
        return record

    def _rfc3164(self, record: dict[str, Any], text: str) -> dict[str, Any]:
        match = _RFC3164.match(text)
        if match is None:
            raise RecordError("not a syslog line (expected 'Mmm dd hh:mm:ss' or RFC 5424)")
        month = MONTHS.get(match.group("mon").title())
        if month is None:
            raise RecordError(f"not a syslog line: unknown month {match.group('mon')!r}")
        record["@timestamp"] = self._moment(match, month)
        rest = match.group("rest") or ""
        if not match.group("colon"):
            head, _, tail = rest.partition(" ")
            if head and not _TAG.match(rest):
                record["host.name"] = head
                rest = tail
            tag = _TAG.match(rest)
            if tag:
                record["service.name"] = tag.group("app")
                if tag.group("pid"):
                    record["process.pid"] = tag.group("pid")
                rest = rest[tag.end() :]
        record["message"] = rest
        return record

    def _moment(self, match: re.Match[str], month: int) -> datetime:
        day, hour, minute, second = (int(match.group(k)) for k in ("day", "h", "m", "s"))
        micros = int((match.group("frac") or "0").ljust(6, "0"))
        tz = self.ctx.default_tz
        years = [self.year] if self.year else range(self.latest.year, self.latest.year - 9, -1)
        for year in years:
            try:
                naive = datetime(year, month, day, hour, minute, second, micros)  # noqa: DTZ001
            except ValueError:
                continue
            if tz is None:
                if self.year or naive.replace(tzinfo=UTC) <= self.latest:
                    return naive  # rejected by the mapper: no zone configured
                continue
            aware = localize(naive, tz)
            if self.year or aware <= self.latest:
                return aware
        raise RecordError(f"invalid syslog date {match.group('mon')} {day}")
