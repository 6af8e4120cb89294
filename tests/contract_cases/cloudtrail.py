"""Contract cases for CloudTrail read from a trail's S3 delivery (moto S3 over HTTP).

The files are written exactly as CloudTrail delivers them: gzipped JSON
``{"Records": [...]}`` under
``AWSLogs/<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/<account>_CloudTrail_<region>_<yyyymmddThhmmZ>_<random>.json.gz``,
here spanning a day boundary.
"""

from __future__ import annotations

import gzip
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

ACCOUNT = "123456789012"
#: The window spans midnight, so files are read from two day folders.
CT_WINDOW = Window(datetime(2026, 11, 20, 23, tzinfo=UTC), datetime(2026, 11, 21, 1, tzinfo=UTC))
DEPLOYER = f"arn:aws:sts::{ACCOUNT}:assumed-role/Deployer/ci-pipeline"


def ct_event(
    moment: datetime,
    source: str,
    name: str,
    params: dict[str, Any] | None = None,
    *,
    region: str = "us-east-1",
    read_only: bool = False,
    management: bool = True,
    response: dict[str, Any] | None = None,
    event_id: str | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """One CloudTrail record with the fields CloudTrail writes."""
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLEID:ci-pipeline",
            "arn": DEPLOYER,
            "accountId": ACCOUNT,
            "accessKeyId": "ASIAEXAMPLEKEY",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": "AROAEXAMPLEID",
                    "arn": f"arn:aws:iam::{ACCOUNT}:role/Deployer",
                    "accountId": ACCOUNT,
                    "userName": "Deployer",
                },
                "attributes": {
                    "creationDate": (moment - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "mfaAuthenticated": "false",
                },
            },
        },
        "eventTime": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": "203.0.113.10",
        "userAgent": "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64",
        "requestParameters": params,
        "responseElements": response,
        "requestID": str(uuid.uuid4()),
        "eventID": event_id or str(uuid.uuid4()),
        "readOnly": read_only,
        "eventType": "AwsApiCall",
        "managementEvent": management,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management" if management else "Data",
    }
    if error:
        record["errorCode"] = error
        record["errorMessage"] = f"{error} for {name}"
    return record


def trail_key(region: str, delivered: datetime, prefix: str = "") -> str:
    """The exact key CloudTrail gives a log file delivered at ``delivered``."""
    stamp = delivered.strftime("%Y%m%dT%H%MZ")
    name = f"{ACCOUNT}_CloudTrail_{region}_{stamp}_{uuid.uuid4().hex[:16]}.json.gz"
    folder = f"AWSLogs/{ACCOUNT}/CloudTrail/{region}/{delivered:%Y/%m/%d}/"
    return (f"{prefix}/" if prefix else "") + folder + name


def put_trail_file(
    s3: Any, bucket: str, region: str, delivered: datetime, records: list[Any], prefix: str = ""
) -> str:
    """Upload one gzipped CloudTrail file; return its key."""
    key = trail_key(region, delivered, prefix)
    body = gzip.compress(json.dumps({"Records": records}).encode(), mtime=0)
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    return key


