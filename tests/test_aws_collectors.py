"""AWS collectors against the moto server over HTTP (the ``s3_endpoint`` fixture serves every
AWS service at one URL). Where moto lacks an API, the tests pin the clear error it gives."""

from __future__ import annotations

import json
import socket
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from collectors import collector_types
from collectors.aws_config import change_kind, diff_states, state_of
from collectors.base import Collector
from collectors.cloudtrail import CHANGE_KIND_RULES, classify, is_read_only
from forensics.config import SourceConfig, parse_config
from forensics.errors import ConfigError, SourceError
from forensics.window import Window
from tests.contract import CASES, Rejects
from tests.contract_cases.aws_config import around_now, make_buckets
from tests.contract_cases.cloudtrail import CT_WINDOW, ct_event, trail_data, trail_source
from tests.contract_cases.cloudwatch_logs import (
    aws_client,
    log_group_data,
    put_events,
    recent_window,
)
from tests.contract_cases.cloudwatch_metrics import metrics_data

pytestmark = pytest.mark.s3


def source(base: Path, **table: Any) -> SourceConfig:
    """One parsed [[source]] table."""
    return parse_config({"source": [{"name": "aws", **table}]}, base_dir=base).sources[0]


def collect(config: SourceConfig, window: Window) -> tuple[Collector, pa.Table, Rejects]:
    """Run one collector; return it (with its report), the rows and the rejects."""
    collector = collector_types()[config.type](config, window=window)
    rejects = Rejects()
    with collector:
        collector.open()
        batches = list(collector.batches(rejects))
    table = pa.Table.from_batches(batches, schema=collector.schema)
    report = collector.report
    assert report.reported_count == table.num_rows + len(rejects.items) + sum(
        report.skipped.values()
    )
    return collector, table, rejects


