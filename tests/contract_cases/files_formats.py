"""Contract cases for the files collector's text formats (one case per format family)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from forensics.config import parse_config
from tests.contract import ContractCase, contract_case
from tests.helpers import WINDOW

INSIDE = 50


def _times() -> list[datetime]:
    """50 times inside the window, 3 before and 3 after it."""
    inside = [WINDOW.since + timedelta(seconds=97 * i) for i in range(INSIDE)]
    before = [WINDOW.since - timedelta(minutes=5 * (i + 1)) for i in range(3)]
    after = [WINDOW.until + timedelta(minutes=5 * i) for i in range(3)]
    return before + inside + after


def _case(
    base: Path,
    name: str,
    line: Callable[[int, datetime], bytes],
    *,
    bad: bytes,
    options: dict[str, Any],
    expected_rows: int = INSIDE,
    check_row: Callable[[dict[str, Any]], None] | None = None,
) -> ContractCase:
    body = b"".join(line(i, t) for i, t in enumerate(_times())) + bad + b"\n"
    (base / name).write_bytes(body)
    source = {"name": "contract", "type": "files", "paths": [name], **options}
    config = parse_config({"source": [source]}, base_dir=base)
    return ContractCase(
        config.sources[0], WINDOW, expected_rows, expected_rejects=1, check_row=check_row
    )


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _clf(moment: datetime) -> str:
    return moment.strftime("%d/%b/%Y:%H:%M:%S +0000")


@contract_case("files-logfmt")
def files_logfmt(request: pytest.FixtureRequest, base: Path) -> ContractCase:
    def line(i: int, t: datetime) -> bytes:
        level = "error" if i % 5 == 0 else "info"
        return f'ts={_iso(t)} level={level} msg="request {i} done" caller=x.go:{i}\n'.encode()

    def check(row: dict[str, Any]) -> None:
        assert row["log.level"] in {"info", "error"} and row["message"].startswith("request ")

    return _case(base, "app.log", line, bad=b'ts=2026 msg="unterminated', options={
        "format": "logfmt"}, check_row=check)  # fmt: skip


@contract_case("files-nginx")
def files_nginx(request: pytest.FixtureRequest, base: Path) -> ContractCase:
    def line(i: int, t: datetime) -> bytes:
        status = (200, 404, 503)[i % 3]
        return (
            f'10.0.0.{i % 250} - - [{_clf(t)}] "GET /item/{i}?q=1 HTTP/1.1" {status} {i} '
            f'"-" "curl/8" 0.0{i % 10} 0.00{i % 10}\n'
        ).encode()

    def check(row: dict[str, Any]) -> None:
        attrs = json.loads(row["attributes"])
        status = attrs["http.response.status_code"]
        assert row["log.level"] == {200: "info", 404: "warn", 503: "error"}[status]
        assert attrs["url.path"].startswith("/item/") and "event.duration" in attrs

    return _case(base, "access.log", line, bad=b"garbage", options={"format": "nginx"},
                 check_row=check)  # fmt: skip


@contract_case("files-syslog")
def files_syslog(request: pytest.FixtureRequest, base: Path) -> ContractCase:
    def line(i: int, t: datetime) -> bytes:
        stamp = f"{t:%b} {t.day:2d} {t:%H:%M:%S}"
        extra = "\n\tcontinued" if i % 10 == 0 else ""
        return f"<{8 + i % 8}>{stamp} web-1 api[{i}]: event {i}{extra}\n".encode()

    def check(row: dict[str, Any]) -> None:
        assert row["service.name"] == "api" and row["host.name"] == "web-1"
        assert row["log.level"] is not None

    return _case(base, "syslog", line, bad=b"Foo 99 99:99:99 nothing",
                 options={"format": "syslog", "timezone": "UTC"}, check_row=check)  # fmt: skip


@contract_case("files-journald")
def files_journald(request: pytest.FixtureRequest, base: Path) -> ContractCase:
    def line(i: int, t: datetime) -> bytes:
        entry = {
            "__REALTIME_TIMESTAMP": str(int(t.timestamp() * 1_000_000)),
            "PRIORITY": str(i % 8),
            "_SYSTEMD_UNIT": "api.service",
            "_HOSTNAME": "web-1",
            "MESSAGE": f"event {i}",
        }
        return json.dumps(entry).encode() + b"\n"

    return _case(base, "journal.json", line, bad=b'{"MESSAGE": "no time"}',
                 options={"format": "journald"})  # fmt: skip


@contract_case("files-cri")
def files_cri(request: pytest.FixtureRequest, base: Path) -> ContractCase:
    def line(i: int, t: datetime) -> bytes:
        if i % 4 == 0:  # a partial line completed by the next one
            return f"{_iso(t)} stdout P part-a-{i} \n{_iso(t)} stdout F part-b\n".encode()
        return f"{_iso(t)} stderr F level=warn msg=m{i}\n".encode()

    def check(row: dict[str, Any]) -> None:
        assert row["message"].endswith("part-b") or row["log.level"] == "warn"

    return _case(base, "0.log", line, bad=b"2026 nonsense", check_row=check,
                 options={"format": "cri", "inner_format": "logfmt"})  # fmt: skip


@contract_case("files-docker")
def files_docker(request: pytest.FixtureRequest, base: Path) -> ContractCase:
    def line(i: int, t: datetime) -> bytes:
        entry = {"log": json.dumps({"level": "info", "msg": f"m{i}"}) + "\n",
                 "stream": "stdout", "time": _iso(t)}  # fmt: skip
        return json.dumps(entry).encode() + b"\n"

    def check(row: dict[str, Any]) -> None:
        assert row["log.level"] == "info" and row["message"].startswith("m")

    return _case(base, "c-json.log", line, bad=b'{"log": "x\\n"}', check_row=check,
                 options={"format": "docker", "inner_format": "json"})  # fmt: skip


@contract_case("files-java-multiline")
def files_java(request: pytest.FixtureRequest, base: Path) -> ContractCase:
    def line(i: int, t: datetime) -> bytes:
        stamp = t.strftime("%Y-%m-%d %H:%M:%S,") + f"{t.microsecond // 1000:03d}"
        head = f"{stamp} ERROR [main] c.e.App : failed {i}\n"
        if i % 3:
            return head.encode()
        return (head + "java.lang.RuntimeException: x\n\tat c.e.App.run(App.java:1)\n").encode()

    def check(row: dict[str, Any]) -> None:
        assert row["log.level"] == "error"
        if "\n" in row["raw"]:
            assert row["message"].endswith("(App.java:1)") and "-" in row["source_ref"]

    return _case(base, "app.log", line, bad=b"2026-13-45 10:00:00,000 ERROR [m] c.e.A : bad date",
                 check_row=check,
                 options={"format": "java", "timezone": "UTC"})  # fmt: skip


@contract_case("files-csv-embedded")
def files_csv(request: pytest.FixtureRequest, base: Path) -> ContractCase:
    header = b"Timestamp,PodName,Log\n"

    def line(i: int, t: datetime) -> bytes:
        log = json.dumps({"log": f"12:00:00.000 WARN  c.e.X#1 msg {i}\n", "stream": "stdout",
                          "time": _iso(t)})  # fmt: skip
        quoted = '"' + log.replace('"', '""') + '"'
        return (header if i == 0 else b"") + f"{_iso(t)},svc-a-5d8f6b7c9d-x2k4p,{quoted}\n".encode()

    def check(row: dict[str, Any]) -> None:
        assert row["service.name"] == "svc-a" and row["log.level"] == "warn"
        assert row["message"].startswith("msg ")

    options = {
        "format": "csv",
        "service_from_pod": True,
        "fields": {"@timestamp": "Timestamp"},
        "embedded": {
            "column": "Log",
            "format": "docker",
            "inner_format": "plain",
            "pattern": r"^(?P<timestamp>\S+)\s+(?P<level>[A-Z]+)\s+(?P<logger>\S+)\s+"
            r"(?P<message>.*)$",
        },
    }
    return _case(base, "log.csv", line, bad=b"too,many,fields,here", options=options,
                 check_row=check)  # fmt: skip
