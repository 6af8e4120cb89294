"""Selecting input files by glob patterns, shared by the file-reading collectors."""

from __future__ import annotations

import glob
from collections.abc import Sequence
from pathlib import Path

from forensics.errors import SourceError


def _matches(base_dir: Path, pattern: str) -> list[Path]:
    full = Path(pattern) if Path(pattern).is_absolute() else base_dir / pattern
    found = sorted(glob.glob(str(full), recursive=True))  # noqa: PTH207 - absolute patterns
    return [Path(p) for p in found if Path(p).is_file()]


def resolve_files(
    base_dir: Path,
    patterns: Sequence[str],
    excludes: Sequence[str],
    *,
    where: str,
    hint: str = "",
) -> list[Path]:
    """Files matching ``patterns`` (relative to ``base_dir``), minus ``excludes``, each once.

    A pattern that matches no file at all is an error: at triage it means a wrong path, and
    silently collecting nothing would look like "no evidence".
    """
    excluded = {p.resolve() for pattern in excludes for p in _matches(base_dir, pattern)}
    seen: set[Path] = set()
    files: list[Path] = []
    for pattern in patterns:
        found = _matches(base_dir, pattern)
        if not found:
            raise SourceError(
                f"{where}: no file matches {pattern!r} (relative to {base_dir}){hint}"
            )
        for path in found:
            resolved = path.resolve()
            if resolved not in excluded and resolved not in seen:
                seen.add(resolved)
                files.append(path)
    return files


def display_path(base_dir: Path, path: Path) -> str:
    """How a file is named in ``source_ref`` and the manifest: relative to the config if inside."""
    try:
        return str(path.relative_to(base_dir))
    except ValueError:
        return str(path)
