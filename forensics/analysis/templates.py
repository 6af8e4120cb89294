"""Error signatures: mask the variable parts of log messages, then group them into templates.

API (stable; the implementation behind it is being improved):

- :func:`mask` replaces variable parts of one message with ``<*>``.
- :func:`mine_templates` maps a pandas Series of messages to a DataFrame with ``template``
  and ``signature`` columns aligned to the input index.
- :func:`signature_id` derives a signature id from template text alone, so the same template
  has the same id in every bundle.
"""

from __future__ import annotations

import hashlib
import re

import pandas as pd

WILDCARD = "<*>"
_NUMBER = re.compile(r"(?<![A-Za-z])[-+]?\d+(?:\.\d+)?(?![A-Za-z])")


def mask(message: str) -> str:
    """Replace variable parts of a message with ``<*>`` (placeholder implementation)."""
    return _NUMBER.sub(WILDCARD, message)


def signature_id(template: str) -> str:
    """A stable id for a template: the first 16 hex digits of SHA-256 over its text."""
    return hashlib.sha256(f"v1\0{template}".encode()).hexdigest()[:16]


def mine_templates(messages: pd.Series) -> pd.DataFrame:
    """Template and signature id for every message (index aligned with ``messages``)."""
    templates = messages.fillna("").astype(str).map(mask)
    unique = pd.Series(templates.unique())
    ids = dict(zip(unique, unique.map(signature_id), strict=True))
    return pd.DataFrame(
        {"template": templates, "signature": templates.map(ids)}, index=messages.index
    )
