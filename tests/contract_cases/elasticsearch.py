"""Contract cases for Elasticsearch, against the real node."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from forensics.config import parse_config
from tests.contract import ContractCase, contract_case
from tests.contract_cases.files import IN_WINDOW, log_case_records, raw_is_original
from tests.helpers import WINDOW


def _es(request: pytest.FixtureRequest, base: Path, *, slices: int | None) -> ContractCase:
    from elasticsearch import Elasticsearch, helpers

    url = request.getfixturevalue("es_url")
    client = Elasticsearch(url)
    index = f"contract-{uuid.uuid4().hex[:8]}"
    request.addfinalizer(lambda: client.indices.delete(index=index, ignore_unavailable=True))
    records = log_case_records()
    client.indices.create(index=index, settings={"number_of_shards": 2, "number_of_replicas": 0})
    helpers.bulk(client, ({"_index": index, "_source": r} for r in records), refresh=True)
    secret = f"canary-{uuid.uuid4().hex}"
    os.environ["CONTRACT_ES_KEY"] = secret
    options: dict[str, object] = {
        "hosts": [url],
        "index": index,
        "api_key_env": "CONTRACT_ES_KEY",
        "page_size": 50,
    }
    if slices:
        options["slices"] = slices
    config = parse_config(
        {"source": [{"name": "contract", "type": "elasticsearch", **options}]}, base_dir=base
    )
    return ContractCase(
        config.sources[0], WINDOW, IN_WINDOW, secrets=[secret], check_row=raw_is_original(records)
    )


@contract_case("elasticsearch")
def elasticsearch(request: pytest.FixtureRequest, base: Path) -> ContractCase:
    return _es(request, base, slices=None)


@contract_case("elasticsearch-sliced")
def elasticsearch_sliced(request: pytest.FixtureRequest, base: Path) -> ContractCase:
    return _es(request, base, slices=3)
