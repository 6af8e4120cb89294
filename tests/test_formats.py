"""The files collector's formats against real log samples, read in place from ../shared/data.

Every sample line must be accounted for (rows + rejects + skips == lines read), records
recognised, timestamps and levels extracted, multi-line records kept together.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from collectors import collector_types
from forensics.config import load_config, parse_config
from forensics.errors import ConfigError
from forensics.window import Window
from tests.conftest import ROOT, SHARED_DATA
from tests.contract import Rejects

SAMPLES = SHARED_DATA / "format_samples"
NEZHA = SHARED_DATA / "nezha_trainticket" / "2023-01-29"
WIDE = Window(datetime(2000, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC))


@pytest.fixture(scope="module", autouse=True)
def shared_data() -> None:
    assert SAMPLES.is_dir(), f"the shared samples are expected at {SAMPLES} (beside the clone)"


class Result:
    """Rows (as dicts), rejects and the report of one collection."""

    def __init__(self, table: pa.Table, rejects: Rejects, report: Any) -> None:
        self.table = table
        self.rows: list[dict[str, Any]] = table.to_pylist()
        self.rejects = rejects.items
        self.report = report

    def attrs(self, row: dict[str, Any]) -> dict[str, Any]:
        return json.loads(row["attributes"] or "{}")


def collect(
    paths: list[str] | str, window: Window = WIDE, *, base: Path = SAMPLES, **options: Any
) -> Result:
    """Run a files source over ``paths`` and check the line accounting."""
    source = {"name": "sample", "type": "files", "paths": paths, **options}
    config = parse_config({"source": [source]}, base_dir=base)
    collector = collector_types()["files"](config.sources[0], window=window)
    rejects = Rejects()
    with collector:
        collector.open()
        batches = list(collector.batches(rejects))
    table = pa.Table.from_batches(batches, schema=collector.schema)
    report = collector.report
    lines = sum(f["lines"] for f in report.query["files"])
    assert report.reported_count == lines
    assert lines == table.num_rows + len(rejects.items) + sum(report.skipped.values())
    return Result(table, rejects, report)


def _lines(path: Path) -> int:
    return len(path.read_bytes().splitlines())


# --- logfmt ---------------------------------------------------------------------------------


def test_logfmt_grafana_agent() -> None:
    result = collect("grafana-loki/agent-logfmt.txt", format="logfmt")
    assert len(result.rows) == 1000 and not result.rejects
    assert Counter(r["log.level"] for r in result.rows) == {"info": 897, "error": 103}
    stamps = [r["@timestamp"] for r in result.rows]
    assert min(stamps) >= datetime(2024, 4, 16, 15, 10, 42, tzinfo=UTC)
    assert max(stamps) < datetime(2024, 4, 16, 15, 10, 45, tzinfo=UTC)
    first = result.rows[0]
    assert first["message"] == "received file watcher event"
    assert first["@timestamp"] == datetime(2024, 4, 16, 15, 10, 44, 103611, tzinfo=UTC)
    attrs = result.attrs(first)
    assert attrs["caller"] == "filetargetmanager.go:181" and attrs["op"] == "CREATE"
    # A key repeated on one line keeps every value.
    decode_error = result.rows[3]
    assert result.attrs(decode_error)["component"] == ["logs", "file_pipeline", "stage"]
    assert result.attrs(decode_error)["err"] == "bufio.Scanner: token too long"


def test_logfmt_ingester_trace_ids() -> None:
    result = collect("grafana-loki/ingester-logfmt.txt", format="logfmt")
    assert len(result.rows) == 100 and not result.rejects
    assert result.rows[0]["trace.id"] == "1ee220e024eb5b0a"
    assert result.rows[0]["log.level"] == "debug"


# --- access logs ----------------------------------------------------------------------------


def test_nginx_shop_access_log_statuses() -> None:
    result = collect("lnav/logfile_shop_access_log.0", format="nginx")
    assert len(result.rows) == 1000 and not result.rejects
    statuses = Counter(result.attrs(r)["http.response.status_code"] for r in result.rows)
    assert statuses == {200: 938, 404: 24, 302: 20, 301: 11, 304: 7}
    levels = Counter(r["log.level"] for r in result.rows)
    assert levels == {"info": 976, "warn": 24}
    stamps = [r["@timestamp"] for r in result.rows]
    # 2019-01-22 03:56:14 to 03:59:11 at +03:30.
    assert min(stamps) == datetime(2019, 1, 22, 0, 26, 14, tzinfo=UTC)
    assert max(stamps) == datetime(2019, 1, 22, 0, 29, 11, tzinfo=UTC)
    second = result.rows[1]
    attrs = result.attrs(second)
    assert attrs["http.request.method"] == "GET"
    assert attrs["url.path"] == "/image/60844/productModel/200x200"
    assert attrs["client.address"] == attrs["source.address"] == "31.56.96.51"
    assert attrs["http.request.referrer"] == "https://www.zanbil.ir/m/filter/b113"
    assert attrs["user_agent.original"].startswith("Mozilla/5.0 (Linux; Android 6.0")
    assert attrs["http.response.body.bytes"] == 5667
    assert second["message"] == "GET /image/60844/productModel/200x200 HTTP/1.1 200"


def test_apache_access_log_variants() -> None:
    result = collect("plaso/apache_access.log", format="apache")
    assert len(result.rows) == 15 and not result.rejects
    attrs = [result.attrs(r) for r in result.rows]
    assert attrs[0]["url.query"] == "install2" and "user_agent.original" not in attrs[0]
    assert (
        attrs[6]["http.response.status_code"] == 304 and "http.response.body.bytes" not in attrs[6]
    )
    # vhost_combined, an unclosed agent quote, quotes inside the request, a user name.
    assert attrs[8]["server.address"] == "plaso.log2timeline.net" and attrs[8]["server.port"] == 443
    assert attrs[7]["user_agent.original"].endswith("google.com/bot.html")
    assert attrs[12]["url.original"].startswith("/aaaa.xxxx/SomeText?action=edit&template=<script>")
    assert result.rows[12]["log.level"] == "warn"
    assert attrs[14]["user.name"] == "pyllyukko@EXAMPLE.COM"
    assert result.rows[4]["@timestamp"] == datetime(2016, 1, 13, 17, 31, 20, tzinfo=UTC)


def test_nginx_request_and_upstream_times(tmp_path: Path) -> None:
    (tmp_path / "access.log").write_bytes(
        b'10.0.0.9 - - [20/Nov/2026:09:15:00 +0000] "POST /pay?x=1 HTTP/2.0" 502 157 "-" '
        b'"curl/8.0" "-" 1.503 1.500\n'
        b'10.0.0.9 - bob [20/Nov/2026:09:15:01 +0000] "GET / HTTP/1.1" 200 12 "-" "curl/8.0" '
        b"rt=0.020 urt=0.018\n"
        b"not an access line\n"
    )
    result = collect("access.log", base=tmp_path, format="nginx")
    assert len(result.rows) == 2
    assert [r[1] for r in result.rejects] == ["not an access log line (common/combined format)"]
    first, second = (result.attrs(r) for r in result.rows)
    assert result.rows[0]["log.level"] == "error"
    assert first["event.duration"] == 1_503_000_000 and first["http.upstream.duration_s"] == 1.5
    assert first["url.query"] == "x=1"
    assert second["event.duration"] == 20_000_000 and second["user.name"] == "bob"


def test_aws_elb_access_log_with_a_pattern() -> None:
    pattern = (
        r"^(?:(?P<type>[a-z0-9]+) (?:(?P<version>\d\.\d) )?)?"
        r"(?P<timestamp>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z?) (?P<elb>\S+) (?P<message>.*)$"
    )
    result = collect("plaso/aws_elb_access.log", format="plain", pattern=pattern, timezone="UTC")
    # 16 lines (the last without a newline): ALB, classic ELB and NLB records.
    assert len(result.rows) == _lines(SAMPLES / "plaso/aws_elb_access.log") == 16
    assert not result.rejects
    types = Counter(result.attrs(r).get("type") for r in result.rows)
    assert types == {"h2": 8, None: 4, "https": 2, "tls": 2}
    assert result.rows[-1]["@timestamp"] == datetime(2022, 12, 20, 2, 59, 40, tzinfo=UTC)
    assert result.rows[0]["@timestamp"] == datetime(2020, 1, 11, 16, 55, 20, 356586, tzinfo=UTC)
    assert "timestamps without a zone were read as UTC" in result.report.notes


# --- syslog ---------------------------------------------------------------------------------


def test_syslog_rfc3164_plaso_sample() -> None:
    window = Window(datetime(2012, 1, 1, tzinfo=UTC), datetime(2012, 12, 31, 23, tzinfo=UTC))
    result = collect("plaso/syslog_syslog", window, format="syslog", timezone="UTC")
    # 18 lines: 16 rows, one unknown month rejected, one continuation line joined.
    assert len(result.rows) == 16
    assert [(r[0], r[1]) for r in result.rejects] == [
        ("plaso/syslog_syslog:8", "not a syslog line: unknown month 'MMM'")
    ]
    assert result.report.skipped == {"joined_into_record": 1}
    by_ref = {r["source_ref"]: r for r in result.rows}
    first = by_ref["plaso/syslog_syslog:1"]
    assert first["@timestamp"] == datetime(2012, 1, 22, 7, 52, 33, tzinfo=UTC)
    assert first["host.name"] == "myhostname.myhost.com" and first["service.name"] == "client"
    assert result.attrs(first)["process.pid"] == "30840"
    assert first["message"] == "INFO No new content in \u00edmynd.dd."
    leap = by_ref["plaso/syslog_syslog:7"]
    assert leap["@timestamp"] == datetime(2012, 2, 29, 1, 15, 43, tzinfo=UTC)
    assert leap["message"].startswith("--- testing leap year")
    joined = by_ref["plaso/syslog_syslog:13-14"]
    assert (
        joined["message"] == "This is a multi-line message that screws up\n\tmany syslog parsers."
    )
    assert joined["raw"].count("\n") == 1
    kernel = by_ref["plaso/syslog_syslog:17"]
    assert kernel["host.name"] is None and kernel["service.name"] == "kernel"
    assert by_ref["plaso/syslog_syslog:11"]["@timestamp"].microsecond == 123000
    assert any("carry no year" in note for note in result.report.notes)


def test_syslog_year_is_inferred_from_the_window_end() -> None:
    window = Window(datetime(2013, 1, 1, tzinfo=UTC), datetime(2013, 1, 22, 12, tzinfo=UTC))
    result = collect("plaso/syslog_syslog", window, format="syslog", timezone="UTC")
    # January lines fall in 2013, the others in 2012 (before the window: skipped).
    years = {r["@timestamp"].year for r in result.rows}
    assert years == {2013} and len(result.rows) == 6
    assert result.report.skipped["outside_window"] == 10


def test_syslog_without_timezone_is_rejected_not_guessed() -> None:
    result = collect("plaso/syslog_syslog", format="syslog")
    assert not result.rows
    assert all("no time zone" in r[1] or "unknown month" in r[1] for r in result.rejects)


def test_syslog_pri_and_rfc5424(tmp_path: Path) -> None:
    (tmp_path / "syslog").write_bytes(
        b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8\n"
        b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
        b'[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] An event\n'
        b"<13>1 2003-10-11T22:14:16Z host app 42 - - plain message\n"
    )
    window = Window(datetime(2003, 1, 1, tzinfo=UTC), datetime(2003, 12, 1, tzinfo=UTC))
    result = collect("syslog", window, base=tmp_path, format="syslog", timezone="UTC")
    assert len(result.rows) == 3 and not result.rejects
    old, new, plain = result.rows
    assert old["log.level"] == "critical" and old["service.name"] == "su"
    assert result.attrs(old)["log.syslog.facility.name"] == "auth"
    assert new["log.level"] == "notice" and new["service.name"] == "evntslog"
    assert new["host.name"] == "mymachine.example.com" and new["message"] == "An event"
    assert result.attrs(new)["syslog.structured_data"] == {
        "exampleSDID@32473": {"iut": "3", "eventSource": "Application", "eventID": "1011"}
    }
    assert plain["message"] == "plain message" and result.attrs(plain)["process.pid"] == "42"


# --- journald -------------------------------------------------------------------------------


def test_journald_export() -> None:
    result = collect("lnav/logfile_journald.json", format="journald")
    assert len(result.rows) == 2 and not result.rejects
    first, second = result.rows
    assert first["@timestamp"] == datetime(2018, 8, 21, 14, 4, 21, 221373, tzinfo=UTC)
    assert (first["log.level"], second["log.level"]) == ("alert", "info")
    assert first["service.name"] == "medusa-GpsLocator.service"
    assert first["host.name"] == "imx6ul-medusa"
    assert first["message"] == "GPS Reference longitude: 7.358143333"


def test_journald_message_as_byte_array(tmp_path: Path) -> None:
    entry = {
        "__REALTIME_TIMESTAMP": "1534860261221373",
        "PRIORITY": "3",
        "SYSLOG_IDENTIFIER": "app",
        "MESSAGE": [104, 105, 255],
    }
    (tmp_path / "j.json").write_text(json.dumps(entry) + "\n")
    result = collect("j.json", base=tmp_path, format="journald")
    (row,) = result.rows
    assert row["message"] == "hi\ufffd" and row["log.level"] == "error"
    assert result.attrs(row)["journald.message_bytes"] == [104, 105, 255]


# --- container logs -------------------------------------------------------------------------


def test_cri_partial_lines_are_joined() -> None:
    result = collect("plaso/cri.log", format="cri")
    # 17 lines: the stdout partial of line 1 is completed by the next stdout line (6).
    assert len(result.rows) == 16 and not result.rejects
    assert result.report.skipped == {"joined_into_record": 1}
    joined = next(r for r in result.rows if r["source_ref"] == "plaso/cri.log:1-6")
    assert joined["message"].startswith("log content 110.0.2.1:59838 - - [Tue, 16 Apr 2024")
    assert joined["@timestamp"] == datetime(2016, 10, 6, 0, 17, 9, 669794, tzinfo=UTC)
    assert result.attrs(joined)["log.part_lines"] == [1, 6]
    stderr = next(r for r in result.rows if r["source_ref"] == "plaso/cri.log:2")
    assert stderr["message"] == "log content 2" and result.attrs(stderr)["log.stream"] == "stderr"


def test_cri_with_inner_logfmt(tmp_path: Path) -> None:
    (tmp_path / "0.log").write_bytes(
        b'2026-11-20T09:00:00.1Z stdout P level=error msg="payment \n'
        b'2026-11-20T09:00:00.2Z stdout F failed" order=7\n'
        b'2026-11-20T09:00:01Z stderr F not logfmt "\n'
    )
    result = collect("0.log", base=tmp_path, format="cri", inner_format="logfmt")
    assert len(result.rows) == 2
    joined, other = result.rows if result.rows[0]["log.level"] else result.rows[::-1]
    assert joined["log.level"] == "error" and joined["message"] == "payment failed"
    assert result.attrs(joined)["order"] == "7"
    assert "inner.error" in result.attrs(other)


def test_docker_json_file_with_inner_json(tmp_path: Path) -> None:
    lines = [
        {"log": '{"level":"warn","msg":"slow","ms":900}\n', "stream": "stdout",
         "time": "2026-11-20T09:00:00.5Z"},
        {"log": "part one, ", "stream": "stderr", "time": "2026-11-20T09:00:01Z"},
        {"log": "part two\n", "stream": "stderr", "time": "2026-11-20T09:00:01.1Z"},
    ]  # fmt: skip
    (tmp_path / "c-json.log").write_text("".join(json.dumps(x) + "\n" for x in lines))
    result = collect("c-json.log", base=tmp_path, format="docker", inner_format="json")
    assert len(result.rows) == 2 and result.report.skipped == {"joined_into_record": 1}
    slow = result.rows[0]
    assert slow["log.level"] == "warn" and slow["message"] == "slow"
    assert result.rows[1]["message"] == "part one, part two"
    assert result.rows[1]["source_ref"] == "c-json.log:2-3"


# --- plain / java / python multi-line -------------------------------------------------------


def test_java_spring_boot_sample() -> None:
    result = collect("lnav/logfile_java.0", format="java", timezone="UTC")
    assert len(result.rows) == 20 and not result.rejects
    assert {r["log.level"] for r in result.rows} == {"info"}
    first = result.rows[0]
    assert first["@timestamp"] == datetime(2025, 1, 24, 7, 0, 30, 139000, tzinfo=UTC)
    attrs = result.attrs(first)
    assert attrs["log.logger"] == "Version" and attrs["process.thread.name"] == "background-preinit"
    assert first["message"] == "HV000001: Hibernate Validator 8.0.1.Final"


def test_kafka_log4j_sample() -> None:
    result = collect("grafana-loki/kafka.txt", format="java", preset="kafka", timezone="UTC")
    assert len(result.rows) == 1000 and not result.rejects
    assert {r["log.level"] for r in result.rows} == {"info"}
    first = result.rows[0]
    assert first["@timestamp"] == datetime(2024, 5, 7, 10, 55, 53, 434000, tzinfo=UTC)
    assert result.attrs(first)["log.logger"] == "kafka.log.ProducerStateManager"
    assert first["message"].startswith("[ProducerStateManager partition=ingest-3] Wrote")


JAVA_TRACE = b"""2024-05-07 10:55:53,434 INFO [main] c.e.App : started
2024-05-07 10:55:54,001 ERROR [http-1] c.e.Pay : payment failed
java.lang.IllegalStateException: boom
\tat com.example.Pay.charge(Pay.java:42)
\tat com.example.Api.post(Api.java:7)

