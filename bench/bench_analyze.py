"""Analysis of a large bundle against a same-run baseline: time and peak memory.

    python bench/bench_analyze.py [--rows 10000000] [--error-share 0.01]

Builds a sealed bundle of ``--rows`` log rows (vectorised Arrow generation through the bundle
writer and the real seal; 8 services, background errors, one new error signature after a
deploy), then measures, each in its own process: the baseline, a pyarrow scan of the logs that
reads the error rows' columns only (the least any "first error" search must do), and
``forensics.analysis.analyze_bundle``. Prints a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

START_US = int(datetime(2026, 11, 20, 9, tzinfo=UTC).timestamp()) * 1_000_000
WINDOW_US = 2 * 3600 * 1_000_000
DEPLOY_US = START_US + 62 * 60 * 1_000_000
ONSET_US = DEPLOY_US + 253 * 1_000_000
SERVICES = [f"svc-{i}" for i in range(8)]
BACKGROUND = [
    "Connection reset by peer while reading from {ip}",
    "cache miss for key product:{n}",
    "timeout after {n}ms calling inventory",
]


def build(folder: Path, rows: int, error_share: float) -> str:
    """Write and seal a bundle; return its URI."""
    from forensics.bundle.manifest import SourceEntry
    from forensics.bundle.schema import CHANGES_SCHEMA, LOGS_SCHEMA
    from forensics.bundle.writer import DatasetWriter, RejectWriter
    from forensics.ids import new_bundle_id
    from forensics.seal import store_and_seal
    from forensics.staging import StagedBundle
    from forensics.stores import LocalStore
    from forensics.timeutil import utcnow

    rng = np.random.default_rng(7)
    stage = folder / "stage"
    logs = DatasetWriter(stage, "logs", "app", LOGS_SCHEMA, max_rows_per_file=1_000_000)
    chunk = 500_000
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        stamps = np.sort(rng.integers(START_US, START_US + WINDOW_US, n))
        service = rng.integers(0, len(SERVICES), n)
        is_error = rng.random(n) < error_share
        numbers = rng.integers(0, 100_000, n)
        kinds = rng.integers(0, len(BACKGROUND), n)
        messages = [
            BACKGROUND[k].format(ip=f"10.0.{x % 255}.{x % 7}", n=x) if e else f"GET /api/{x} 200"
            for k, x, e in zip(kinds.tolist(), numbers.tolist(), is_error.tolist(), strict=True)
        ]
        new = (stamps >= ONSET_US) & (service == 3) & (rng.random(n) < 0.05)
        levels = np.where(is_error | new, "error", "info").astype(object)
        for i in np.flatnonzero(new).tolist():
            messages[i] = f"PaymentAuthorizationError: gateway returned 502 for order {numbers[i]}"
        names = np.array(SERVICES, dtype=object)[service]
        refs = [f"app.log:{start + i + 1}" for i in range(n)]
        batch = pa.RecordBatch.from_arrays(
            [
                pa.array(stamps, pa.timestamp("us", tz="UTC")),
                pa.array(names, pa.string()),
                pa.array(names, pa.string()),
                pa.array(levels, pa.string()),
                pa.array(messages, pa.string()),
                pa.nulls(n, pa.string()),
                pa.nulls(n, pa.string()),
                pa.nulls(n, pa.string()),
                pa.array(["app"] * n, pa.string()),
                pa.array(refs, pa.string()),
                pa.nulls(n, pa.string()),
                pa.array(messages, pa.string()),
            ],
            schema=LOGS_SCHEMA,
        )
        logs.write(batch)
    changes = DatasetWriter(stage, "changes", "deploys", CHANGES_SCHEMA)
    changes.write(
        pa.RecordBatch.from_pylist(
            [
                {
                    "@timestamp": DEPLOY_US,
                    "change.kind": "deploy",
                    "change.id": "deploy-1",
                    "service.name": "svc-3",
                    "summary": "deploy svc-3",
                    "source": "deploys",
                    "source_ref": "changes.jsonl:1",
                },
                {
                    "@timestamp": START_US + 600_000_000,
                    "change.kind": "config",
                    "change.id": "config-1",
                    "service.name": "svc-5",
                    "summary": "config svc-5",
                    "source": "deploys",
                    "source_ref": "changes.jsonl:2",
                },
            ],
            schema=CHANGES_SCHEMA,
        )
    )
    staged_files = logs.close() + changes.close() + RejectWriter(stage, "app").close()
    entry = {
        "type": "files",
        "status": "ok",
        "query": {},
        "counted_by": "reader",
        "rows_rejected": 0,
    }
    sources = [
        SourceEntry(
            name="app",
            kind="logs",
            reported_count=rows,
            rows_written=rows,
            window={},
            reconciled=True,
            **entry,
        ),
        SourceEntry(
            name="deploys",
            kind="changes",
            reported_count=2,
            rows_written=2,
            window={},
            reconciled=True,
            **entry,
        ),
    ]
    created = utcnow()
    staged = StagedBundle(
        incident_id="BENCH",
        bundle_id=new_bundle_id(created),
        window={"since": "2026-11-20T09:00:00Z", "until": "2026-11-20T11:00:00Z"},
        lookback_seconds=86400,
        changes_since="2026-11-19T09:00:00Z",
        created=created.isoformat(),
        store_facts={"type": "local"},
        sources=sources,
        staged=staged_files,
    )
    store = LocalStore(folder / "evidence")
    store.check()
    store_and_seal(store, staged, stage)
    return store.location(staged.bundle)


def case_baseline(uri: str) -> dict[str, float]:
    import pyarrow.dataset as ds

    start = time.perf_counter()
    dataset = ds.dataset(f"{uri}/logs", format="parquet")
    table = dataset.to_table(
        columns=["@timestamp", "service.name", "message", "source_ref"],
        filter=ds.field("log.level") == "error",
    )
    first = table.sort_by("@timestamp").slice(0, 1).to_pylist()
    return {
        "seconds": time.perf_counter() - start,
        "error_rows": table.num_rows,
        "first": str(first),
    }


def case_analyze(uri: str) -> dict[str, float]:
    from forensics import Bundle
    from forensics.analysis import analyze_bundle

    start = time.perf_counter()
    result = analyze_bundle(Bundle.open(uri))
    first = result["first_error"] or {}
    return {"seconds": time.perf_counter() - start, "first": str(first.get("timestamp"))}


CASES = {"baseline": case_baseline, "analyze": case_analyze}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--error-share", type=float, default=0.01)
    parser.add_argument("--case")
    parser.add_argument("--uri")
    parser.add_argument("--build-into")
    opts = parser.parse_args()
    if opts.build_into:
        print(build(Path(opts.build_into), opts.rows, opts.error_share))
        return
    if opts.case:
        result = CASES[opts.case](opts.uri)
        result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        # Built in its own process: Linux carries a parent's peak RSS into forked children.
        uri = (
            subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--build-into",
                    tmp,
                    "--rows",
                    str(opts.rows),
                    "--error-share",
                    str(opts.error_share),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        built = time.perf_counter() - began
        results = {}
        for name in CASES:
            done = subprocess.run(
                [sys.executable, __file__, "--case", name, "--uri", uri],
                capture_output=True,
                text=True,
                check=True,
            )
            results[name] = json.loads(done.stdout.strip().splitlines()[-1])
        base = results["baseline"]["seconds"]
        print(f"bundle: {opts.rows:,} log rows, built and sealed in {built:.0f} s\n")
        print("| case | seconds | ratio to baseline | peak RSS MiB |")
        print("|---|---|---|---|")
        for name, label in (
            ("baseline", "pyarrow scan of error rows (baseline)"),
            ("analyze", "forensics analyze_bundle"),
        ):
            r = results[name]
            ratio = r["seconds"] / base
            print(f"| {label} | {r['seconds']:.2f} | {ratio:.2f} | {r['peak_rss_mib']:.0f} |")
        print(f"\nfirst error found by analyze: {results['analyze']['first']}")


if __name__ == "__main__":
    main()
