"""Incident and bundle identifiers.

Both become path components in every store, so they are validated strictly:
no separators, no ``..``, no leading dot, a short printable alphabet.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from forensics.errors import InvalidIdentifierError

_INCIDENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_BUNDLE = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{8}$")


def validate_incident_id(value: str) -> str:
    """Return ``value`` if it is a safe incident id, else raise."""
    if not _INCIDENT.match(value) or ".." in value:
        raise InvalidIdentifierError(
            f"invalid incident id {value!r}: use letters, digits, '.', '_' or '-' "
            "(at most 64, starting with a letter or digit), e.g. INC-42"
        )
    return value


def validate_bundle_id(value: str) -> str:
    """Return ``value`` if it looks like a bundle id this tool made, else raise."""
    if not _BUNDLE.match(value):
        raise InvalidIdentifierError(
            f"invalid bundle id {value!r}: expected the form 20261120T110000Z-1a2b3c4d"
        )
    return value


def new_bundle_id(created: datetime) -> str:
    """Make a bundle id from the creation time and 32 random bits."""
    return f"{created:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"
