"""Preservation throughput and memory against baselines measured in the same run.

    python bench/bench_preserve.py [--rows 300000] [--es-url http://127.0.0.1:9200]

Files: the baseline reads the same gzip JSON-lines file with ``gzip`` + ``json.loads`` and
nothing else (the least any Python reader does); ``forensics preserve`` is measured end to end
(parse, map, Parquet, hash, store, seal). Elasticsearch (when ``--es-url`` is given): the
baseline pages through the same index with ``search_after`` in a point in time and discards the
hits; the collector run is the same export into a sealed bundle. Each case runs in its own
process so peak RSS (``ru_maxrss``) is the case's own. Prints a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SINCE = "2026-11-20T09:00:00Z"
UNTIL = "2026-11-20T11:00:00Z"


def make_input(path: Path, rows: int) -> None:
    """Write ``rows`` ECS log lines spread over the window."""
    with gzip.open(path, "wt", compresslevel=6) as out:
        for i in range(rows):
            second = i * 7200 / rows
            hour, minute = 9 + int(second // 3600), int(second % 3600 // 60)
            stamp = f"2026-11-20T{hour:02d}:{minute:02d}:{second % 60:06.3f}Z"
            out.write(
                json.dumps(
                    {
                        "@timestamp": stamp,
                        "log.level": ("info", "warn", "error")[i % 3],
                        "message": f"GET /api/orders/{i} 200 {i % 997}ms",
                        "service": {"name": f"svc-{i % 7}"},
                        "host": {"name": f"pod-{i % 13}"},
                        "trace": {"id": f"{i:032x}"},
                        "http": {"response": {"status_code": 200}},
                    }
                )
                + "\n"
            )


def case_baseline_files(path: str) -> dict[str, float]:
    start = time.perf_counter()
    rows = 0
    with gzip.open(path, "rb") as stream:
        for line in stream:
            json.loads(line)
            rows += 1
    return {"rows": rows, "seconds": time.perf_counter() - start}


def case_preserve(config: str, store: str) -> dict[str, float]:
    from forensics.config import load_config
    from forensics.preserve import preserve
    from forensics.stores import open_store
    from forensics.timeutil import parse_time
    from forensics.window import Window

    start = time.perf_counter()
    result = preserve(
        load_config(config),
        open_store(store),
        incident="BENCH",
        window=Window(parse_time(SINCE), parse_time(UNTIL)),
    )
    return {"rows": result.manifest.rows, "seconds": time.perf_counter() - start}


def case_baseline_es(url: str, index: str) -> dict[str, float]:
    from elasticsearch import Elasticsearch

    client = Elasticsearch(url, request_timeout=120)
    start = time.perf_counter()
    pit = client.open_point_in_time(index=index, keep_alive="2m")["id"]
    after = None
    rows = 0
    while True:
        page = client.search(
            pit={"id": pit, "keep_alive": "2m"},
            size=5000,
            sort=[{"_shard_doc": "asc"}],
            search_after=after,
            track_total_hits=False,
        )
        hits = page["hits"]["hits"]
        if not hits:
            break
        rows += len(hits)
        after = hits[-1]["sort"]
    client.close_point_in_time(id=pit)
    return {"rows": rows, "seconds": time.perf_counter() - start}


CASES = {
    "baseline_files": case_baseline_files,
    "preserve": case_preserve,
    "baseline_es": case_baseline_es,
}


def run_case(name: str, *args: str) -> dict[str, float]:
    """Run one case in a fresh interpreter; return its result with peak RSS in MiB."""
    out = subprocess.run(
        [sys.executable, __file__, "--case", name, *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--es-url")
    parser.add_argument("--case")
    parser.add_argument("args", nargs="*")
    opts = parser.parse_args()
    if opts.case:
        result = CASES[opts.case](*opts.args)
        result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return

    lines = [
        "| case | rows | seconds | rows/s | ratio to baseline | peak RSS MiB |",
        "|---|---|---|---|---|---|",
    ]

    def row(label: str, result: dict[str, float], base: dict[str, float]) -> None:
        rate = result["rows"] / result["seconds"]
        ratio = rate / (base["rows"] / base["seconds"])
        lines.append(
            f"| {label} | {result['rows']:,.0f} | {result['seconds']:.2f} | {rate:,.0f} | "
            f"{ratio:.2f} | {result['peak_rss_mib']:.0f} |"
        )

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "logs").mkdir()
        make_input(work / "logs" / "app.jsonl.gz", opts.rows)
        (work / "files.toml").write_text(
            '[[source]]\nname = "app"\ntype = "files"\npaths = ["logs/*.jsonl.gz"]\n'
        )
        base = run_case("baseline_files", str(work / "logs" / "app.jsonl.gz"))
        row("files: gzip + json.loads only (baseline)", base, base)
        row(
            "files: forensics preserve, local store",
            run_case("preserve", str(work / "files.toml"), str(work / "ev")),
            base,
        )
        if opts.es_url:
            from elasticsearch import Elasticsearch, helpers

            client = Elasticsearch(opts.es_url, request_timeout=120)
            index = "bench-preserve"
            client.indices.delete(index=index, ignore_unavailable=True)
            client.indices.create(
                index=index, settings={"number_of_shards": 2, "number_of_replicas": 0}
            )
            with gzip.open(work / "logs" / "app.jsonl.gz", "rt") as stream:
                helpers.bulk(
                    client, ({"_index": index, "_source": line} for line in stream), chunk_size=5000
                )
            client.indices.refresh(index=index)
            (work / "es.toml").write_text(
                '[[source]]\nname = "es"\ntype = "elasticsearch"\n'
                f'hosts = ["{opts.es_url}"]\nindex = "{index}"\n'
            )
            es_base = run_case("baseline_es", opts.es_url, index)
            row("elasticsearch: PIT + search_after, hits discarded (baseline)", es_base, es_base)
            row(
                "elasticsearch: forensics preserve, local store",
                run_case("preserve", str(work / "es.toml"), str(work / "ev2")),
                es_base,
            )
            client.indices.delete(index=index)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
