"""Parsers of log file formats, one module per format, used by the files collector.

Each format is a :class:`~collectors.formats.base.LogFormat`: numbered lines of one file in,
records (canonical-able dicts), rejects with reasons, or counted skips out. ``format`` in a
``type = "files"`` source selects one by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from collectors.formats.access import AccessLogFormat, NginxFormat
from collectors.formats.base import FormatContext, LogFormat
from collectors.formats.container import CriFormat, DockerFormat
from collectors.formats.csvfile import CsvFormat
from collectors.formats.journald import JournaldFormat
from collectors.formats.jsonl import JsonLinesFormat
from collectors.formats.logfmt import LogfmtFormat
from collectors.formats.syslog import SyslogFormat
from collectors.formats.text import JavaFormat, PlainTextFormat, PythonFormat
from forensics.errors import ConfigError

FORMATS: Final[dict[str, type[LogFormat]]] = {
    cls.name: cls
    for cls in (
        JsonLinesFormat,
        LogfmtFormat,
        NginxFormat,
        AccessLogFormat,
        SyslogFormat,
        JournaldFormat,
        CriFormat,
        DockerFormat,
        PlainTextFormat,
        JavaFormat,
        PythonFormat,
        CsvFormat,
    )
}


def format_class(name: Any, where: str) -> type[LogFormat]:
    """The format class for ``name``, or a :class:`ConfigError` listing the known ones."""
    if not isinstance(name, str) or name not in FORMATS:
        raise ConfigError(f"{where}: format {name!r} is not supported; use {', '.join(FORMATS)}")
    return FORMATS[name]


def build_format(name: Any, options: Mapping[str, Any], ctx: FormatContext) -> LogFormat:
    """Build the parser named ``name`` with its options."""
    return format_class(name, ctx.where)(options, ctx)


__all__ = ["FORMATS", "FormatContext", "LogFormat", "build_format", "format_class"]
