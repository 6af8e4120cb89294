"""Incident and bundle identifiers.

Both become path components in every store, so they are validated strictly:
no separators, no ``..``, no leading dot, a short printable ASCII alphabet, matched over the
whole value (a trailing newline or a Unicode digit is refused, not tolerated). Store keys
(``<incident>/<bundle>/<path>``) are checked by :func:`validate_key` at every store boundary:
relative, ``/``-separated, no empty, ``.`` or ``..`` part, no control character or backslash.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from forensics.errors import InvalidIdentifierError

_INCIDENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_BUNDLE = re.compile(r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}")
_KEY_PART_BAD = re.compile(r"[\x00-\x1f\x7f\\]")
MAX_KEY = 1024


def _shown(value: object) -> str:
    """A value for an error message: repr (escapes NUL, newlines), shortened."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}...({len(text)} characters)"


def validate_incident_id(value: str) -> str:
    """Return ``value`` if it is a safe incident id, else raise."""
    if not isinstance(value, str) or not _INCIDENT.fullmatch(value) or ".." in value:
        raise InvalidIdentifierError(
            f"invalid incident id {_shown(value)}: use letters, digits, '.', '_' or '-' "
            "(at most 64, starting with a letter or digit), e.g. INC-42"
        )
    return value


def validate_bundle_id(value: str) -> str:
    """Return ``value`` if it looks like a bundle id this tool made, else raise."""
    if not isinstance(value, str) or not _BUNDLE.fullmatch(value):
        raise InvalidIdentifierError(
            f"invalid bundle id {_shown(value)}: expected the form 20261120T110000Z-1a2b3c4d"
        )
    return value


def validate_key(key: str) -> str:
    """Return ``key`` if it is a safe store key (relative, no traversal), else raise.

    The empty key is the store root; a trailing ``/`` names a folder prefix.
    """
    problem = None
    if not isinstance(key, str):
        problem = "not text"
    elif len(key) > MAX_KEY:
        problem = f"longer than {MAX_KEY} characters"
    elif key.startswith("/"):
        problem = "absolute"
    elif _KEY_PART_BAD.search(key):
        problem = "contains a control character or backslash"
    elif key and any(part in {"", ".", ".."} for part in key.removesuffix("/").split("/")):
        problem = "has an empty, '.' or '..' part"
    if problem:
        raise InvalidIdentifierError(f"invalid store key {_shown(key)}: {problem}")
    return key


def new_bundle_id(created: datetime) -> str:
    """Make a bundle id from the creation time and 32 random bits."""
    return f"{created:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"
