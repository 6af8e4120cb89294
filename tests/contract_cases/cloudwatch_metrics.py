"""Contract cases for CloudWatch metrics, against the moto server over HTTP."""

from __future__ import annotations

import json
import os
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from forensics.config import parse_config
from forensics.window import Window
from tests.contract import ContractCase, contract_case
from tests.contract_cases.cloudwatch_logs import aws_client, recent_window

DIMENSIONS = [{"Name": "Service", "Value": "checkout"}]


def put_series(
    cloudwatch: Any, namespace: str, metric: str, start: datetime, minutes: int, scale: float
) -> None:
    """One datapoint a minute for ``minutes`` minutes from ``start``."""
    data = [
        {
            "MetricName": metric,
            "Dimensions": DIMENSIONS,
            "Timestamp": start + timedelta(minutes=i),
            "Value": scale * i,
        }
        for i in range(minutes)
    ]
    for first in range(0, len(data), 20):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[first : first + 20])


def metrics_data(endpoint: str, window: Window) -> str:
    """A fresh namespace with Latency and Errors: 60 points in the window, 60 before, 5 after."""
    cloudwatch = aws_client(endpoint, "cloudwatch")
    namespace = f"Contract/{uuid.uuid4().hex[:8]}"
    for metric, scale in (("Latency", 1.5), ("Errors", 1.0)):
        put_series(cloudwatch, namespace, metric, window.since - timedelta(hours=1), 120, scale)
        put_series(cloudwatch, namespace, metric, window.until + timedelta(minutes=1), 5, scale)
    return namespace


@contract_case("cloudwatch_metrics")
def cloudwatch_metrics(request: pytest.FixtureRequest, base: Path) -> ContractCase:
    endpoint = request.getfixturevalue("s3_endpoint")
    window = recent_window(hours_back=3, length_h=1)
    namespace = metrics_data(endpoint, window)
    config = parse_config(
        {
            "source": [
                {
                    "name": "cw-metrics",
                    "type": "cloudwatch_metrics",
                    "region": "us-east-1",
                    "endpoint_url": endpoint,
                    "baseline": False,
                    "metrics": [
                        {
                            "namespace": namespace,
                            "metric": "Latency",
                            "dimensions": {"Service": "checkout"},
                            "stat": "Average",
                            "period": 60,
                        },
                        {
                            "namespace": namespace,
                            "metric": "Errors",
                            "dimensions": {"Service": "checkout"},
                            "stat": "Sum",
                            "period": 60,
                        },
                    ],
                }
            ]
        },
        base_dir=base,
    )

    def check(row: dict[str, Any]) -> None:
        labels = json.loads(row["labels"])
        assert labels["Service"] == "checkout" and labels["namespace"] == namespace
        assert labels["phase"] == "window"
        assert row["metric"] in {f"{namespace}/Latency:Average", f"{namespace}/Errors:Sum"}

    return ContractCase(
        config.sources[0],
        window,
        120,
        secrets=[os.environ["AWS_SECRET_ACCESS_KEY"]],
        check_row=check,
    )
