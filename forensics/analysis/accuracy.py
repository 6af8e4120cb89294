"""Grouping and parsing accuracy of :func:`mine_templates` on labelled log samples.

Run ``python -m forensics.analysis.accuracy DIR`` on a directory laid out like Loghub's
``2k_dataset`` (one folder per system holding ``<System>_2k.log``, the structured CSV
``*_structured*.csv`` with ``Content``/``EventId``/``EventTemplate`` columns, and the
templates CSV). Systems are discovered from the folders; one line is printed per system::

    System  grouping_accuracy  lines  predicted_groups  true_groups  parsing_accuracy

How the message part (``Content``) is taken from each raw line: the header layout is
inferred per system in the Loghub ``log_format`` convention (``<Field> <Field>: <Content>``)
from the structured CSV: for each labelled row, the header field values (the CSV columns
between ``LineId`` and ``Content``) are located left to right in the raw line and the text
between them is kept as the literal separators. Each distinct separator layout seen on at
least :data:`MIN_LAYOUT_SHARE` of the rows (optional fields such as a missing PID give a
second layout) becomes one regular expression, literal whitespace matching any run of
whitespace; every raw line (stripped, as Loghub does) is then parsed with the first layout
that matches, most frequent first. Lines no layout matches keep their whole text. The
labels are used only to learn the layouts; the Content mined is what the layouts extract,
and how often that equals the labelled Content is printed on stderr.

Grouping accuracy (Zhu et al., ICSE-SEIP 2019): a line is correct when the set of lines in
its predicted group equals the set of lines sharing its true ``EventId``. Parsing accuracy:
the predicted template string equals ``EventTemplate``.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from forensics.analysis.templates import DEFAULT_DEPTH, DEFAULT_SIMILARITY, mine_templates

#: A separator layout must explain at least this share of labelled rows to be used.
MIN_LAYOUT_SHARE = 0.005


@dataclass(frozen=True)
class SystemResult:
    """Accuracy figures for one system."""

    system: str
    grouping_accuracy: float
    lines: int
    predicted_groups: int
    true_groups: int
    parsing_accuracy: float
    content_match: float
    layouts: tuple[str, ...]
    seconds: float

    def line(self) -> str:
        """The printed result line."""
        return (
            f"{self.system}  {self.grouping_accuracy:.4f}  {self.lines}  "
            f"{self.predicted_groups}  {self.true_groups}  {self.parsing_accuracy:.4f}"
        )


@dataclass(frozen=True)
class SystemFiles:
    """The three files of one labelled system."""

    system: str
    log: Path
    structured: Path


def discover(root: Path) -> list[SystemFiles]:
    """Every sub-folder of ``root`` holding a ``.log`` file and a structured CSV."""
    found: list[SystemFiles] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        logs = sorted(folder.glob("*.log"))
        structured = sorted(folder.glob("*structured*.csv"))
        corrected = [p for p in structured if "corrected" in p.name]
        if logs and structured:
            found.append(SystemFiles(folder.name, logs[0], (corrected or structured)[0]))
    return found


def grouping_accuracy(predicted: pd.Series, truth: pd.Series) -> float:
    """Share of lines whose predicted group has exactly the members of their true group."""
    if len(truth) == 0:
        return 1.0
    frame = pd.DataFrame({"p": predicted.to_numpy(), "t": truth.to_numpy()})
    true_sizes = frame.groupby("t")["t"].transform("size")
    per_pred = frame.groupby("p")["t"].agg(["nunique", "size"])
    pure = frame["p"].map(per_pred["nunique"]) == 1
    whole = frame["p"].map(per_pred["size"]) == true_sizes
    return float((pure & whole).mean())


def _normalised(value: str) -> list[str]:
    """Ways a CSV field value may appear in the raw line (floats saved as ``2915.0``)."""
    forms = [value]
    if re.fullmatch(r"-?\d+\.0", value):
        forms.append(value[:-2])
    return forms


def _layout_of(line: str, fields: list[str], content: str) -> tuple[str, ...] | None:
    """Literal separators before each non-empty field and before the content, or None."""
    pos = 0
    literals: list[str] = []
    for value in fields:
        if value == "":
            literals.append("\0")  # marks an absent field
            continue
        for form in _normalised(value):
            index = line.find(form, pos)
            if index >= 0:
                break
        else:
            return None
        literals.append(line[pos:index])
        pos = index + len(form)
    index = line.find(content, pos) if content else len(line)
    if index < 0 or line[index + len(content) :].strip():
        return None
    literals.append(line[pos:index])
    return tuple(literals)


def _literal_regex(text: str) -> str:
    return r"\s+".join(re.escape(part) for part in re.split(r"\s+", text)) if text else ""


def _layout_regex(names: list[str], literals: tuple[str, ...]) -> re.Pattern[str]:
    parts = ["^"]
    for i in range(len(names)):
        if literals[i] == "\0":
            continue
        parts.append(_literal_regex(literals[i]))
        parts.append(f"(?P<f{i}>.*?)")
    parts.append(_literal_regex(literals[-1]))
    parts.append("(?P<Content>.*)$")
    return re.compile("".join(parts))


def _layout_text(names: list[str], literals: tuple[str, ...]) -> str:
    out = []
    for i, name in enumerate(names):
        if literals[i] != "\0":
            out.append(f"{literals[i]}<{name}>")
    out.append(f"{literals[-1]}<Content>")
    return "".join(out)


def extract_content(lines: list[str], labelled: pd.DataFrame) -> tuple[list[str], tuple[str, ...]]:
    """Content of every raw line via layouts inferred from ``labelled`` (see module doc)."""
    columns = list(labelled.columns)
    names = columns[
        columns.index("LineId") + 1 if "LineId" in columns else 0 : columns.index("Content")
    ]
    layouts: Counter[tuple[str, ...]] = Counter()
    field_rows: list[list[str]] = labelled[names].astype(str).to_numpy().tolist()
    content_rows = labelled["Content"].astype(str).tolist()
    for line, values, content in zip(lines, field_rows, content_rows, strict=False):
        layout = _layout_of(line.strip(), values, content)
        if layout is not None:
            layouts[layout] += 1
    minimum = max(2, int(MIN_LAYOUT_SHARE * len(labelled)))
    chosen = [layout for layout, count in layouts.most_common() if count >= minimum]
    regexes = [_layout_regex(names, layout) for layout in chosen]
    contents: list[str] = []
    for raw in lines:
        line = raw.strip()
        for regex in regexes:
            match = regex.match(line)
            if match:
                contents.append(match.group("Content"))
                break
        else:
            contents.append(line)
    return contents, tuple(_layout_text(names, layout) for layout in chosen)


def read_lines(path: Path) -> list[str]:
    """The lines of a raw log (LF or CRLF; a final newline does not add an empty line)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    return text.removesuffix("\n").replace("\r\n", "\n").split("\n")


