"""Web server access logs: Apache/nginx common and combined formats.

``client ident user [dd/Mon/yyyy:hh:mm:ss +zzzz] "request" status bytes "referrer" "agent"``,
optionally preceded by a virtual host (Apache ``vhost_combined``) and followed by extra fields
(nginx: ``"$http_x_forwarded_for"``, ``$request_time``, ``$upstream_response_time``, or
``key=value`` pairs such as ``rt=0.012 urt=0.010``).

``log.level`` is derived from the status: 5xx ``error``, 4xx ``warn``, anything else ``info``
(no status: none). ``message`` is the request line and the status.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ClassVar, Final

from collectors.formats.base import LogFormat
from collectors.records import RecordError

MONTHS: Final = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}

_HEAD: Final = re.compile(
    r'^(?P<pre>[^\[]*)\[(?P<time>[^\]]+)\]\s+"(?P<request>.*?)"\s+(?P<status>\d{3}|-)'
    r"\s+(?P<bytes>\d+|-)(?=\s|$)(?P<rest>.*)$"
)
_TIME: Final = re.compile(
    r"^(\d{1,2})/([A-Za-z]{3})/(\d{4}):(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?\s*([+-])(\d\d):?(\d\d)$"
)
_QUOTED: Final = re.compile(r'\s*"((?:[^"\\]|\\.)*)(?:"|$)')
_BARE: Final = re.compile(r"\s*(\S+)")
_NUMBER: Final = re.compile(r"^\d+(?:\.\d+)?$")
_DURATION_KEYS: Final = frozenset({"rt", "request_time"})
_UPSTREAM_KEYS: Final = frozenset({"urt", "upstream_response_time"})


def parse_clf_time(text: str) -> datetime:
    """Parse ``13/Jan/2016:19:31:16 +0000`` (locale-free) into aware UTC."""
    match = _TIME.match(text.strip())
    if match is None or match.group(2).title() not in MONTHS:
        raise RecordError(f"unrecognised access log time {text[:40]!r}")
    day, month, year, hh, mm, ss, frac, sign, oh, om = match.groups()
    offset = timedelta(hours=int(oh), minutes=int(om)) * (-1 if sign == "-" else 1)
    try:
        moment = datetime(
            int(year),
            MONTHS[month.title()],
            int(day),
            int(hh),
            int(mm),
            int(ss),
            int((frac or "0").ljust(6, "0")),
            tzinfo=timezone(offset),
        )
        return moment.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise RecordError(f"invalid access log time {text[:40]!r}: {exc}") from None


def level_for_status(status: int | None) -> str | None:
    """5xx error, 4xx warn, anything else info; no status, no level."""
    if status is None:
        return None
    return "error" if status >= 500 else "warn" if status >= 400 else "info"


def _trailing(rest: str) -> list[tuple[str, bool]]:
    """Split the fields after ``bytes`` into (value, was_quoted) pairs."""
    out: list[tuple[str, bool]] = []
    position = 0
    while position < len(rest):
        if not rest[position:].strip():
            break
        quoted = _QUOTED.match(rest, position)
        if quoted:
            out.append((quoted.group(1), True))
            position = quoted.end()
            continue
        bare = _BARE.match(rest, position)
        if bare is None:  # pragma: no cover - only whitespace is left, handled above
            break
        out.append((bare.group(1), False))
        position = bare.end()
    return out


def _seconds(value: str) -> float | None:
    first = value.split(",")[0].split(":")[0].strip()
    seconds = float(first) if _NUMBER.match(first) else None
    return seconds if seconds is not None and seconds < 1e12 else None  # no inf durations


class AccessLogFormat(LogFormat):
    """Apache access logs (common, combined, vhost_combined)."""

    name: ClassVar[str] = "apache"
    #: Whether bare numbers after the combined fields are nginx's request and upstream times.
    nginx_times: ClassVar[bool] = False

    def parse_text(self, text: str) -> dict[str, Any]:
        """Parse one access log line."""
        match = _HEAD.match(text)
        if match is None:
            raise RecordError("not an access log line (common/combined format)")
        pre = match.group("pre").split()
        if len(pre) not in (3, 4):
            raise RecordError("not an access log line: expected client, ident and user")
        record: dict[str, Any] = {"@timestamp": parse_clf_time(match.group("time"))}
        if len(pre) == 4:
            server = pre.pop(0)
            host, _, port = server.rpartition(":")
            if host and port.isdigit():
                record["server.address"], record["server.port"] = host, int(port)
            else:
                record["server.address"] = server
        client, ident, user = pre
        record["client.address"] = record["source.address"] = client
        if ident != "-":
            record["http.request.ident"] = ident
        if user != "-":
            record["user.name"] = user
        request = match.group("request")
        parts = request.split(" ")
        if len(parts) >= 3 and parts[-1].startswith("HTTP/"):
            record["http.request.method"] = parts[0]
            target = " ".join(parts[1:-1])
            record["http.version"] = parts[-1][5:]
            record["url.original"] = target
            path, question, query = target.partition("?")
            record["url.path"] = path
            if question:
                record["url.query"] = query
        elif request not in ("-", ""):
            record["http.request.line"] = request
        status_text = match.group("status")
        status = int(status_text) if status_text != "-" else None
        if status is not None:
            record["http.response.status_code"] = status
        if match.group("bytes") != "-":
            try:
                record["http.response.body.bytes"] = int(match.group("bytes"))
            except ValueError:  # more digits than int() reads (4300)
                raise RecordError("access log byte count is out of range") from None
        level = level_for_status(status)
        if level:
            record["log.level"] = level
        record["message"] = f"{request} {status_text}"
        self._extras(record, _trailing(match.group("rest")))
        return record

    def _extras(self, record: dict[str, Any], fields: list[tuple[str, bool]]) -> None:
        extra: list[str] = []
        numbers: list[str] = []
        quoted_seen = 0
        for value, quoted in fields:
            key, equals, val = value.partition("=")
            if not quoted and equals and key.isidentifier():
                if key in _DURATION_KEYS:
                    self._duration(record, "request_time", val)
                elif key in _UPSTREAM_KEYS:
                    self._duration(record, "upstream_response_time", val)
                else:
                    record[f"http.extra.{key}"] = val
                continue
            if quoted and quoted_seen < 2 and not numbers:
                if quoted_seen == 0:
                    if value != "-":
                        record["http.request.referrer"] = value
                elif value != "-":
                    record["user_agent.original"] = value
                quoted_seen += 1
                continue
            if quoted_seen == 2 and quoted and not numbers and "http.forwarded_for" not in record:
                quoted_seen += 1
                if value != "-":
                    record["http.forwarded_for"] = value
                continue
            if self.nginx_times and not quoted and (_NUMBER.match(value) or value == "-"):
                numbers.append(value)
                continue
            extra.append(value)
        if numbers:
            self._duration(record, "request_time", numbers[0])
            if len(numbers) > 1:
                self._duration(record, "upstream_response_time", numbers[1])
            extra.extend(numbers[2:])
        if extra:
            record["http.extra"] = extra

    @staticmethod
    def _duration(record: dict[str, Any], name: str, value: str) -> None:
        seconds = _seconds(value)
        record[f"nginx.{name}"] = value
        if seconds is not None:
            if name == "request_time":
                record["event.duration"] = round(seconds * 1e9)
            else:
                record["http.upstream.duration_s"] = seconds


class NginxFormat(AccessLogFormat):
    """nginx access logs (``combined``, with request/upstream times appended when present)."""

    name: ClassVar[str] = "nginx"
    nginx_times: ClassVar[bool] = True
