"""Drain-style online clustering of masked log messages into templates.

Written for this project from the published description of Drain (P. He, J. Zhu, Z. Zheng,
M. R. Lyu, "Drain: An Online Log Parsing Approach with Fixed Depth Tree", ICWS 2017):

1. a message is split into tokens on whitespace;
2. the first level of a fixed-depth prefix tree is the token count, the next ``depth - 2``
   levels are the leading tokens (a token holding a digit or a wildcard goes down the
   wildcard branch, as does any token once a node has ``max_children`` children);
3. the leaf holds a list of clusters; the message joins the most similar cluster when the
   similarity reaches ``similarity``, else it starts a new one;
4. joining a cluster turns every position where the template and the message differ into
   the wildcard ``<*>``.

Similarity here is token-aware: positions already ``<*>`` in the template count as
matching when the message token is itself a variable (wildcard or holds a digit), and are
left out of the comparison otherwise; ties go to the cluster with fewer wildcards, then to
the older cluster. Everything is deterministic: the same messages in the same order give
the same clusters and templates. The state is plain lists and dicts (no pickle).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

WILDCARD: Final = "<*>"


def is_variable(token: str) -> bool:
    """Whether a token looks like a variable: it holds a wildcard or a digit."""
    return WILDCARD in token


@dataclass
class Cluster:
    """One template: its tokens (``<*>`` at variable positions) and how many messages joined."""

    tokens: list[str]
    size: int = 1

    @property
    def template(self) -> str:
        """The template text: tokens joined by single spaces."""
        return " ".join(self.tokens)


@dataclass
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    clusters: list[int] = field(default_factory=list)


class Drain:
    """A fixed-depth prefix tree of clusters; feed token lists with :meth:`add`."""

    def __init__(self, *, depth: int = 4, similarity: float = 0.5, max_children: int = 100) -> None:
        """Set the tree depth (>= 3), similarity threshold (0..1] and the fan-out limit."""
        if depth < 3:
            raise ValueError("depth must be at least 3")
        if not 0.0 < similarity <= 1.0:
            raise ValueError("similarity must be in (0, 1]")
        self.depth = depth
        self.similarity = similarity
        self.max_children = max_children
        self.clusters: list[Cluster] = []
        self._root: dict[int, _Node] = {}

    def add(self, tokens: list[str]) -> int:
        """Place one tokenised message; returns the index of its cluster in :attr:`clusters`."""
        leaf = self._leaf(tokens)
        best = self._best(leaf.clusters, tokens)
        if best is None:
            self.clusters.append(Cluster(list(tokens)))
            best = len(self.clusters) - 1
            leaf.clusters.append(best)
            return best
        cluster = self.clusters[best]
        cluster.size += 1
        for i, (old, new) in enumerate(zip(cluster.tokens, tokens, strict=True)):
            if old != new and old != WILDCARD:
                cluster.tokens[i] = WILDCARD
        return best

    def _leaf(self, tokens: list[str]) -> _Node:
        node = self._root.setdefault(len(tokens), _Node())
        for token in tokens[: self.depth - 2]:
            key = WILDCARD if is_variable(token) else token
            child = node.children.get(key)
            if child is None:
                if len(node.children) >= self.max_children:
                    key = WILDCARD
                child = node.children.setdefault(key, _Node())
            node = child
        return node

    def _best(self, candidates: list[int], tokens: list[str]) -> int | None:
        best: int | None = None
        best_key = (-1.0, 0)
        for index in candidates:
            sim, wildcards = self._score(self.clusters[index].tokens, tokens)
            key = (sim, -wildcards)
            if sim >= self.similarity and key > best_key:
                best, best_key = index, key
        return best

    @staticmethod
    def _score(template: list[str], tokens: list[str]) -> tuple[float, int]:
        if not tokens:
            return 1.0, 0
        same = compared = wildcards = 0
        for old, new in zip(template, tokens, strict=True):
            if old == WILDCARD:
                # A position generalised by earlier merges: no evidence either way.
                wildcards += 1
                continue
            if old == new and WILDCARD in old:
                # The same masked shape ("<*>:<*>", "uid=<*>"): no evidence either way.
                continue
            compared += 1
            if old == new:
                same += 1
        if compared == 0:
            return 1.0, wildcards
        return same / compared, wildcards
