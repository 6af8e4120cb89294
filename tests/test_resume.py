"""An interrupted run never leaves a sealed-but-incomplete bundle, and --resume finishes it.

``preserve`` runs as a real process and is killed with SIGKILL at spread-out moments; the
store then holds either nothing, an incomplete bundle (no manifest), or a sealed one. Every
run whose collection had finished is completed by ``--resume`` to a bundle that verifies and
has the same digest as an uninterrupted run of the same input.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from forensics.listing import list_bundles
from forensics.stores import LocalStore
from forensics.verify import verify_bundle
from tests.helpers import log_records, write_jsonl

KILLS = int(os.environ.get("FORENSICS_KILL_POINTS", "12"))
ARGS = ["--since", "2026-11-20T09:00:00Z", "--until", "2026-11-20T11:00:00Z"]


def _cli(*args: str, cwd: Path) -> list[str]:
    return [sys.executable, "-m", "forensics.cli", *args]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("resume-src")
    for part in range(4):
        write_jsonl(base / "logs" / f"app{part}.jsonl.gz", log_records(30_000, step_s=0.2))
    (base / "forensics.toml").write_text(
        '[[source]]\nname = "app"\ntype = "files"\npaths = ["logs/*.jsonl.gz"]\n'
    )
    return base


def _run(source: Path, store: Path, staging: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        _cli(
            "preserve",
            "--incident",
            "INC-9",
            "--config",
            str(source / "forensics.toml"),
            "--store",
            str(store),
            "--staging",
            str(staging),
            *ARGS,
            cwd=source,
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_kill_at_any_point_then_resume(source: Path, tmp_path: Path) -> None:
    # Reference: one uninterrupted run, and how long it takes.
    began = time.monotonic()
    reference = _run(source, tmp_path / "reference", tmp_path / "staging-ref")
    assert reference.wait(timeout=300) == 0, reference.stderr.read() if reference.stderr else ""
    duration = time.monotonic() - began
    (ref_bundle,) = list_bundles(LocalStore(tmp_path / "reference"))
    ref_digest = json.loads(Path(ref_bundle.uri, "manifest.json").read_text())["digest"]

    outcomes: dict[str, int] = {"nothing": 0, "incomplete_resumed": 0, "sealed": 0}
    for point in range(KILLS):
        store_dir, staging = tmp_path / f"store{point}", tmp_path / f"staging{point}"
        process = _run(source, store_dir, staging)
        if point % 2 == 0:  # somewhere in collection and writing
            time.sleep(duration * (0.1 + 0.8 * point / KILLS))
        else:  # somewhere in hashing, storing, custody and sealing, after collection
            deadline = time.monotonic() + duration * 2
            while not list(staging.glob("*/*/staged.json")) and time.monotonic() < deadline:
                time.sleep(0.002)
            time.sleep(0.004 * (point // 2))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        store = LocalStore(store_dir)
        bundles = list_bundles(store) if store_dir.exists() else []
        staged = list((staging / "INC-9").glob("*/staged.json")) if staging.exists() else []
        # Never sealed-but-broken: a listed sealed bundle always verifies.
        for bundle in bundles:
            if bundle.sealed:
                assert verify_bundle(store, "INC-9", bundle.bundle_id, record=False).intact
        if any(b.sealed for b in bundles):
            outcomes["sealed"] += 1
            continue
        if not staged:  # killed during collection: nothing to resume, nothing sealed
            assert not any(b.sealed for b in bundles)
            outcomes["nothing"] += 1
            continue
        bundle_id = staged[0].parent.name
        done = subprocess.run(
            _cli(
                "preserve",
                "--incident",
                "INC-9",
                "--resume",
                bundle_id,
                "--store",
                str(store_dir),
                "--staging",
                str(staging),
                cwd=source,
            ),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        outcome = verify_bundle(store, "INC-9", bundle_id, record=False)
        assert outcome.intact, outcome.problems
        assert outcome.digest == ref_digest, "resumed bundle must equal an uninterrupted run"
        assert not staged[0].parent.exists(), "staging is removed once sealed"
        outcomes["incomplete_resumed"] += 1
    print(f"kill points: {KILLS}, outcomes: {outcomes}")
    assert sum(outcomes.values()) == KILLS


def test_resume_of_a_sealed_bundle_says_so(source: Path, tmp_path: Path) -> None:
    assert _run(source, tmp_path / "s", tmp_path / "st").wait(timeout=300) == 0
    (bundle,) = list_bundles(LocalStore(tmp_path / "s"))
    done = subprocess.run(
        _cli(
            "preserve",
            "--incident",
            "INC-9",
            "--resume",
            bundle.bundle_id,
            "--store",
            str(tmp_path / "s"),
            "--staging",
            str(tmp_path / "st"),
            cwd=source,
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "already sealed" in done.stderr
