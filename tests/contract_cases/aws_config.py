"""Contract cases for AWS Config, against the moto server over HTTP.

moto records no configuration history: ``GetResourceConfigHistory`` returns only the
current item of a resource (captured when it was created) and ignores the time range,
and only a few resource types are supported (S3 buckets, SNS topics, IAM roles and
policies). The case therefore uses S3 buckets and an SNS topic created just now, in a
region no other test uses.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from forensics.config import parse_config
from forensics.window import Window
from tests.contract import ContractCase, contract_case
from tests.contract_cases.cloudwatch_logs import aws_client

CONFIG_REGION = "eu-west-2"


def around_now() -> Window:
    """A window around now: moto captures a configuration item when the resource is made."""
    now = datetime.now(UTC)
    return Window(now - timedelta(hours=1), now + timedelta(hours=1))


def make_buckets(endpoint: str, region: str, count: int) -> list[str]:
    """Create ``count`` buckets in ``region``; return their names."""
    s3 = aws_client(endpoint, "s3", region)
    names = [f"cfg-{uuid.uuid4().hex[:12]}" for _ in range(count)]
    for name in names:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    return names


@contract_case("aws_config")
def aws_config(request: pytest.FixtureRequest, base: Path) -> ContractCase:
    endpoint = request.getfixturevalue("s3_endpoint")
    window = around_now()
    buckets = make_buckets(endpoint, CONFIG_REGION, 3)
    topic = aws_client(endpoint, "sns", CONFIG_REGION).create_topic(
        Name=f"alerts-{uuid.uuid4().hex[:8]}"
    )["TopicArn"]
    config = parse_config(
        {
            "source": [
                {
                    "name": "aws-config",
                    "type": "aws_config",
                    "region": CONFIG_REGION,
                    "endpoint_url": endpoint,
                    "resources": [{"type": "AWS::S3::Bucket", "id": b} for b in buckets]
                    + [{"type": "AWS::SNS::Topic", "id": topic}],
                    "services": {"cfg-*": "storage"},
                }
            ]
        },
        base_dir=base,
    )

    def check(row: dict[str, Any]) -> None:
        details = json.loads(row["details"])
        assert row["change.kind"] == "infra"
        assert details["resourceType"] in {"AWS::S3::Bucket", "AWS::SNS::Topic"}
        assert details["changes"] is None  # the first item of a resource has no diff base
        expected = "storage" if details["resourceType"] == "AWS::S3::Bucket" else None
        if expected:
            assert row["service.name"] == expected
        assert json.loads(row["raw"])["resourceId"] == details["resourceId"]

    return ContractCase(
        config.sources[0],
        window,
        4,
        secrets=[os.environ["AWS_SECRET_ACCESS_KEY"]],
        check_row=check,
    )
