"""The time window of a preservation run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from forensics.errors import ConfigError


@dataclass(frozen=True)
class Window:
    """A half-open UTC time range ``[since, until)``."""

    since: datetime
    until: datetime

    def __post_init__(self) -> None:
        if self.since.tzinfo is None or self.until.tzinfo is None:
            raise ConfigError("window times must carry a time zone")
        if self.since >= self.until:
            raise ConfigError(
                f"empty window: since {self.since.isoformat()} is not before "
                f"until {self.until.isoformat()}"
            )

    def __contains__(self, moment: datetime) -> bool:
        return self.since <= moment < self.until
