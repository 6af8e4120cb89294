"""Hostile and broken input, property-based: every log parser, through the real collectors.

Hypothesis writes files of hostile lines (invalid UTF-8, NUL bytes, lone surrogate escapes,
deeply nested and duplicate-key JSON, timestamps without zones, out of range or at DST
changes, very long whitespace runs, mixed ``\\n`` / ``\\r\\n`` / lone ``\\r`` endings, gzip
truncated mid-member) and collects them with ``collector_types()["files"]`` (every format),
``["deploy_events"]`` (jsonl, csv, k8s_events, k8s_replicasets) and ``["git"]`` (``log_file``).
A subset goes through ``forensics.preserve.preserve`` into a ``LocalStore`` and ``verify``.

What is checked, per example (see docs/reliability.md, Hostile and broken input):

* no exception escapes the collector, and no example runs past the per-example deadline
  (``FORENSICS_FUZZ_DEADLINE`` seconds, default 60, enforced with ``SIGALRM``);
* reconciliation: ``reported == rows + rejects + skipped``;
* files collector, line accounting: a line is the bytes up to and including ``\\n`` (a lone
  ``\\r`` does not end a line), and ``reported`` is the number of lines. The line sets of the
  rows (``first..last`` from ``source_ref``, or ``log.part_lines`` for CRI/Docker joins) and
  of the rejects are disjoint; each reject's raw is **exactly** the bytes of its lines; each
  row's ``raw`` is exactly the UTF-8 text of its lines without the final line ending; every
  line in no row and no reject is blank (whitespace only), a CSV header or the record of an
  ``outside_window`` skip, and ``skipped == uncovered lines + sum(lines - 1)`` over the rows
  and rejects (the ``joined_into_record`` lines). So rejects' raw bytes + rows' raw text (+
  their line endings) + the counted skipped lines are byte for byte the input;
* deploy_events/git: each reject's raw is the exact input bytes of its line, CSV row, block or
  (broken JSON) the rest of the file from the document that does not parse.

``FORENSICS_FUZZ_EXAMPLES`` sets the examples per property (default 60, the CI setting; the
longer local run is 2000). Totals are printed at the end (``-s``) and written to
``$FORENSICS_FUZZ_REPORT`` when set.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import re
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from collectors import collector_types
from collectors.records import RecordError, parse_timestamp
from forensics.config import parse_config
from forensics.preserve import preserve
from forensics.stores import LocalStore
from forensics.verify import verify_bundle
from forensics.window import Window
from tests.contract import Rejects

EXAMPLES = int(os.environ.get("FORENSICS_FUZZ_EXAMPLES", "60"))
DEADLINE_S = float(os.environ.get("FORENSICS_FUZZ_DEADLINE", "60"))
#: Wide enough that nothing parseable is outside it, so uncovered lines are only blanks.
WIDE = Window(datetime(1, 1, 2, tzinfo=UTC), datetime(9999, 12, 30, tzinfo=UTC))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,  # our own SIGALRM deadline below also catches hangs inside C code
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
TOTALS = {"inputs": 0, "lines": 0, "bytes": 0, "rows": 0, "rejects": 0, "skipped": 0}

# --- hostile material ---------------------------------------------------------------------

DEEP = "[" * 100_000  # 100k levels: RecursionError must become a reject
TIMESTAMPS = [
    "2026-11-20T09:00:00Z",
    "2026-11-20T09:00:00.123456789Z",
    "2026-11-20T09:00:00",  # no zone
    "2026-11-20 09:00:00,123",
    "2026-10-25T02:30:00",  # Europe/Berlin: happens twice (fold=0 wins)
    "2026-03-29T02:30:00",  # Europe/Berlin: never happens (rejected)
    "0000-01-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "99999-01-01T00:00:00Z",
    "1e30",
    "-1",
    "--5",
    "²",
    "nan",
    "1" * 5000,
]
FRAGMENTS = [
    "\x00",
    "\\u0000",
    "\\ud800",
    "\\udfff\\ud800",
    "\u2028",
    "\x85",
    "\x1c",
    "\x0b",
    '"',
    '""',
    "[",
    "]",
    "{",
    " " * 3000,
    "\t" * 50,
    "=",
    "\\",
    "9" * 5000,
    DEEP[:2000],
]
BAD_BYTES = [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\x00"]
ENDINGS = [b"\n", b"\r\n", b"\r", b"\n\n", b"\r\r\n"]

#: Per files format: source options and seed lines (``{ts}`` is replaced by a timestamp).
FORMATS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "jsonl": (
        {},
        [
            '{"@timestamp": "{ts}", "message": "ok", "log.level": "INFO"}',
            '{"@timestamp": "{ts}", "message": "first", "message": "second"}',
            '{"@timestamp": {ts}, "service": {"name": "a"}}',
        ],
    ),
    "logfmt": ({}, ['ts={ts} level=info msg="hello \\"x\\"" k=v k=w', "ts={ts} msg={ts}"]),
    "nginx": (
        {},
        ['1.2.3.4 - - [20/Nov/2026:09:00:00 +0000] "GET /a?b HTTP/1.1" 502 12 "-" "ua" "-" 0.1 9'],
    ),
    "apache": ({}, ['h:80 1.2.3.4 - u [01/Jan/0001:00:00:00 +0100] "GET / HTTP/1.0" 200 -']),
    "syslog": (
        {},
        [
            "<34>Nov 20 09:00:00 host app[1]: ok",
            "Mar 29 02:30:00 host app: DST gap",
            " continuation",
            '<165>1 {ts} host app 1 ID [a b="c\\"d"] ok',
        ],
    ),
    "journald": (
        {},
        [
            '{"__REALTIME_TIMESTAMP": "1795165200000000", "MESSAGE": "ok", "PRIORITY": "3"}',
            '{"__REALTIME_TIMESTAMP": "{ts}", "MESSAGE": [104, 255], "PRIORITY": "²"}',
        ],
    ),
    "cri": (
        {"inner_format": "json"},
        ['{ts} stdout P {"msg": "a', '{ts} stdout F b", "level": "warn"}', "{ts} stderr F x"],
    ),
    "docker": (
        {"inner_format": "logfmt"},
        [
            '{"log": "level=info msg=a", "stream": "stdout", "time": "{ts}"}',
            '{"log": "b\\n", "stream": "stdout", "time": "{ts}"}',
            '{"log": "c\\n", "stream": {"x": 1}, "time": "{ts}"}',
        ],
    ),
    "plain": ({}, ["{ts} INFO ok", "continued"]),
    "java": (
        {},
        [
            "{ts} ERROR 1 --- [main] c.e.App : boom",
            "\tat c.e.App.main(App.java:1)",
            "Caused by: x",
            "[{ts}] INFO kafka (kafka.Log)",
        ],
    ),
    "python": ({}, ["{ts} - app - ERROR - boom", "Traceback (most recent call last):", "  x"]),
    "csv": (
        {
            "fields": {"@timestamp": "Timestamp"},
            "service_from_pod": True,
            "embedded": {"column": "Log", "format": "docker", "inner_format": "plain"},
        },
        [
            "Timestamp,Log,PodName",
            '{ts},"{""log"":""{ts} INFO x\\n"",""time"":""{ts}""}",ts-a-866bd68c97-xcqfx',
            '{ts},"multi\nline",kafka-0',
        ],
    ),
}
HEADER_FIRST = {"csv"}
_OK = "2026-11-20T09:00:00Z"
_SPACES = " " * 200_000  # quadratic regexes took minutes on this (kafka, spring, access logs)
#: Inputs that crashed, hung or broke the accounting before the fixes (collected with
#: timezone Europe/Berlin): each format runs its own as an ``@example``.
REGRESSIONS: dict[str, bytes] = {
    "jsonl": (
        b'{"@timestamp": 1' + b"1" * 5000 + b"}\n"  # > 4300 digits: ValueError
        b'{"@timestamp": 1' + b"0" * 400 + b"}\n"  # int too large for float
        b'{"@timestamp": "\xc2\xb2"}\n'  # "2" superscript: isdigit() but not float()
        b'{"@timestamp": "' + _OK.encode() + b'", "message": "\\ud800"}\n'  # Arrow refused it
        b'{"@timestamp": "2026-03-29T02:30:00"}\n'  # DST gap: rejected
    ),
    "journald": b'{"__REALTIME_TIMESTAMP": "1", "PRIORITY": "\xc2\xb2"}\n',
    "apache": b'a - - [01/Jan/0001:00:00:00 +0100] "GET / HTTP/1.0" 200 1' + b"1" * 5000 + b"\n",
    "nginx": (
        b'a - - [20/Nov/2026:09:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-" 9' + b"9" * 400 + b"\n"
        b"x" + _SPACES.encode() + b"[\n"
    ),
    "java": (
        b"[2026-11-20 09:00:00,1] INFO x" + _SPACES.encode() + b"x\n"
        b"2026-11-20 09:00:00,1 INFO [" + _SPACES.encode() + b"x\n"
        b"2026-11-20 09:00:00,1 INFO x\n\xff\n\x00more\n"  # bad UTF-8 inside a record
    ),
    "plain": b"\x00\n\n\x00 orphans around a blank line\n",
    "syslog": b"Mar 29 02:30:00 host app: DST gap\nOct 25 02:30:00 host app: twice\n",
    "docker": b'{"log": "x\\n", "time": 1' + b"0" * 400 + b"}\n",
    "cri": b"\xc2\xb2 stdout F x\n",
    "logfmt": b"ts=\xc2\xb2 msg=\\ud800\n",
    "csv": b'Timestamp,Log\n2026-11-20T09:00:00Z,"{""log"":""\\ud800\\n"",""time"":1}"\n',
    "python": b"2026-11-20 09:00:00,1 - a - INFO - x" + _SPACES.encode() + b"\n",
}


@st.composite
def hostile_line(draw: st.DrawFn, seeds: list[str]) -> bytes:
    """One line (no line ending) built from a seed of the format and hostile fragments."""
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(st.binary(max_size=120))
    seed = draw(st.sampled_from(seeds)).replace("{ts}", draw(st.sampled_from(TIMESTAMPS)))
    data = seed.encode()
    for _ in range(draw(st.integers(0 if kind > 1 else 1, 3))):
        where = draw(st.integers(0, len(data)))
        piece = (
            draw(st.sampled_from(BAD_BYTES))
            if draw(st.booleans())
            else draw(st.sampled_from(FRAGMENTS)).encode("utf-8", "surrogatepass")
        )
        data = data[:where] + piece + data[where:]
    if kind == 5:
        data = data + draw(st.text(max_size=40)).encode("utf-8", "surrogatepass")
    return data


@st.composite
def hostile_file(draw: st.DrawFn, seeds: list[str], header: bool = False) -> bytes:
    """Lines joined with mixed endings; the last line may have none."""
    lines = draw(st.lists(hostile_line(seeds), max_size=25))
    if header and draw(st.booleans()):
        lines.insert(0, seeds[0].encode())
    out = b""
    for index, line in enumerate(lines):
        last = index == len(lines) - 1
        out += line + (
            draw(st.sampled_from([*ENDINGS, b""])) if last else draw(st.sampled_from(ENDINGS))
        )
    return out


# --- running with a deadline --------------------------------------------------------------


class Hang(BaseException):
    """Raised by SIGALRM when one example runs past the deadline (BaseException: not swallowed)."""


@contextlib.contextmanager
def deadline(seconds: float = DEADLINE_S) -> Iterator[None]:
    """Fail the example (instead of hanging the suite) when it runs longer than ``seconds``."""

    def expired(_signum: int, _frame: FrameType | None) -> None:
        raise Hang(f"no result after {seconds} s: a parser hangs")

    # pytest-timeout may own SIGALRM too: its timer is put back, less the time spent here.
    started = time.monotonic()
    previous = signal.signal(signal.SIGALRM, expired)
    outer, interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    if outer:
        signal.setitimer(signal.ITIMER_REAL, min(seconds, outer))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:
            left = max(outer - (time.monotonic() - started), 0.001)
            signal.setitimer(signal.ITIMER_REAL, left, interval)


def run(
    source: dict[str, Any], base: Path, window: Window = WIDE
) -> tuple[list[dict[str, Any]], Rejects, Any]:
    """Collect one source through its real collector; return rows, rejects and report."""
    config = parse_config({"source": [source]}, base_dir=base)
    collector = collector_types()[source["type"]](config.sources[0], window=window)
    rejects = Rejects()
    with deadline(), collector:
        collector.open()
        batches = list(collector.batches(rejects))
    table = pa.Table.from_batches(batches, schema=collector.schema)
    report = collector.report
    skipped = sum(report.skipped.values())
    assert report.reported_count == table.num_rows + len(rejects.items) + skipped, (
        report.reported_count,
        table.num_rows,
        len(rejects.items),
        report.skipped,
    )
    TOTALS["inputs"] += 1
    TOTALS["rows"] += table.num_rows
    TOTALS["rejects"] += len(rejects.items)
    TOTALS["skipped"] += skipped
    return table.to_pylist(), rejects, report


def input_lines(data: bytes) -> list[bytes]:
    """The lines as the files collector reads them: up to and including each ``\\n``."""
    return re.findall(rb"[^\n]*\n|[^\n]+\Z", data)


_REF = re.compile(r":(\d+)(?:-(\d+))?$")


def line_span(ref: str) -> tuple[int, int]:
    """``file:12`` or ``file:12-19`` -> (12, 19)."""
    found = _REF.search(ref)
    assert found, ref
    first = int(found.group(1))
    return first, int(found.group(2) or first)


def check_files_accounting(
    data: bytes, rows: list[dict[str, Any]], rejects: Rejects, report: Any, *, truncated: bool
) -> None:
    """Every input line is a row, a reject with its exact bytes, or a counted skip."""
    lines = input_lines(data)
    read = report.query["files"][0]["lines"]
    assert read <= len(lines) if truncated else read == len(lines)
    gz_error = [r for r in rejects.items if r[1].startswith("unreadable from here on")]
    assert report.reported_count == read + len(gz_error)
    assert truncated or not gz_error
    owner: dict[int, str] = {}
    joined = 0
    for ref, _error, raw in rejects.items:
        if raw == b"" and ref in {r[0] for r in gz_error}:
            continue
        first, last = line_span(ref)
        assert 1 <= first <= last <= read, (ref, read)
        expected = b"".join(lines[first - 1 : last])
        if truncated and last == read:  # the last line read may be cut short by the truncation
            assert expected.startswith(raw), ref
        else:
            assert raw == expected, (ref, raw[:80], expected[:80])
        for n in range(first, last + 1):
            assert n not in owner, f"line {n} in two outcomes"
            owner[n] = ref
        joined += last - first
        TOTALS["bytes"] += len(raw)
    for row in rows:
        first, last = line_span(row["source_ref"])
        attrs = json.loads(row["attributes"] or "{}")
        numbers = attrs.get("log.part_lines") or list(range(first, last + 1))
        assert numbers[0] == first and numbers[-1] == last
        parts = [lines[n - 1] for n in numbers]
        if "log.part_lines" in attrs:  # CRI/Docker joins: each part's text, joined with \n
            text = "\n".join(p.rstrip(b"\r\n").decode() for p in parts)
        else:
            text = b"".join(parts).rstrip(b"\r\n").decode()
        if not (truncated and last == read):
            assert row["raw"] == text, (row["source_ref"], row["raw"][:80], text[:80])
        for n in numbers:
            assert n not in owner, f"line {n} in two outcomes"
            owner[n] = row["source_ref"]
        joined += len(numbers) - 1
        TOTALS["bytes"] += len(b"".join(parts))
    uncovered = [n for n in range(1, read + 1) if n not in owner]
    skipped = report.skipped
    assert set(skipped) <= {"blank_line", "header", "joined_into_record", "outside_window"}
    assert skipped.get("joined_into_record", 0) >= joined
    assert sum(skipped.values()) == len(uncovered) + joined, (skipped, len(uncovered), joined)
    # (a truncated gzip may end in the prefix of a line: blank there, not in the original)
    not_blank = [n for n in uncovered if lines[n - 1].strip() and not (truncated and n == read)]
    allowed = skipped.get("header", 0) + skipped.get("outside_window", 0)
    multi = skipped.get("joined_into_record", 0) - joined  # lines of skipped multi-line records
    assert len(not_blank) <= allowed + multi, (not_blank[:5], skipped)
    TOTALS["bytes"] += sum(len(lines[n - 1]) for n in uncovered)
    TOTALS["lines"] += read


def files_source(name: str, path: Path, options: dict[str, Any], tz: str | None) -> dict[str, Any]:
    source = {"name": "fuzz", "type": "files", "paths": [path.name], "format": name, **options}
    if tz:
        source["timezone"] = tz
    return source


# --- the files collector, every format --------------------------------------------------


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_files_formats_survive_hostile_input(
    name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    options, seeds = FORMATS[name]

    @FUZZ
    @given(
        data=hostile_file(seeds, header=name in HEADER_FIRST),
        tz=st.sampled_from([None, "Europe/Berlin", "UTC"]),
        compress=st.sampled_from(["none", "none", "gzip", "truncated"]),
        cut=st.floats(0.0, 1.0),
    )
    @example(data=DEEP.encode() + b"\n", tz=None, compress="none", cut=0.0)
    @example(data=b"\xff\xfe\x00\n\r\n\r" + b" " * 100 + b"\r\n", tz=None, compress="none", cut=0.0)
    @example(
        data=seeds[0].replace("{ts}", "2026-10-25T02:30:00").encode()
        + b"\r\n"
        + seeds[0].replace("{ts}", "2026-03-29T02:30:00").encode(),
        tz="Europe/Berlin",
        compress="none",
        cut=0.0,
    )
    @example(data=(seeds[0] + "\n").encode() * 40, tz="UTC", compress="truncated", cut=0.5)
    @example(data=REGRESSIONS[name], tz="Europe/Berlin", compress="none", cut=0.0)
    def check(data: bytes, tz: str | None, compress: str, cut: float) -> None:
        base = tmp_path_factory.mktemp(name)
        path = base / ("input.log.gz" if compress != "none" else "input.log")
        stored = gzip.compress(data, mtime=0) if compress != "none" else data
        truncated = compress == "truncated" and len(stored) > 20
        if truncated:
            stored = stored[: 10 + int((len(stored) - 20) * cut)]  # mid-member, trailer lost
        path.write_bytes(stored)
        rows, rejects, report = run(files_source(name, path, options, tz), base)
        check_files_accounting(data, rows, rejects, report, truncated=truncated)

    check()


def test_ten_megabyte_lines(tmp_path: Path) -> None:
    """10 MB lines (plain text, a whitespace run inside a record, JSON) in every format."""
    big = 10 * 1024 * 1024
    for name, (options, seeds) in sorted(FORMATS.items()):
        seed = seeds[-1 if name in HEADER_FIRST else 0].replace("{ts}", "2026-11-20T09:00:00Z")
        cut = len(seed) // 2
        lines = [
            seed[:cut].encode() + b" " * big + seed[cut:].encode(),
            b"x" + b" " * big + b"[",
            b'{"message": "' + b"a" * big + b'"}',
        ]
        data = b"\n".join(lines) + b"\r\n"
        if name in HEADER_FIRST:
            data = seeds[0].encode() + b"\n" + data
        path = tmp_path / f"{name}.log"
        path.write_bytes(data)
        rows, rejects, report = run(files_source(name, path, options, "UTC"), tmp_path)
        check_files_accounting(data, rows, rejects, report, truncated=False)


def test_duplicate_keys_and_dst_rules(tmp_path: Path) -> None:
    """Duplicate JSON keys: the last value wins in the row, ``raw`` keeps both. DST rules."""
    path = tmp_path / "dup.log"
    path.write_bytes(
        b'{"@timestamp": "2026-10-25T02:30:00", "message": "first", "message": "second"}\n'
        b'{"@timestamp": "2026-03-29T02:30:00", "message": "gap"}\n'
        b'{"@timestamp": "2026-11-20T09:00:00", "message": "\\ud800"}\n'
    )
    rows, rejects, _ = run(files_source("jsonl", path, {}, "Europe/Berlin"), tmp_path)
    assert [r["message"] for r in rows] == ["second"]
    assert '"first"' in rows[0]["raw"] and '"second"' in rows[0]["raw"]
    # 02:30 happens twice: the first (CEST, +02:00) is taken.
    assert rows[0]["@timestamp"] == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    reasons = [e for _, e, _ in rejects.items]
    assert "does not exist in Europe/Berlin" in reasons[0]
    assert "lone surrogate" in reasons[1]
    berlin = ZoneInfo("Europe/Berlin")
    assert parse_timestamp("2026-10-25T02:30:00", berlin) == datetime(
        2026, 10, 25, 0, 30, tzinfo=UTC
    )
    with pytest.raises(RecordError, match="does not exist"):
        parse_timestamp("2026-03-29T02:30:00", berlin)
    for value in ("0000-01-01T00:00:00Z", "99999-01-01T00:00:00Z", 1e30, 10**400, "²", "--5"):
        with pytest.raises(RecordError):
            parse_timestamp(value)


# --- deploy_events ------------------------------------------------------------------------

DEPLOY_SEEDS: dict[str, list[str]] = {
    "jsonl": [
        '{"@timestamp": "{ts}", "change.kind": "deploy", "summary": "v2", "summary": "v3"}',
        '{"@timestamp": {ts}, "details": {"a": [1, 2]}}',
    ],
    "csv": ["@timestamp,service.name,summary", '{ts},checkout,"v2, ""quoted""\nline"', "{ts},a,b"],
    "k8s_events": [
        '{"kind": "List", "items": [{"kind": "Event", "lastTimestamp": "{ts}", "reason": '
        '"Pulled", "message": "Successfully pulled image \\"a:1\\"", "involvedObject": '
        '{"kind": "Pod", "name": "web-5d9c7b8f6-x2x9q", "namespace": "n"}}]}',
        '{"kind": "Event", "eventTime": "{ts}", "reason": {"x": 1}, "metadata": [1]}',
        '{"kind": "Event", "firstTimestamp": "{ts}", "involvedObject": {"namespace": {"a": 1}}}',
    ],
    "k8s_replicasets": [
        '{"kind": "List", "items": [{"kind": "ReplicaSet", "metadata": {"name": "web-5d9c7b8f6", '
        '"creationTimestamp": "{ts}", "annotations": {"deployment.kubernetes.io/revision": "2"}},'
        ' "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i:2"}]}}}}]}',
        '{"kind": "ReplicaSet", "metadata": {"creationTimestamp": "{ts}", "namespace": [1], '
        '"annotations": ["x"], "ownerReferences": 5}}',
    ],
}


@pytest.mark.parametrize("fmt", sorted(DEPLOY_SEEDS))
def test_deploy_events_survive_hostile_input(
    fmt: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    seeds = DEPLOY_SEEDS[fmt]

    @FUZZ
    @given(
        data=hostile_file(seeds, header=fmt == "csv"), tz=st.sampled_from([None, "Europe/Berlin"])
    )
    @example(data=DEEP.encode(), tz=None)
    @example(data=b'{"kind": "Event"} ' + DEEP.encode(), tz=None)
    @example(data=b"@timestamp,summary\n2026-11-20T09:00:00Z,a\xc2\x85b\n", tz=None)
    @example(data=b'a,"b\n\n2026-11-20T09:00:00Z,x\n', tz=None)
    def check(data: bytes, tz: str | None) -> None:
        base = tmp_path_factory.mktemp(fmt)
        (base / "export.txt").write_bytes(data)
        source: dict[str, Any] = {
            "name": "fuzz",
            "type": "deploy_events",
            "kind": "changes",
            "paths": ["export.txt"],
            "format": fmt,
        }
        if tz:
            source["timezone"] = tz
        rows, rejects, report = run(source, base)
        if fmt == "jsonl":  # lines end at \n, \r\n or a lone \r; raw is the line without it
            lines = data.splitlines()
            assert report.reported_count == len(lines)
            for ref, _, raw in rejects.items:
                assert raw == lines[line_span(ref)[0] - 1]
        for _, error, raw in rejects.items:
            if fmt.startswith("k8s_") and error.startswith("invalid JSON"):
                assert data.endswith(raw)  # the broken document and all after it
            elif "nor a List" in error or not fmt.startswith("k8s_"):
                assert raw in data  # exact bytes of the line, CSV row or JSON document
            TOTALS["bytes"] += len(raw)
        TOTALS["bytes"] += sum(len(r["raw"].encode()) for r in rows)

    check()


# --- git log_file ---------------------------------------------------------------------------

GIT_SEEDS = [
    "commit 0123456789abcdef0123456789abcdef01234567 (HEAD -> main)",
    "Author:     A <a@example.com>",
    "AuthorDate: {ts}",
    "Commit:     C <c@example.com>",
    "CommitDate: {ts}",
    "CommitDate: 0000-01-01 00:00:00 +0000",
    "CommitDate: 2026-03-29 02:30:00",
    "",
    "    Merge pull request #12 from x/y",
    "M\tservices/checkout/app.py",
    "R100\told.txt\tnew.txt",
]


@FUZZ
@given(data=hostile_file(GIT_SEEDS), tz=st.sampled_from([None, "Europe/Berlin"]))
@example(data=b"commit 0123456\nAuthor: a\nCommitDate: 0000-01-01 00:00:00 +0000\n", tz=None)
@example(data=b"commit 0123456\nAuthor: a\nCommitDate: 0001-01-01 00:00:00 +0100\n", tz=None)
@example(
    data=b"commit 0123456\r\nAuthor: a\xff\rCommitDate: 2026-03-29 02:30:00\n", tz="Europe/Berlin"
)
def test_git_log_file_survives_hostile_input(data: bytes, tz: str | None) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        (base / "git.log").write_bytes(data)
        source: dict[str, Any] = {"name": "fuzz", "type": "git", "log_file": "git.log"}
        if tz:
            source["timezone"] = tz
        _rows, rejects, report = run(source, base)
    blocks = len(
        [
            1
            for line in data.splitlines()
            if re.fullmatch(rb"commit [0-9a-f]{7,64}( \(.*\))?\s*", line)
        ]
    )
    assert report.reported_count >= blocks
    for _, _, raw in rejects.items:
        assert raw in data  # the exact bytes of the rejected block
        TOTALS["bytes"] += len(raw)


# --- a subset through preserve into a LocalStore --------------------------------------------


def test_hostile_files_preserved_sealed_and_verified(tmp_path: Path) -> None:
    """Hostile lines through ``preserve``: reconciled, exact raw rejects, a bundle that verifies."""
    hostile = [
        b'{"@timestamp": "2026-11-20T09:00:00Z", "message": "ok"}',
        DEEP.encode(),
        b'{"@timestamp": "2026-11-20T09:00:00Z", "message": "\\ud800"}',
        b"\xff\xfe\x00 not utf-8",
        b'{"@timestamp": "2026-11-20T09:00:00", "message": "no zone"}',
        b'{"@timestamp": 1e30}',
        b"",
        b"   \t",
    ]
    data = b"\n".join(hostile[:4]) + b"\r\n" + b"\n".join(hostile[4:]) + b"\n"
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "app.jsonl").write_bytes(data)
    config = parse_config(
        {"source": [{"name": "app", "type": "files", "paths": ["logs/*.jsonl"]}]}, base_dir=tmp_path
    )
    store = LocalStore(tmp_path / "evidence")
    with deadline():
        result = preserve(config, store, incident="INC-FUZZ", window=WIDE)
    entry = result.manifest.sources[0]
    assert entry.reconciled and entry.reported_count == len(hostile) == 8
    assert (entry.rows_written, entry.rows_rejected) == (1, 5)
    assert entry.rows_skipped == {"blank_line": 2}
    rejects_files = sorted((Path(result.bundle_uri) / "rejects").rglob("*.parquet"))
    raws = [r for f in rejects_files for r in pq.read_table(f).column("raw").to_pylist()]
    lines = data.splitlines(keepends=True)
    assert sorted(raws) == sorted(lines[i] for i in (1, 2, 3, 4, 5))
    assert verify_bundle(store, "INC-FUZZ", result.bundle_id, record=False).intact
    TOTALS["inputs"] += 1
    TOTALS["bytes"] += len(data)


@pytest.fixture(scope="module", autouse=True)
def fuzz_totals() -> Iterator[None]:
    """Print (and optionally write) how many inputs were fuzzed and bytes accounted for."""
    yield
    line = json.dumps({"examples_per_property": EXAMPLES, **TOTALS})
    print(f"\nhostile-input totals: {line}")
    if target := os.environ.get("FORENSICS_FUZZ_REPORT"):
        Path(target).write_text(line + "\n")
