"""UTC time parsing for the command line and the collectors.

Accepts ISO-8601 (``2026-11-20T09:00:00Z``), ``now``, and relative forms such
as ``now-2h`` or ``now-90m``. Durations are ``<number><unit>`` with units
``s``, ``m``, ``h``, ``d``, ``w`` (``2h``, ``1d12h``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from forensics.errors import ConfigError

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


def parse_duration(text: str) -> timedelta:
    """Parse ``2h``, ``30m``, ``1d12h`` into a positive :class:`timedelta`."""
    compact = text.strip().lower().replace(" ", "")
    parts = _DURATION_PART.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise ConfigError(f"invalid duration {text!r}: use a number and a unit, e.g. 30m, 2h, 1d")
    seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise ConfigError(f"invalid duration {text!r}: must be greater than zero")
    return timedelta(seconds=seconds)


def parse_time(text: str, *, now: datetime | None = None) -> datetime:
    """Parse an ISO-8601 time or ``now[-+]<duration>`` into an aware UTC datetime.

    A time without a zone is refused rather than guessed: at triage a silent
    local-time assumption shifts the whole window.
    """
    value = text.strip()
    reference = now or utcnow()
    if value.lower().startswith("now"):
        rest = value[3:]
        if not rest:
            return reference
        sign, amount = rest[0], rest[1:]
        if sign not in "+-":
            raise ConfigError(f"invalid time {text!r}: use e.g. now-2h")
        delta = parse_duration(amount)
        return reference - delta if sign == "-" else reference + delta
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(
            f"invalid time {text!r}: use ISO-8601 with a zone (2026-11-20T09:00:00Z) or now-2h"
        ) from None
    if parsed.tzinfo is None:
        raise ConfigError(
            f"time {text!r} has no time zone: add Z for UTC or an offset such as +01:00"
        )
    return parsed.astimezone(UTC)


def isoformat(moment: datetime) -> str:
    """Format an aware datetime as ISO-8601 UTC with a ``Z`` suffix."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