def trail_data(s3: Any, bucket: str, prefix: str = "") -> dict[str, int]:
    """Write a day-spanning trail; return the expected counts.

    Written rows: 12 changes in the window. Skips: 2 read-only, 1 data event, 1 duplicate,
    2 outside the window. Rejects: 1 corrupt file, 1 record with an unreadable eventTime.
    """
    t = CT_WINDOW.since
    shared_id = str(uuid.uuid4())
    east_day1 = [
        ct_event(
            t + timedelta(minutes=5),
            "ecs.amazonaws.com",
            "UpdateService",
            {"cluster": "prod", "service": "checkout", "taskDefinition": "checkout:42"},
            event_id=shared_id,
        ),
        ct_event(
            t + timedelta(minutes=9),
            "ecs.amazonaws.com",
            "UpdateService",
            {"cluster": "prod", "service": "checkout", "desiredCount": 12},
        ),
        ct_event(
            t + timedelta(minutes=12),
            "lambda.amazonaws.com",
            "UpdateFunctionCode20150331v2",
            {"functionName": "payments-webhook", "s3Bucket": "artifacts"},
        ),
        ct_event(
            t + timedelta(minutes=15),
            "ssm.amazonaws.com",
            "PutParameter",
            {"name": "/checkout/db/pool_size", "type": "String", "overwrite": True},
        ),
        ct_event(
            t + timedelta(minutes=20),
            "ec2.amazonaws.com",
            "AuthorizeSecurityGroupIngress",
            {"groupId": "sg-0abc", "ipPermissions": {"items": [{"fromPort": 5432}]}},
        ),
        ct_event(
            t + timedelta(minutes=21),
            "ec2.amazonaws.com",
            "DescribeInstances",
            {"instancesSet": {}},
            read_only=True,
        ),
        ct_event(
            t + timedelta(minutes=22), "ecs.amazonaws.com", "ListServices", {"cluster": "prod"}
        ),
        ct_event(
            t - timedelta(minutes=30),
            "ecs.amazonaws.com",
            "UpdateService",
            {"cluster": "prod", "service": "checkout", "forceNewDeployment": True},
        ),
    ]
    put_trail_file(s3, bucket, "us-east-1", t + timedelta(minutes=25), east_day1, prefix)
    t2 = datetime(2026, 11, 21, tzinfo=UTC)
    east_day2 = [
        ct_event(
            t2 + timedelta(minutes=3),
            "route53.amazonaws.com",
            "ChangeResourceRecordSets",
            {"hostedZoneId": "Z123", "changeBatch": {"changes": [{"action": "UPSERT"}]}},
        ),
        ct_event(
            t2 + timedelta(minutes=4),
            "acm.amazonaws.com",
            "ImportCertificate",
            {"certificateArn": f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/abc"},
        ),
        ct_event(
            t2 + timedelta(minutes=6),
            "autoscaling.amazonaws.com",
            "SetDesiredCapacity",
            {"autoScalingGroupName": "checkout-asg", "desiredCapacity": 8},
        ),
        ct_event(
            t2 + timedelta(minutes=7),
            "appconfig.amazonaws.com",
            "StartDeployment",
            {"applicationId": "app1", "configurationProfileId": "new-checkout-feature-flags"},
        ),
        ct_event(
            t2 + timedelta(minutes=8),
            "iam.amazonaws.com",
            "AttachRolePolicy",
            {"roleName": "checkout-task", "policyArn": "arn:aws:iam::aws:policy/AdminAccess"},
            error="AccessDenied",
        ),
        ct_event(
            t2 + timedelta(minutes=9),
            "s3.amazonaws.com",
            "PutObject",
            {"bucketName": "uploads", "key": "a.txt"},
            management=False,
        ),
        ct_event(
            t + timedelta(minutes=5),
            "ecs.amazonaws.com",
            "UpdateService",
            {"cluster": "prod", "service": "checkout", "taskDefinition": "checkout:42"},
            event_id=shared_id,
        ),
        ct_event(
            t2 + timedelta(minutes=90),
            "ecs.amazonaws.com",
            "CreateService",
            {"cluster": "prod", "serviceName": "late"},
        ),
    ]
    put_trail_file(s3, bucket, "us-east-1", t2 + timedelta(minutes=95), east_day2, prefix)
    west = [
        ct_event(
            t2 + timedelta(minutes=10),
            "rds.amazonaws.com",
            "ModifyDBInstance",
            {"dBInstanceIdentifier": "orders-db", "allocatedStorage": 200},
            region="eu-west-1",
        ),
        ct_event(
            t2 + timedelta(minutes=11),
            "codedeploy.amazonaws.com",
            "CreateDeployment",
            {"applicationName": "orders", "deploymentGroupName": "orders-prod"},
            region="eu-west-1",
        ),
        {**ct_event(t2, "ec2.amazonaws.com", "RunInstances", {}), "eventTime": "not a time"},
    ]
    put_trail_file(s3, bucket, "eu-west-1", t2 + timedelta(minutes=15), west, prefix)
    corrupt_key = trail_key("eu-west-1", t2 + timedelta(minutes=20), prefix)
    s3.put_object(Bucket=bucket, Key=corrupt_key, Body=b"\x1f\x8b\x08\x00truncated")
    # Not read: a digest file and a file of a day the window does not touch.
    s3.put_object(
        Bucket=bucket,
        Key=(f"{prefix}/" if prefix else "")
        + f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/us-east-1/2026/11/21/digest.json.gz",
        Body=b"{}",
    )
    put_trail_file(
        s3,
        bucket,
        "us-east-1",
        datetime(2026, 11, 19, 12, tzinfo=UTC),
        [ct_event(datetime(2026, 11, 19, 12, tzinfo=UTC), "ecs.amazonaws.com", "CreateService")],
        prefix,
    )
    return {
        "rows": 12,
        "rejects": 2,
        "read_only_event": 2,
        "data_event": 1,
        "duplicate_event": 1,
        "outside_window": 2,
    }


def trail_source(endpoint: str, bucket: str, prefix: str = "", **extra: Any) -> dict[str, Any]:
    """The [[source]] table of a trail read from S3."""
    return {
        "name": "trail",
        "type": "cloudtrail",
        "region": "us-east-1",
        "endpoint_url": endpoint,
        "bucket": bucket,
        "prefix": prefix,
        "account": ACCOUNT,
        "regions": ["us-east-1", "eu-west-1"],
        **extra,
    }


@contract_case("cloudtrail-s3")
def cloudtrail_s3(request: pytest.FixtureRequest, base: Path) -> ContractCase:
    endpoint = request.getfixturevalue("s3_endpoint")
    s3 = aws_client(endpoint, "s3")
    bucket = f"trail-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    expected = trail_data(s3, bucket, prefix="org-trail")
    config = parse_config({"source": [trail_source(endpoint, bucket, "org-trail")]}, base_dir=base)

    def check(row: dict[str, Any]) -> None:
        record = json.loads(row["raw"])
        assert row["change.id"] == record["eventID"]
        assert row["actor"] == DEPLOYER
        assert row["source_ref"].startswith(f"s3://{bucket}/org-trail/AWSLogs/{ACCOUNT}/")
        details = json.loads(row["details"])
        assert details["requestParameters"] == record["requestParameters"]

    return ContractCase(
        config.sources[0],
        CT_WINDOW,
        expected["rows"],
        expected_rejects=expected["rejects"],
        secrets=[os.environ["AWS_SECRET_ACCESS_KEY"]],
        check_row=check,
    )
