"""Loading and validating ``forensics.toml``.

The file holds one ``[[source]]`` table per source. Common keys are ``name``,
``type`` and ``kind``; every other key belongs to the collector of that type
and is validated by it. Secrets are never accepted inline: a source names the
environment variable that holds one (``password_env = "ES_PASSWORD"``).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forensics.bundle.schema import SOURCE_KINDS
from forensics.errors import ConfigError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_SECRET_KEYS = re.compile(r"(password|passwd|secret|token|api_key|apikey|credential)$", re.I)


@dataclass(frozen=True)
class SourceConfig:
    """One configured source: its common keys plus the collector's own options."""

    name: str
    type: str
    kind: str
    options: Mapping[str, Any] = field(default_factory=dict)
    base_dir: Path = Path()

    def where(self) -> str:
        """Name this source in error messages."""
        return f"source {self.name!r} ({self.type})"


@dataclass(frozen=True)
class Config:
    """A whole configuration file."""

    sources: tuple[SourceConfig, ...]
    path: Path | None = None


def load_config(path: str | Path) -> Config:
    """Read and validate a ``forensics.toml`` file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {str(file)!r} not found: pass --config PATH") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {str(file)!r}: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(file)!r} is not valid TOML: {exc}") from None
    return parse_config(data, base_dir=file.resolve().parent, path=file)


def parse_config(data: Mapping[str, Any], *, base_dir: Path, path: Path | None = None) -> Config:
    """Validate an already parsed configuration mapping."""
    from collectors import collector_types  # late: collectors import forensics

    label = str(path) if path else "configuration"
    unknown = set(data) - {"source"}
    if unknown:
        raise ConfigError(
            f"{label}: unknown top-level key(s) {sorted(unknown)}; expected [[source]]"
        )
    raw_sources = data.get("source", [])
    if not isinstance(raw_sources, list) or not raw_sources:
        raise ConfigError(f"{label}: no sources configured; add at least one [[source]] table")
    sources: list[SourceConfig] = []
    seen: set[str] = set()
    known_types = collector_types()
    for index, raw in enumerate(raw_sources, start=1):
        if not isinstance(raw, dict):
            raise ConfigError(f"{label}: [[source]] #{index} must be a table")
        name = raw.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise ConfigError(
                f"{label}: [[source]] #{index} needs a name of letters, digits, '_' or '-'"
            )
        if name in seen:
            raise ConfigError(f"{label}: source name {name!r} is used twice")
        seen.add(name)
        type_ = raw.get("type")
        if type_ not in known_types:
            raise ConfigError(
                f"{label}: source {name!r} has type {type_!r}; known types: "
                + ", ".join(sorted(known_types))
            )
        kind = raw.get("kind", known_types[type_].default_kind)
        if kind not in SOURCE_KINDS:
            raise ConfigError(
                f"{label}: source {name!r} has kind {kind!r}; use one of {', '.join(SOURCE_KINDS)}"
            )
        options = {k: v for k, v in raw.items() if k not in {"name", "type", "kind"}}
        _refuse_inline_secrets(label, name, options)
        sources.append(
            SourceConfig(name=name, type=type_, kind=kind, options=options, base_dir=base_dir)
        )
    return Config(sources=tuple(sources), path=path)


def _refuse_inline_secrets(label: str, name: str, options: Mapping[str, Any]) -> None:
    for key, value in options.items():
        if isinstance(value, dict):
            _refuse_inline_secrets(label, name, value)
        elif _SECRET_KEYS.search(key):
            raise ConfigError(
                f"{label}: source {name!r} has a secret in key {key!r}; put it in an environment "
                f'variable and name that variable with {key}_env = "VARIABLE"'
            )
