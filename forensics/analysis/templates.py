"""Error signatures: mask the variable parts of log messages, then group them into templates.

API (stable):

- :func:`mask` replaces variable parts of one message with ``<*>``.
- :func:`mine_templates` maps a pandas Series of messages to a DataFrame with ``template``
  and ``signature`` columns aligned to the input index.
- :func:`signature_id` derives a signature id from template text alone, so the same template
  has the same id in every bundle.

How :func:`mine_templates` works:

1. every message is masked (:mod:`forensics.analysis.masking`, vectorised over the Series);
2. only the UNIQUE masked strings are clustered, in order of first occurrence in the input,
   by a Drain-style prefix tree (:mod:`forensics.analysis.drain`);
3. each cluster is split on positions holding a few frequent distinct tokens, which are
   constants telling events apart rather than variables (:func:`split_clusters`);
4. clusters that end with the same template text are one template;
5. each row gets the template of its masked string and the template's signature id.

Accuracy on labelled samples is measured by ``python -m forensics.analysis.accuracy``
(figures and settings in ``docs/accuracy.md``).

The result depends only on the messages and their order (first-occurrence order of the
unique masked strings), never on hashing or timing.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from forensics.analysis.drain import WILDCARD, Drain
from forensics.analysis.masking import mask, mask_series

__all__ = [
    "WILDCARD",
    "mask",
    "mine_templates",
    "signature_id",
    "split_clusters",
    "template_of_masked",
]

DEFAULT_DEPTH = 4
DEFAULT_SIMILARITY = 0.7
DEFAULT_SPLIT_MAX_VALUES = 3
DEFAULT_SPLIT_MIN_COUNT = 2


def signature_id(template: str) -> str:
    """A stable id for a template: the first 16 hex digits of SHA-256 over its text."""
    return hashlib.sha256(f"v1\0{template}".encode()).hexdigest()[:16]


def template_of_masked(
    masked: list[str],
    counts: list[int] | None = None,
    *,
    depth: int = DEFAULT_DEPTH,
    similarity: float = DEFAULT_SIMILARITY,
    split_max_values: int = DEFAULT_SPLIT_MAX_VALUES,
    split_min_count: int = DEFAULT_SPLIT_MIN_COUNT,
) -> list[str]:
    """Cluster distinct masked messages (in the given order); the template of each one.

    ``counts`` (default: 1 each) is how many lines each distinct message stands for; it is
    used by the split pass (see :func:`split_clusters`).
    """
    drain = Drain(depth=depth, similarity=similarity)
    tokenised = [message.split() for message in masked]
    assigned = [drain.add(tokens) for tokens in tokenised]
    members: dict[int, list[int]] = {}
    for index, cluster in enumerate(assigned):
        members.setdefault(cluster, []).append(index)
    weights = counts if counts is not None else [1] * len(masked)
    templates = [""] * len(masked)
    for group in members.values():
        for part in split_clusters(
            group,
            tokenised,
            weights,
            max_values=split_max_values,
            min_count=split_min_count,
        ):
            text = " ".join(merge_tokens([tokenised[i] for i in part]))
            for i in part:
                templates[i] = text
    return templates


def merge_tokens(rows: list[list[str]]) -> list[str]:
    """Position-wise template of equally long token lists: the shared token or ``<*>``."""
    first = rows[0]
    return [
        token if all(row[i] == token for row in rows) else WILDCARD for i, token in enumerate(first)
    ]


def split_clusters(
    group: list[int],
    tokenised: list[list[str]],
    weights: list[int],
    *,
    max_values: int,
    min_count: int,
) -> list[list[int]]:
    """Split one cluster on positions that hold a few frequent distinct tokens.

    Drain merges messages that differ in one word even when that word is a constant that
    tells two events apart (``... HTTPS`` / ``... SOCKS5``, ``interface alt0`` /
    ``interface ee0``). A real variable takes many values; so a position where the
    cluster's messages show at least 2 and at most ``max_values`` distinct tokens, each
    seen on at least ``min_count`` lines, and at least one of them not masked, is treated
    as constant and the cluster is split on it. (Tokens that are all masked, such as
    ``<*>`` and ``<*>:<*>``, are different shapes of one variable, not constants.)
    Parts are returned in order of their first member (deterministic).
    """
    if len(group) < 2 or max_values < 2:
        return [group]
    width = len(tokenised[group[0]])
    keys: list[int] = []
    for position in range(width):
        seen: dict[str, int] = {}
        for i in group:
            token = tokenised[i][position]
            seen[token] = seen.get(token, 0) + weights[i]
        if (
            2 <= len(seen) <= max_values
            and min(seen.values()) >= min_count
            and not all(WILDCARD in token for token in seen)
        ):
            keys.append(position)
    if not keys:
        return [group]
    parts: dict[tuple[str, ...], list[int]] = {}
    for i in group:
        parts.setdefault(tuple(tokenised[i][p] for p in keys), []).append(i)
    return list(parts.values())


def mine_templates(
    messages: pd.Series,
    *,
    depth: int = DEFAULT_DEPTH,
    similarity: float = DEFAULT_SIMILARITY,
    split_max_values: int = DEFAULT_SPLIT_MAX_VALUES,
    split_min_count: int = DEFAULT_SPLIT_MIN_COUNT,
) -> pd.DataFrame:
    """Template and signature id for every message (index aligned with ``messages``).

    ``depth`` and ``similarity`` are the Drain tree depth and similarity threshold; the
    defaults are the ones measured in ``docs/accuracy.md``.
    """
    text = messages.fillna("").astype(str)
    masked = mask_series(text)
    codes, uniques = pd.factorize(masked, sort=False)
    counts = np.bincount(codes, minlength=len(uniques)).tolist()
    unique_templates = template_of_masked(
        [str(u) for u in uniques],
        counts,
        depth=depth,
        similarity=similarity,
        split_max_values=split_max_values,
        split_min_count=split_min_count,
    )
    distinct = list(dict.fromkeys(unique_templates))
    position = {t: i for i, t in enumerate(distinct)}
    template_codes = np.fromiter((position[t] for t in unique_templates), dtype=np.int64)
    per_row = template_codes[codes] if len(codes) else np.zeros(0, dtype=np.int64)
    template_text = np.asarray(distinct, dtype=object)
    signatures = np.asarray([signature_id(t) for t in distinct], dtype=object)
    return pd.DataFrame(
        {"template": template_text[per_row], "signature": signatures[per_row]},
        index=messages.index,
    )
