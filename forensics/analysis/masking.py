"""Masking of the variable parts of log messages before they are clustered into templates.

Every rule is one compiled regular expression with a replacement; the rules run in a fixed
order (most specific first) so that, for example, an IPv4 address with a port becomes one
``<*>:<*>`` instead of four masked numbers. :func:`mask_series` applies the rules to a whole
pandas Series at once (``Series.str.replace`` per rule), which is what keeps large bundles
tractable; :func:`mask` applies the same rules to one string and gives the same result.

Classes of variable masked, in order: URLs, e-mail addresses, UUIDs, date-times, quoted
values, IPv6 addresses, IPv4 addresses and ``host:port`` pairs, file paths, hexadecimal
values, data sizes and durations with their unit, clock times, and finally any number that
is not glued to a letter (so ``node-246`` becomes ``node-<*>`` but ``jk2_init`` or ``eth0``
keep their digits). Values of ``key=value`` pairs are masked only when they are one of these
classes: a word value such as ``user=root`` is left for the clustering to judge, because
such words are often part of what distinguishes one event from another.
"""

from __future__ import annotations

import re
from typing import Final

import numpy as np
import pandas as pd

WILDCARD: Final = "<*>"

# Unit words accepted after a number, with or without a space ("12ms", "3 sec", "8.18 KB").
_SPACED_UNITS = (
    r"(?:bytes?|[KMGTP]i?B|[kKMGT]b|ms|msecs?|us|µs|ns|secs?|seconds?|mins?|minutes?|"
    r"hours?|hrs?|days?)"
)
_GLUED_UNITS = r"(?:[KMGTP]i?B|ms|us|µs|ns|[smhd])"

_HEX4 = r"[0-9A-Fa-f]{1,4}"

#: Masking rules as (name, pattern, replacement, triggers), applied in this order. A rule
#: runs only on messages holding one of its triggers (a substring, or a regular expression
#: after ``re:``; no triggers: every message), which skips most regex work on large Series.
RULES: Final[tuple[tuple[str, str, str, tuple[str, ...]], ...]] = (
    ("url", r"\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s\"'<>]+", WILDCARD, ("://",)),
    (
        "email",
        r"\b[\w.+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b",
        WILDCARD,
        ("@",),
    ),
    (
        "uuid",
        r"\b[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\b",
        WILDCARD,
        ("-",),
    ),
    (
        "datetime",
        r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+\-]\d{2}:?\d{2})?",
        WILDCARD,
        ("-",),
    ),
    (
        "text_datetime",
        r"\b(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,?\s+)?"
        r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\s+\d{1,2},?\s+"
        r"(?:\d{4}\s+)?\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?(?:\s+[A-Z]{3,4})?(?:\s+\d{4})?\b",
        WILDCARD,
        ("re:(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\\s+\\d",),
    ),
    ("double_quoted", r"(?<![\w\\])\"[^\"\n]*\"", '"<*>"', ('"',)),
    (
        "escaped_quoted",
        r"\\042.*?\\042|\\\".*?\\\"|&quot;.*?&quot;",
        WILDCARD,
        ("\\", "&quot;"),
    ),
    ("single_quoted", r"(?<![\w\\])'[^'\n]*'(?!\w)", "'<*>'", ("'",)),
    (
        "ipv6",
        r"(?<![\w:.])(?:(?:" + _HEX4 + r":){7}" + _HEX4 + r"|(?:" + _HEX4 + r":){1,6}:"
        r"(?:" + _HEX4 + r":){0,5}" + _HEX4 + r"|::(?:" + _HEX4 + r":){0,6}" + _HEX4 + r")"
        r"(?![\w:.])",
        WILDCARD,
        ("::", "re:[0-9A-Fa-f]:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]"),
    ),
    (
        "clock",
        r"(?<![\w:.])\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?(?![\w:])",
        WILDCARD,
        (":",),
    ),
    # IPv4 addresses; hosts followed by a port ("proxy.example.org:5070", "db1:5432").
    # Only the address is masked here; the port is masked as a number below ("<*>:<*>").
    (
        "address",
        r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w.])"
        r"|(?<![\w.\-])[A-Za-z0-9][\w.\-]*(?=:\d{1,5}(?![\w.:]))",
        WILDCARD,
        (".", ":"),
    ),
    ("unix_path", r"(?<![\w./:\-])(?:/[\w.\-~@+%]+)+/?", WILDCARD, ("/",)),
    ("windows_path", r"\b[A-Za-z]:\\[^\s\"'<>|]*", WILDCARD, (":\\",)),
    # Hex values, then numbers with a unit (sizes, durations), then any other number that is
    # not glued to a letter: one pass, alternatives tried in this order at each position.
    (
        "hex_quantity_number",
        r"\b0[xX][0-9A-Fa-f]+\b"
        r"|\b(?=[0-9A-Fa-f]*\d)(?=[0-9A-Fa-f]*[A-Fa-f])[0-9A-Fa-f]{8,}\b"
        r"|(?<![\w.])[<>~]?\d+(?:\.\d+)?(?:\s?" + _SPACED_UNITS + r"|" + _GLUED_UNITS + r")"
        r"(?:\d+(?:\.\d+)?" + _GLUED_UNITS + r")*(?![\w])"
        r"|(?:(?<![\w.])-)?(?<![A-Za-z0-9_])\d+(?:\.\d+)*(?![A-Za-z_])",
        WILDCARD,
        ("re:\\d",),
    ),
    # A size or count followed by the same amount in other units: "<*> (<*>)" -> "<*>".
    ("parenthesised_restatement", r"<\*> \(<\*>\)(?=\s|$)", WILDCARD, ("(<*>)",)),
)

_COMPILED: Final = tuple(
    (re.compile(pattern), repl, triggers) for _name, pattern, repl, triggers in RULES
)


def _triggered(message: str, triggers: tuple[str, ...]) -> bool:
    for trigger in triggers:
        if trigger.startswith("re:"):
            if re.search(trigger[3:], message):
                return True
        elif trigger in message:
            return True
    return False


def _has_trigger(out: pd.Series, triggers: tuple[str, ...]) -> pd.Series:
    has = pd.Series(False, index=out.index)
    for trigger in triggers:
        if trigger.startswith("re:"):
            has |= out.str.contains(trigger[3:], regex=True)
        else:
            has |= out.str.contains(trigger, regex=False)
    return has


def mask(message: str) -> str:
    """Replace the variable parts of one message with ``<*>`` (same rules as the Series form)."""
    for pattern, repl, triggers in _COMPILED:
        if not triggers or _triggered(message, triggers):
            message = pattern.sub(repl, message)
    return message


def mask_series(messages: pd.Series) -> pd.Series:
    """Mask every message of a Series of strings, vectorised rule by rule; index kept.

    Missing values are masked as empty strings.

    Distinct messages are masked once each and mapped back, and each rule runs only on the
    messages holding one of its trigger substrings.
    """
    codes, uniques = pd.factorize(messages.fillna("").astype(str), sort=False)
    out = pd.Series(uniques, dtype=object)
    for pattern, repl, triggers in _COMPILED:
        if not len(out):
            break
        if not triggers:
            out = out.str.replace(pattern, repl, regex=True)
            continue
        has = _has_trigger(out, triggers)
        if has.all():
            out = out.str.replace(pattern, repl, regex=True)
        elif has.any():
            out[has] = out[has].str.replace(pattern, repl, regex=True)
    masked = out.to_numpy(dtype=object)[codes] if len(codes) else np.array([], dtype=object)
    return pd.Series(masked, index=messages.index, dtype=object)
