"""Contract cases for CloudWatch Logs, against the moto server over HTTP."""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from forensics.config import parse_config
from forensics.window import Window
from tests.contract import ContractCase, contract_case


def recent_window(hours_back: int = 3, length_h: int = 2) -> Window:
    """A window in the recent past: CloudWatch refuses events older than 14 days."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    since = now - timedelta(hours=hours_back)
    return Window(since, since + timedelta(hours=length_h))


def aws_client(endpoint: str, service: str, region: str = "us-east-1") -> Any:
    """A boto3 client for one service of the moto server."""
    return boto3.client(service, endpoint_url=endpoint, region_name=region)


def ms(moment: datetime) -> int:
    """Epoch milliseconds."""
    return int(moment.timestamp() * 1000)


def put_events(logs: Any, group: str, stream: str, events: list[tuple[datetime, str]]) -> None:
    """Create the stream (and group) if needed and put events in time order."""
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=group)
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    ordered = sorted(events, key=lambda e: e[0])
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": ms(t), "message": m} for t, m in ordered],
    )


def log_group_data(window: Window) -> dict[str, list[tuple[datetime, str]]]:
    """Per stream: JSON and plain-text events, in and around the window.

    In the window: 50 good events (30 in web-1, 20 in web-2), of which web-1 has JSON
    objects with and without their own timestamp; one JSON object with an unreadable
    timestamp (a reject). Outside: 4 before and 4 after, which CloudWatch does not return.
    """
    start = window.since
    web1: list[tuple[datetime, str]] = []
    for i in range(30):
        moment = start + timedelta(minutes=2 * i, seconds=5)
        if i % 3 == 0:
            body: Any = {"message": f"json {i}", "log.level": "ERROR", "service.name": "checkout"}
            if i % 2 == 0:
                body["@timestamp"] = moment.isoformat()
            web1.append((moment, json.dumps(body)))
        else:
            web1.append((moment, f"plain text line {i}"))
    web1.append((start + timedelta(minutes=70), json.dumps({"@timestamp": "yesterday-ish"})))
    web2 = [(start + timedelta(minutes=3 * i, seconds=7), f"web-2 line {i}") for i in range(20)]
    web2 += [(start - timedelta(minutes=10 + i), f"before {i}") for i in range(4)]
    web2 += [(window.until + timedelta(minutes=1 + i), f"after {i}") for i in range(4)]
    return {"web-1": web1, "web-2": web2}


@contract_case("cloudwatch_logs")
def cloudwatch_logs(request: pytest.FixtureRequest, base: Path) -> ContractCase:
    endpoint = request.getfixturevalue("s3_endpoint")
    logs = aws_client(endpoint, "logs")
    window = recent_window()
    group = f"/contract/{uuid.uuid4().hex[:8]}"
    for stream, events in log_group_data(window).items():
        put_events(logs, group, stream, events)
    config = parse_config(
        {
            "source": [
                {
                    "name": "cw-logs",
                    "type": "cloudwatch_logs",
                    "region": "us-east-1",
                    "endpoint_url": endpoint,
                    "log_groups": [group],
                    "page_size": 7,
                }
            ]
        },
        base_dir=base,
    )

    def check(row: dict[str, Any]) -> None:
        event = json.loads(row["raw"])
        assert row["source_ref"] == f"{group}/{event['logStreamName']}/{event['eventId']}"
        attributes = json.loads(row["attributes"])
        assert attributes["logStreamName"] == event["logStreamName"]
        assert "ingestionTime" in attributes
        if event["message"].startswith("{"):
            assert row["log.level"] == "error" and row["service.name"] == "checkout"
        else:
            assert row["message"] == event["message"]

    return ContractCase(
        config.sources[0],
        window,
        50,
        expected_rejects=1,
        secrets=[os.environ["AWS_SECRET_ACCESS_KEY"]],
        check_row=check,
    )