def measure(
    files: SystemFiles, *, depth: int = DEFAULT_DEPTH, similarity: float = DEFAULT_SIMILARITY
) -> SystemResult:
    """Mine templates on one system's raw log and compare with its labels."""
    labelled = pd.read_csv(files.structured, dtype=str, keep_default_na=False)
    labelled = labelled.rename(columns=lambda c: re.sub(r"\W", "_", c))
    lines = read_lines(files.log)
    if len(lines) != len(labelled):
        raise ValueError(
            f"{files.log} has {len(lines)} lines but {files.structured} labels {len(labelled)}"
        )
    contents, layouts = extract_content(lines, labelled)
    started = time.perf_counter()
    mined = mine_templates(pd.Series(contents), depth=depth, similarity=similarity)
    seconds = time.perf_counter() - started
    truth = labelled["EventId"]
    content_match = float((pd.Series(contents) == labelled["Content"]).mean())
    parsed = (mined["template"].to_numpy() == labelled["EventTemplate"].to_numpy()).mean()
    return SystemResult(
        system=files.system,
        grouping_accuracy=grouping_accuracy(mined["signature"], truth),
        lines=len(labelled),
        predicted_groups=int(mined["signature"].nunique()),
        true_groups=int(truth.nunique()),
        parsing_accuracy=float(parsed),
        content_match=content_match,
        layouts=layouts,
        seconds=seconds,
    )


def main(argv: list[str] | None = None) -> int:
    """Command line: print one accuracy line per system found under DIR."""
    parser = argparse.ArgumentParser(
        prog="python -m forensics.analysis.accuracy",
        description="Grouping/parsing accuracy of template mining on Loghub-style samples.",
    )
    parser.add_argument("directory", type=Path)
    parser.add_argument("--depth", type=int, default=DEFAULT_DEPTH)
    parser.add_argument("--similarity", type=float, default=DEFAULT_SIMILARITY)
    parser.add_argument("--verbose", action="store_true", help="layouts and timings on stderr")
    args = parser.parse_args(argv)
    systems = discover(args.directory)
    if not systems:
        print(f"no labelled systems under {args.directory}", file=sys.stderr)
        return 2
    for files in systems:
        result = measure(files, depth=args.depth, similarity=args.similarity)
        print(result.line(), flush=True)
        if args.verbose:
            print(
                f"  content extracted equal to labelled Content: {result.content_match:.4f}; "
                f"mining {result.seconds:.2f}s; layouts: {' | '.join(result.layouts)}",
                file=sys.stderr,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
