"""Contract cases for Prometheus, against the real server with the backfilled 2026-11-20 history.

The history (tests/services/prometheus/backfill.py) has a sample at every 15 s scrape for every
series that is not a checkout scale-out pod, so the number of rows is known exactly. The
contract requires rows inside the window, so these cases turn the baseline off; the baseline is
tested in tests/test_prometheus.py.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from forensics.config import parse_config
from tests.contract import ContractCase, contract_case
from tests.helpers import WINDOW

NON_CHECKOUT_TARGETS = 12  # up{job!="checkout"}: 9 service instances and 3 nodes
PAYMENTS_REQUEST_SERIES = 8  # http_requests_total{job="payments-api"}: 2 instances x 4 codes


def _case(
    request: pytest.FixtureRequest, base: Path, options: dict[str, Any], rows: int, check: Any
) -> ContractCase:
    url = request.getfixturevalue("prometheus_url")
    secret = f"canary-{uuid.uuid4().hex}"
    os.environ["CONTRACT_PROM_TOKEN"] = secret
    source = {
        "name": "contract",
        "type": "prometheus",
        "url": url,
        "bearer_token_env": "CONTRACT_PROM_TOKEN",
        "baseline": 0,
        **options,
    }
    config = parse_config({"source": [source]}, base_dir=base)
    return ContractCase(config.sources[0], WINDOW, rows, secrets=[secret], check_row=check)


@contract_case("prometheus")
def prometheus(request: pytest.FixtureRequest, base: Path) -> ContractCase:
    def check(row: dict[str, Any]) -> None:
        labels = json.loads(row["labels"])
        assert row["metric"] == "targets_up"
        assert row["value"] == 1.0
        assert labels["__name__"] == "up" and labels["job"] != "checkout"
        assert list(labels) == sorted(labels)

    options = {"queries": [{"name": "targets_up", "expr": 'up{job!="checkout"}'}]}
    return _case(request, base, options, NON_CHECKOUT_TARGETS * 480, check)


@contract_case("prometheus-chunked")
def prometheus_chunked(request: pytest.FixtureRequest, base: Path) -> ContractCase:
    expr = 'http_requests_total{job="payments-api"}'

    def check(row: dict[str, Any]) -> None:
        labels = json.loads(row["labels"])
        assert row["metric"] == expr
        assert labels["__name__"] == "http_requests_total" and labels["job"] == "payments-api"
        assert row["value"] >= 0

    # One-minute step (120 points per series), at most 7 points per request: 18 requests each.
    options = {"queries": [expr], "step": "1m", "max_points_per_request": 7}
    return _case(request, base, options, PAYMENTS_REQUEST_SERIES * 120, check)
