"""journald: the JSON export of ``journalctl -o json`` (one entry per line).

``__REALTIME_TIMESTAMP`` (microseconds since the epoch, UTC) is the time, ``PRIORITY`` the
syslog severity, ``_SYSTEMD_UNIT`` (else ``SYSLOG_IDENTIFIER``, else ``_COMM``) the service,
``_HOSTNAME`` the host. ``MESSAGE`` may be a byte array (non-UTF-8 or binary text): it is
decoded as UTF-8 with invalid bytes replaced, and the array is kept in ``attributes``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from collectors.formats.base import LogFormat
from collectors.formats.jsonl import json_object
from collectors.formats.syslog import SEVERITIES
from collectors.records import RecordError


class JournaldFormat(LogFormat):
    """``journalctl -o json`` lines."""

    name: ClassVar[str] = "journald"

    def parse_text(self, text: str) -> dict[str, Any]:
        """Parse one journal entry and fill the canonical columns."""
        record = json_object(text)
        stamp = record.pop("__REALTIME_TIMESTAMP", None)
        if stamp is None:
            raise RecordError("journal entry has no __REALTIME_TIMESTAMP")
        try:
            micros = int(stamp)
            record["@timestamp"] = datetime.fromtimestamp(micros / 1e6, UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            raise RecordError(f"bad __REALTIME_TIMESTAMP {str(stamp)[:32]!r}") from None
        record["journald.realtime_timestamp"] = micros
        priority = record.get("PRIORITY")
        if isinstance(priority, str) and len(priority) == 1 and "0" <= priority <= "7":
            record["log.level"] = SEVERITIES[int(priority)]
        for key in ("_SYSTEMD_UNIT", "SYSLOG_IDENTIFIER", "_COMM"):
            if isinstance(record.get(key), str):
                record["service.name"] = record[key]
                break
        if isinstance(record.get("_HOSTNAME"), str):
            record["host.name"] = record.pop("_HOSTNAME")
        message = record.pop("MESSAGE", None)
        if isinstance(message, list) and all(isinstance(b, int) and 0 <= b < 256 for b in message):
            record["journald.message_bytes"] = message
            message = bytes(message).decode("utf-8", errors="replace")
        record["message"] = message
        return record