def one_line_error(excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(excinfo.value)
    assert "\n" not in message and "Traceback" not in message
    assert "forensics-test-secret" not in message
    return message


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


# -- CloudWatch Logs ------------------------------------------------------------------------


@pytest.fixture
def log_group(s3_endpoint: str) -> tuple[str, Window]:
    window = recent_window()
    group = f"/test/{uuid.uuid4().hex[:8]}/app"
    logs = aws_client(s3_endpoint, "logs")
    for stream, events in log_group_data(window).items():
        put_events(logs, group, stream, events)
    return group, window


def test_logs_rows_report_and_query(
    s3_endpoint: str, log_group: tuple[str, Window], tmp_path: Path
) -> None:
    group, window = log_group
    config = source(
        tmp_path,
        type="cloudwatch_logs",
        endpoint_url=s3_endpoint,
        region="us-east-1",
        log_group_prefix=group.rsplit("/", 1)[0],
        page_size=5,
    )
    collector, table, rejects = collect(config, window)
    report = collector.report
    assert table.num_rows == 50 and len(rejects.items) == 1
    assert report.reported_count == 51 and report.counted_by == "reader"
    assert "no count API" in report.notes[0]
    assert report.query["log_groups"] == [group]
    assert report.query["endTime"] == int(window.until.timestamp() * 1000) - 1
    assert "no time zone" not in rejects.items[0][1] and rejects.items[0][0].startswith(group)
    rows = table.to_pylist()
    json_rows = [r for r in rows if json.loads(r["raw"])["message"].startswith("{")]
    assert len(json_rows) == 10
    # JSON without its own timestamp falls back to the event timestamp.
    for row in json_rows:
        event = json.loads(row["raw"])
        if "@timestamp" not in json.loads(event["message"]):
            assert int(row["@timestamp"].timestamp() * 1000) == event["timestamp"]
    plain = [r for r in rows if r["message"] == "plain text line 1"]
    assert plain and plain[0]["log.level"] is None


def test_logs_stream_prefix_and_filter_pattern(
    s3_endpoint: str, log_group: tuple[str, Window], tmp_path: Path
) -> None:
    group, window = log_group
    config = source(
        tmp_path,
        type="cloudwatch_logs",
        endpoint_url=s3_endpoint,
        region="us-east-1",
        log_groups=[group],
        log_stream_prefix="web-2",
        filter_pattern="line",
    )
    collector, table, _ = collect(config, window)
    # moto ignores logStreamNamePrefix in FilterLogEvents and also returns web-1's 20 "plain
    # text line" events; the collector skips them by stream name, counted.
    assert table.num_rows == 20
    assert collector.report.skipped == {"stream_not_selected": 20}
    assert {json.loads(a)["logStreamName"] for a in table.column("attributes").to_pylist()} == {
        "web-2"
    }
    assert collector.report.query["filter_pattern"] == "line"


def test_logs_endpoint_from_environment(
    s3_endpoint: str, log_group: tuple[str, Window], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    group, window = log_group
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    config = source(tmp_path, type="cloudwatch_logs", region="us-east-1", log_groups=[group])
    collector, table, _ = collect(config, window)
    assert table.num_rows == 50
    assert collector.report.query["endpoint_url"] == s3_endpoint


def test_logs_unknown_group_is_one_clear_line(s3_endpoint: str, tmp_path: Path) -> None:
    config = source(
        tmp_path,
        type="cloudwatch_logs",
        endpoint_url=s3_endpoint,
        region="us-east-1",
        log_groups=["/does/not/exist"],
    )
    collector = collector_types()["cloudwatch_logs"](config, window=recent_window())
    with pytest.raises(SourceError) as excinfo:
        collector.open()
    assert "log group '/does/not/exist' does not exist" in one_line_error(excinfo)


def test_logs_unreachable_endpoint(tmp_path: Path) -> None:
    config = source(
        tmp_path,
        type="cloudwatch_logs",
        endpoint_url=closed_port(),
        region="us-east-1",
        log_groups=["/x"],
        max_attempts=1,
        connect_timeout=2,
    )
    collector = collector_types()["cloudwatch_logs"](config, window=recent_window())
    with pytest.raises(SourceError) as excinfo:
        collector.open()
    assert "cannot reach" in one_line_error(excinfo)


def test_logs_without_credentials(
    s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    config = source(
        tmp_path,
        type="cloudwatch_logs",
        endpoint_url=s3_endpoint,
        region="us-east-1",
        log_groups=["/x"],
    )
    collector = collector_types()["cloudwatch_logs"](config, window=recent_window())
    with pytest.raises(SourceError) as excinfo:
        collector.open()
    assert "no AWS credentials" in one_line_error(excinfo)


def test_aws_options_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown key"):
        collector_types()["cloudwatch_logs"](
            source(tmp_path, type="cloudwatch_logs", log_groups=["/x"], regoin="x"),
            window=recent_window(),
        )
    with pytest.raises(ConfigError, match="log_groups and/or log_group_prefix"):
        collector_types()["cloudwatch_logs"](
            source(tmp_path, type="cloudwatch_logs"), window=recent_window()
        )
    with pytest.raises(ConfigError, match="profile"):
        collector = collector_types()["cloudwatch_logs"](
            source(tmp_path, type="cloudwatch_logs", log_groups=["/x"], profile="nope-404"),
            window=recent_window(),
        )
        collector.open()


# -- CloudWatch metrics -----------------------------------------------------------------------


def test_metrics_window_and_baseline(s3_endpoint: str, tmp_path: Path) -> None:
    window = recent_window(hours_back=3, length_h=1)
    namespace = metrics_data(s3_endpoint, window)
    config = source(
        tmp_path,
        type="cloudwatch_metrics",
        kind="metrics",
        endpoint_url=s3_endpoint,
        region="us-east-1",
        metrics=[
            {
                "namespace": namespace,
                "metric": "Latency",
                "dimensions": {"Service": "checkout"},
                "stat": "Maximum",
                "period": 60,
            }
        ],
    )
    collector, table, rejects = collect(config, window)
    assert not rejects.items
    phases = [json.loads(label)["phase"] for label in table.column("labels").to_pylist()]
    assert phases.count("window") == 60 and phases.count("baseline") == 60
    assert set(table.column("metric").to_pylist()) == {f"{namespace}/Latency:Maximum"}
    assert collector.report.reported_count == 120
    assert collector.report.query["baseline_seconds"] == 3600
    stamps = table.column("@timestamp").to_pylist()
    assert min(stamps) == window.since - timedelta(hours=1)
    assert max(stamps) < window.until


def test_metrics_percentile_moto_gap(s3_endpoint: str, tmp_path: Path) -> None:
    # moto 5.2 answers HTTP 500 to GetMetricData with a percentile statistic (p99) over
    # existing data (server log: TypeError: float() argument must be ... not 'NoneType').
    window = recent_window(hours_back=3, length_h=1)
    namespace = metrics_data(s3_endpoint, window)
    config = source(
        tmp_path,
        type="cloudwatch_metrics",
        endpoint_url=s3_endpoint,
        region="us-east-1",
        max_attempts=1,
        baseline=False,
        metrics=[{"namespace": namespace, "metric": "Latency", "stat": "p99"}],
    )
    collector = collector_types()["cloudwatch_metrics"](config, window=window)
    collector.open()
    try:
        rows = sum(b.num_rows for b in collector.batches(Rejects()))
    except SourceError as exc:
        assert "\n" not in str(exc)
        assert "read metric data failed with HTTP 500" in str(exc)
    else:
        assert rows == 60


def test_metrics_config_errors(tmp_path: Path) -> None:
    make = collector_types()["cloudwatch_metrics"]
    with pytest.raises(ConfigError, match="namespace is required"):
        make(
            source(tmp_path, type="cloudwatch_metrics", metrics=[{"metric": "x"}]),
            window=recent_window(),
        )
    with pytest.raises(ConfigError, match="clash"):
        make(
            source(
                tmp_path,
                type="cloudwatch_metrics",
                metrics=[{"namespace": "A", "metric": "x", "dimensions": {"phase": "1"}}],
            ),
            window=recent_window(),
        )


# -- CloudTrail -------------------------------------------------------------------------------


def test_cloudtrail_s3_rows_kinds_and_skips(s3_endpoint: str, tmp_path: Path) -> None:
    s3 = aws_client(s3_endpoint, "s3")
    bucket = f"trail-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    expected = trail_data(s3, bucket)
    config = source(
        tmp_path,
        **trail_source(s3_endpoint, bucket, services={"checkout*": "checkout-svc"})
        | {"name": "trail"},
    )
    collector, table, rejects = collect(config, CT_WINDOW)
    report = collector.report
    assert table.num_rows == expected["rows"]
    assert len(rejects.items) == expected["rejects"]
    for reason in ("read_only_event", "data_event", "duplicate_event", "outside_window"):
        assert report.skipped[reason] == expected[reason], reason
    assert report.query["prefixes"] == [
        f"AWSLogs/123456789012/CloudTrail/{r}/2026/11/{d}/"
        for r in ("us-east-1", "eu-west-1")
        for d in ("20", "21")
    ]
    assert len(report.query["files"]) == 4  # day 19 and the digest are not read
    assert all(len(f["sha256"]) == 64 for f in report.query["files"])
    reasons = sorted(r[1] for r in rejects.items)
    assert reasons[0].startswith("eventTime:") and reasons[1].startswith("unreadable CloudTrail")
    by_name = {
        (
            r["summary"].split(" ")[0],
            json.loads(r["details"]).get("requestParameters", {}).get("desiredCount"),
        ): r
        for r in table.to_pylist()
    }
    kinds = {key[0]: row["change.kind"] for key, row in by_name.items() if key[1] is None}
    assert kinds == {
        "UpdateService": "deploy",
        "UpdateFunctionCode20150331v2": "deploy",
        "PutParameter": "config",
        "AuthorizeSecurityGroupIngress": "infra",
        "ChangeResourceRecordSets": "dns",
        "ImportCertificate": "certificate",
        "SetDesiredCapacity": "scaling",
        "StartDeployment": "feature_flag",
        "AttachRolePolicy": "infra",
        "ModifyDBInstance": "infra",
        "CreateDeployment": "deploy",
    }
    assert by_name[("UpdateService", 12)]["change.kind"] == "scaling"
    deploy = by_name[("UpdateService", None)]
    assert deploy["service.name"] == "checkout-svc"
    assert by_name[("ModifyDBInstance", None)]["service.name"] == "orders-db"
    failed = by_name[("AttachRolePolicy", None)]
    assert "failed: AccessDenied" in failed["summary"]
    assert json.loads(failed["details"])["errorCode"] == "AccessDenied"


def test_cloudtrail_lookup_events_moto_gap(s3_endpoint: str, tmp_path: Path) -> None:
    # moto 5.2 has no LookupEvents: the server raises NotImplementedError and answers HTTP 500.
    config = source(
        tmp_path,
        type="cloudtrail",
        kind="changes",
        endpoint_url=s3_endpoint,
        region="us-east-1",
        max_attempts=1,
    )
    window = Window(datetime.now(UTC) - timedelta(hours=2), datetime.now(UTC))
    collector = collector_types()["cloudtrail"](config, window=window)
    assert collector.open().query["api"] == "LookupEvents"
    try:
        rows = sum(b.num_rows for b in collector.batches(Rejects()))
    except SourceError as exc:
        assert "\n" not in str(exc)
        assert "look up CloudTrail events failed with HTTP 500" in str(exc)
    else:  # a moto that implements it returns only its own events
        assert rows >= 0


def test_cloudtrail_missing_bucket(s3_endpoint: str, tmp_path: Path) -> None:
    config = source(tmp_path, **trail_source(s3_endpoint, "no-such-bucket-zz") | {"name": "t"})
    collector = collector_types()["cloudtrail"](config, window=CT_WINDOW)
    with pytest.raises(SourceError) as excinfo:
        collector.open()
    assert "NoSuchBucket" in one_line_error(excinfo)


@pytest.mark.parametrize(
    ("event_source", "name", "params", "kind"),
    [
        ("ecs.amazonaws.com", "RegisterTaskDefinition", {"family": "x"}, "deploy"),
        ("ecs.amazonaws.com", "UpdateService", {"service": "x", "desiredCount": 2}, "scaling"),
        ("lambda.amazonaws.com", "PublishVersion20150331", {}, "deploy"),
        ("lambda.amazonaws.com", "UpdateAlias20150331", {}, "deploy"),
        ("lambda.amazonaws.com", "UpdateFunctionConfiguration20150331v2", {}, "config"),
        ("ssm.amazonaws.com", "DeleteParameter", {"name": "/a"}, "config"),
        ("ssm.amazonaws.com", "PutParameter", {"name": "/flags/feature-x"}, "feature_flag"),
        ("appconfig.amazonaws.com", "CreateHostedConfigurationVersion", {}, "config"),
        ("application-autoscaling.amazonaws.com", "RegisterScalableTarget", {}, "scaling"),
        ("autoscaling.amazonaws.com", "PutScalingPolicy", {}, "scaling"),
        ("autoscaling.amazonaws.com", "UpdateAutoScalingGroup", {}, "scaling"),
        ("acm.amazonaws.com", "RequestCertificate", {}, "certificate"),
        ("acm.amazonaws.com", "DeleteCertificate", {}, "certificate"),
        (
            "elasticloadbalancing.amazonaws.com",
            "ModifyListener",
            {"certificates": [{}]},
            "certificate",
        ),
        ("elasticloadbalancing.amazonaws.com", "ModifyListener", {"port": 443}, "infra"),
        ("elasticloadbalancing.amazonaws.com", "AddListenerCertificates", {}, "certificate"),
        ("ec2.amazonaws.com", "CreateLaunchTemplateVersion", {}, "infra"),
        ("rds.amazonaws.com", "RebootDBInstance", {}, "infra"),
        ("iam.amazonaws.com", "PutRolePolicy", {}, "infra"),
        ("iam.amazonaws.com", "CreateRole", {}, "infra"),
        ("sts.amazonaws.com", "AssumeRole", {}, "other"),
    ],
)
def test_cloudtrail_classification(
    event_source: str, name: str, params: dict[str, Any], kind: str
) -> None:
    record = ct_event(CT_WINDOW.since, event_source, name, params)
    assert classify(record) == kind


def test_cloudtrail_rules_and_read_only() -> None:
    assert all(
        kind in {"deploy", "config", "scaling", "dns", "certificate", "infra"}
        for _, _, kind in CHANGE_KIND_RULES
    )
    assert is_read_only({"eventName": "GetObject", "readOnly": False})
    assert is_read_only({"eventName": "X", "readOnly": "true"})
    assert not is_read_only({"eventName": "PutObject", "readOnly": False})


# -- AWS Config -------------------------------------------------------------------------------


def test_config_lists_resource_types(s3_endpoint: str, tmp_path: Path) -> None:
    region = "ap-northeast-3"
    buckets = make_buckets(s3_endpoint, region, 2)
    config = source(
        tmp_path,
        type="aws_config",
        endpoint_url=s3_endpoint,
        region=region,
        resource_types=["AWS::S3::Bucket"],
    )
    collector, table, _ = collect(config, around_now())
    listed = {r["id"] for r in collector.report.query["resources"]}
    assert set(buckets) <= listed
    assert table.num_rows == len(listed)
    assert set(table.column("change.kind").to_pylist()) == {"infra"}
    assert set(buckets) <= set(table.column("service.name").to_pylist())


def test_config_items_outside_window_are_skipped(s3_endpoint: str, tmp_path: Path) -> None:
    # moto ignores laterTime and returns the current item; it is after this window.
    bucket = make_buckets(s3_endpoint, "eu-west-2", 1)[0]
    config = source(
        tmp_path,
        type="aws_config",
        endpoint_url=s3_endpoint,
        region="eu-west-2",
        resources=[{"type": "AWS::S3::Bucket", "id": bucket}],
    )
    past = Window(datetime.now(UTC) - timedelta(days=2), datetime.now(UTC) - timedelta(days=1))
    collector, table, _ = collect(config, past)
    assert table.num_rows == 0 and collector.report.skipped == {"outside_window": 1}


def test_config_undiscovered_resource(s3_endpoint: str, tmp_path: Path) -> None:
    config = source(
        tmp_path,
        type="aws_config",
        endpoint_url=s3_endpoint,
        region="eu-west-2",
        resources=[{"type": "AWS::EC2::SecurityGroup", "id": "sg-404"}],
    )
    collector = collector_types()["aws_config"](config, window=around_now())
    collector.open()
    with pytest.raises(SourceError) as excinfo:
        list(collector.batches(Rejects()))
    assert "ResourceNotDiscoveredException" in one_line_error(excinfo)


def test_config_iam_role_moto_gap(s3_endpoint: str, tmp_path: Path) -> None:
    # moto 5.2 returns an IAM role's configuration item with "tags" as a list, which botocore
    # cannot parse (AttributeError: 'list' object has no attribute 'items').
    iam = aws_client(s3_endpoint, "iam")
    name = f"role-{uuid.uuid4().hex[:8]}"
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({"Statement": []}))
    config = source(
        tmp_path,
        type="aws_config",
        endpoint_url=s3_endpoint,
        region="us-east-1",
        resources=[{"type": "AWS::IAM::Role", "id": role["Role"]["RoleId"]}],
    )
    collector = collector_types()["aws_config"](config, window=around_now())
    collector.open()
    try:
        rows = sum(b.num_rows for b in collector.batches(Rejects()))
    except SourceError as exc:
        assert "\n" not in str(exc) and "could not be read" in str(exc)
    else:
        assert rows == 1


def test_config_diff_and_kinds() -> None:
    def item(configuration: dict[str, Any], tags: dict[str, str]) -> dict[str, Any]:
        return {
            "configurationItemStatus": "OK",
            "configuration": json.dumps(configuration),
            "supplementaryConfiguration": {},
            "tags": tags,
        }

    old = state_of(item({"ipPermissions": [{"fromPort": 443}], "groupName": "web"}, {"a": "1"}))
    new = state_of(item({"ipPermissions": [{"fromPort": 5432}], "groupName": "web"}, {"b": "2"}))
    changes = diff_states(old, new)
    assert changes == {
        "configuration.ipPermissions": {"old": [{"fromPort": 443}], "new": [{"fromPort": 5432}]},
        "tags.a": {"old": "1", "new": None},
        "tags.b": {"old": None, "new": "2"},
    }
    assert change_kind("AWS::EC2::SecurityGroup", changes, "web") == "infra"
    assert change_kind("AWS::Route53::HostedZone", {}, "z") == "dns"
    assert change_kind("AWS::ACM::Certificate", {}, "c") == "certificate"
    assert change_kind("AWS::AutoScaling::AutoScalingGroup", {}, "g") == "scaling"
    code = {"configuration.codeSha256": {"old": "a", "new": "b"}}
    assert change_kind("AWS::Lambda::Function", code, "f") == "deploy"
    assert change_kind("AWS::Lambda::Function", {"configuration.timeout": {}}, "f") == "config"
    assert change_kind("AWS::ECS::Service", {"configuration.desiredCount": {}}, "s") == "scaling"
    assert (
        change_kind("AWS::AppConfig::ConfigurationProfile", {}, "feature-flags") == "feature_flag"
    )
    assert change_kind("AWS::Foo::Bar", {}, "x") == "other"


def test_contract_cases_are_registered() -> None:
    assert {"cloudwatch_logs", "cloudwatch_metrics", "cloudtrail-s3", "aws_config"} <= set(CASES)
