"""User query text reaches Elasticsearch only as values inside the structured query DSL.

A tiny HTTP proxy runs as its own process in front of the real node (``es_url``) and records
the exact body of every request the collector sends. The source's ``query`` table carries
hostile values: a term value that tries to close the JSON object and add a ``script``, and a
Lucene ``query_string`` payload given to ``match_phrase``. The recorded bodies must parse as
JSON, contain those strings only as the values they were given (no ``script`` key anywhere,
no ``query_string`` clause), and Elasticsearch must return exactly the documents whose text is
literally those strings; a concatenated query would have matched everything or failed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from elasticsearch import Elasticsearch

from forensics.cli import main
from tests.conftest import free_port, wait_http
from tests.helpers import WINDOW

pytestmark = pytest.mark.elasticsearch

SCRIPT_INJECTION = '"}}, "script": {"source": "ctx._source.owned = 1"}, "x": {"y": "'
LUCENE_PAYLOAD = "x) OR (*:*) OR message:(* AND _exists_:secret"

PROXY = textwrap.dedent(
    '''
    """Forward every request to the upstream, appending {method, path, body} lines to a file."""
    import http.client, json, sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import urlsplit

    port, upstream, capture = int(sys.argv[1]), urlsplit(sys.argv[2]), sys.argv[3]
    HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with open(capture, "a", encoding="utf-8") as out:
                out.write(json.dumps({"method": self.command, "path": self.path,
                                      "body": body.decode("utf-8", "replace")}) + "\\n")
            conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            conn.request(self.command, self.path, body=body or None, headers=headers)
            answer = conn.getresponse()
            data = answer.read()
            self.send_response(answer.status)
            for key, value in answer.getheaders():
                if key.lower() not in HOP:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            conn.close()

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
    '''
)


@pytest.fixture
def proxy(es_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A recording proxy process in front of Elasticsearch: (its URL, the capture file)."""
    script = tmp_path / "proxy.py"
    script.write_text(PROXY)
    capture = tmp_path / "requests.jsonl"
    port = free_port()
    process = subprocess.Popen([sys.executable, str(script), str(port), es_url, str(capture)])
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_http(url, 30), "proxy did not start"
        capture.write_text("")
        yield url, capture
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def index(es_url: str) -> Iterator[str]:
    name = f"logs-dsl-{uuid.uuid4().hex[:8]}"
    client = Elasticsearch(es_url, request_timeout=60)
    messages = [
        SCRIPT_INJECTION,
        f"before {LUCENE_PAYLOAD} after",
        *(f"event {i}" for i in range(8)),
    ]
    for i, message in enumerate(messages):
        moment = (WINDOW.since + timedelta(minutes=i)).isoformat()
        client.index(
            index=name,
            id=f"d{i}",
            document={"@timestamp": moment, "message": message, "secret": "s"},
        )
    client.indices.refresh(index=name)
    yield name
    client.indices.delete(index=name, ignore_unavailable=True)
    client.close()


def _keys(value: Any) -> set[str]:
    """Every object key anywhere in a parsed JSON value."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_hostile_query_values_stay_json_values(
    proxy: tuple[str, Path], index: str, tmp_path: Path
) -> None:
    url, capture = proxy
    user_query = {
        "bool": {
            "should": [
                {"term": {"message.keyword": SCRIPT_INJECTION}},
                {"match_phrase": {"message": LUCENE_PAYLOAD}},
            ],
            "minimum_should_match": 1,
        }
    }
    (tmp_path / "forensics.toml").write_text(
        f'[[source]]\nname = "es"\ntype = "elasticsearch"\nhosts = ["{url}"]\n'
        f'index = "{index}"\n'
        "[source.query.bool]\nminimum_should_match = 1\n"
        "[[source.query.bool.should]]\n"
        f"term = {{ 'message.keyword' = {json.dumps(SCRIPT_INJECTION)} }}\n"
        "[[source.query.bool.should]]\n"
        f"match_phrase = {{ message = {json.dumps(LUCENE_PAYLOAD)} }}\n"
    )
    done = CliRunner().invoke(
        main,
        [
            *("preserve", "--incident", "INC-Q", "--config", str(tmp_path / "forensics.toml")),
            *("--since", "2026-11-20T09:00:00Z", "--until", "2026-11-20T11:00:00Z"),
            *("--store", str(tmp_path / "evidence"), "--json"),
        ],
    )
    assert done.exit_code == 0, done.output
    source = json.loads(done.output)["sources"][0]
    # Exactly the two documents whose text is literally the hostile strings.
    assert source["written"] == 2 and source["reported"] == 2 and source["reconciled"]
    (part,) = (tmp_path / "evidence").rglob("logs/es/part-*.parquet")
    messages = sorted(pq.read_table(part).column("message").to_pylist())
    assert messages == sorted([SCRIPT_INJECTION, f"before {LUCENE_PAYLOAD} after"])

    time.sleep(0.2)
    requests = [json.loads(line) for line in capture.read_text().splitlines()]
    searches = [r for r in requests if "_search" in r["path"]]
    assert len(searches) >= 2, requests  # the count, then at least one page
    for request in searches:
        body = json.loads(request["body"])  # every request body is one JSON document
        keys = _keys(body)
        assert "script" not in keys and "query_string" not in keys, body
        clauses = body["query"]["bool"]["filter"]
        assert clauses[1] == user_query, "the user's DSL is sent as given, as JSON values"
        assert SCRIPT_INJECTION not in json.dumps(body["query"]["bool"]["filter"][0])
    assert not any("script" in r["path"] or "_update" in r["path"] for r in requests)
    # Nothing in the index was changed by the "script".
    client = Elasticsearch(url, request_timeout=30)
    try:
        owned = client.search(index=index, query={"exists": {"field": "owned"}}, size=0)
        assert owned["hits"]["total"]["value"] == 0
    finally:
        client.close()
    manifest = json.loads(next((tmp_path / "evidence").rglob("manifest.json")).read_text())
    assert manifest["sources"][0]["query"]["query"]["bool"]["filter"][1] == user_query