Caused by: java.io.IOException: reset
\tat com.example.Net.read(Net.java:3)
\t... 12 more
2024-05-07 10:55:55,000 WARN [main] c.e.App : retrying

"""

PY_TRACE = b"""\tstray continuation before any record
2024-05-07 10:55:53,434 - worker - INFO - start
2024-05-07 10:55:54,100 - worker - ERROR - job failed
Traceback (most recent call last):
  File "job.py", line 3, in <module>
    run()
ValueError: bad input
2024-05-07 10:55:55,000 - worker - INFO - done
"""


def test_java_stack_traces_are_one_record(tmp_path: Path) -> None:
    (tmp_path / "app.log").write_bytes(JAVA_TRACE)
    result = collect("app.log", base=tmp_path, format="java", timezone="UTC")
    assert [r["source_ref"] for r in result.rows] == ["app.log:1", "app.log:2-9", "app.log:10"]
    trace = result.rows[1]
    assert trace["log.level"] == "error"
    assert trace["message"].startswith("payment failed\njava.lang.IllegalStateException: boom")
    assert trace["message"].endswith("\t... 12 more")
    assert trace["raw"] == "".join(JAVA_TRACE.decode().splitlines(keepends=True)[1:9]).rstrip("\n")
    assert result.report.skipped == {"joined_into_record": 7, "blank_line": 1}


def test_python_tracebacks_are_one_record(tmp_path: Path) -> None:
    (tmp_path / "worker.log").write_bytes(PY_TRACE)
    result = collect("worker.log", base=tmp_path, format="python", timezone="Europe/Paris")
    assert [r["source_ref"] for r in result.rows] == [
        "worker.log:2",
        "worker.log:3-7",
        "worker.log:8",
    ]
    assert result.rows[1]["message"].endswith("ValueError: bad input")
    assert result.rows[1]["@timestamp"] == datetime(2024, 5, 7, 8, 55, 54, 100000, tzinfo=UTC)
    assert [(r[0], r[1]) for r in result.rejects] == [
        ("worker.log:1", "no record start before this line")
    ]


def test_unknown_format_and_options_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="format 'yaml' is not supported"):
        collect("x", base=tmp_path, format="yaml")
    with pytest.raises(ConfigError, match="unknown key"):
        collect("x", base=tmp_path, format="logfmt", pattern="x")
    with pytest.raises(ConfigError, match="unknown preset"):
        collect("x", base=tmp_path, format="java", preset="cobol")


# --- CSV (Nezha TrainTicket) ----------------------------------------------------------------

NEZHA_WINDOW = Window(datetime(2023, 1, 29, 8, tzinfo=UTC), datetime(2023, 1, 29, 9, tzinfo=UTC))


def _run_config(path: Path, window: Window) -> Result:
    config = load_config(path)
    (source,) = config.sources
    collector = collector_types()["files"](source, window=window)
    rejects = Rejects()
    with collector:
        collector.open()
        table = pa.Table.from_batches(list(collector.batches(rejects)), schema=collector.schema)
    report = collector.report
    assert report.reported_count == table.num_rows + len(rejects.items) + sum(
        report.skipped.values()
    )
    return Result(table, rejects, report)


def test_nezha_incident_csv() -> None:
    result = _run_config(ROOT / "examples" / "nezha" / "forensics.toml", NEZHA_WINDOW)
    assert not result.rejects and result.report.skipped == {"header": 3}
    files = {Path(f["path"]).name: f["lines"] for f in result.report.query["files"]}
    assert files == {"08_43_log.csv": 2436, "08_44_log.csv": 2623, "08_45_log.csv": 2796}
    per_file = Counter(Path(r["source_ref"].rsplit(":", 1)[0]).name for r in result.rows)
    assert per_file == {"08_43_log.csv": 2435, "08_44_log.csv": 2622, "08_45_log.csv": 2795}
    contacts = [r for r in result.rows if r["service.name"] == "ts-contacts-service"]
    inject = datetime(2023, 1, 29, 8, 43, 4, tzinfo=UTC)
    before = Counter(r["log.level"] for r in contacts if r["@timestamp"] < inject)
    after = Counter(r["log.level"] for r in contacts if r["@timestamp"] >= inject)
    assert before == {"info": 16} and after == {"info": 64, "error": 20}
    first_error = min(r["@timestamp"] for r in contacts if r["log.level"] == "error")
    # The README gives it to the millisecond: 08:43:17.122Z (the data says .121704).
    expected = datetime(2023, 1, 29, 8, 43, 17, 122000, tzinfo=UTC)
    assert abs((first_error - expected).total_seconds()) < 0.0005
    row = next(r for r in contacts if r["@timestamp"] == first_error)
    attrs = result.attrs(row)
    assert attrs["log.logger"] == "c.s.ContactsServiceImpl#37"
    assert row["message"].startswith("[findContactsById]")
    assert row["trace.id"] and row["trace.id"] == attrs["Log.trace.id"]
    assert row["host.name"] and attrs["PodName"] == "ts-contacts-service-866bd68c97-xcqfx"
    assert attrs["inner.timestamp"].startswith("16:43:17.")  # the app clock is UTC+8
    assert all(r["log.level"] in {"info", "warn", "error"} for r in result.rows)


def test_nezha_baseline_csv() -> None:
    result = _run_config(ROOT / "examples" / "nezha" / "baseline.toml", NEZHA_WINDOW)
    assert len(result.rows) == 2489 and not result.rejects
    stamps = [r["@timestamp"] for r in result.rows]
    assert min(stamps) >= datetime(2023, 1, 29, 8, 48, 16, tzinfo=UTC)
    assert max(stamps) < datetime(2023, 1, 29, 8, 51, 5, tzinfo=UTC)


def test_csv_quoted_newlines_and_bad_rows(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_bytes(
        b"time,level,msg\n"
        b'2026-11-20T09:00:00Z,ERROR,"two\nlines"\n'
        b"2026-11-20T09:00:01Z,INFO\n"
        b"\n"
        b'2026-11-20T09:00:02Z,INFO,"never closed\n'
    )
    result = collect(
        "t.csv",
        base=tmp_path,
        format="csv",
        fields={"@timestamp": "time", "log.level": "level", "message": "msg"},
    )
    assert [r["source_ref"] for r in result.rows] == ["t.csv:2-3"]
    assert result.rows[0]["message"] == "two\nlines"
    assert sorted(r[1] for r in result.rejects) == [
        "row has 2 fields, the header has 3",
        "unterminated quoted CSV field",
    ]
    assert result.report.skipped == {"header": 1, "joined_into_record": 1, "blank_line": 1}


def test_service_from_pod_names() -> None:
    from collectors.formats.csvfile import service_from_pod

    assert service_from_pod("ts-contacts-service-866bd68c97-xcqfx") == "ts-contacts-service"
    assert service_from_pod("kafka-0") == "kafka"
    assert service_from_pod("node-exporter-x7k2p") == "node-exporter"
    assert service_from_pod("standalone") == "standalone"
