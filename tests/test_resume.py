"""An interrupted run never leaves a sealed-but-incomplete bundle, and --resume finishes it.

``preserve`` runs as a real process and is killed with SIGKILL at points spread over every
phase: collection (a random moment after the staging folder appears), right after
``staged.json`` is written (hashing), after the first file reaches the store (upload), after
the custody log appears (custody) and after ``manifest.json`` appears (sealing). The phases are
reached by watching files, not by timing guesses; the moment inside a phase is random (seeded
by ``FORENSICS_KILL_SEED``, printed). The store then holds nothing, an incomplete bundle (no
manifest) or a sealed one; every run whose collection had finished is completed by
``--resume`` (the CLI every fifth point, else the library call behind it) to a bundle that
verifies and has the same digest as an uninterrupted run.

Kill points: ``FORENSICS_KILL_POINTS`` (local store, default 20) and
``FORENSICS_KILL_POINTS_S3`` (moto S3 store, default 5); the CI default (25 points) runs in well
under a minute; raise them locally for a longer run (e.g. 200 and 50).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest

from forensics.bundle.manifest import MANIFEST
from forensics.errors import BundleNotFoundError
from forensics.listing import list_bundles
from forensics.preserve import resume
from forensics.stores import LocalStore
from forensics.stores.base import Store
from forensics.stores.s3 import S3Store
from forensics.verify import verify_bundle
from tests.helpers import log_records, write_jsonl

KILLS = int(os.environ.get("FORENSICS_KILL_POINTS", "20"))
KILLS_S3 = int(os.environ.get("FORENSICS_KILL_POINTS_S3", "5"))
SEED = int(os.environ.get("FORENSICS_KILL_SEED", str(int(time.time()))))
ARGS = ["--since", "2026-11-20T09:00:00Z", "--until", "2026-11-20T11:00:00Z"]
PHASES = ("collect", "staged", "upload", "custody", "manifest")
SOURCES = 4
INCIDENT = "INC-9"


def _cli(*args: str, cwd: Path) -> list[str]:
    return [sys.executable, "-m", "forensics.cli", *args]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four log sources (four data files to store, so the upload phase has steps)."""
    base = tmp_path_factory.mktemp("resume-src")
    config = ""
    for part in range(SOURCES):
        write_jsonl(base / "logs" / f"app{part}.jsonl.gz", log_records(1_500, step_s=4.0))
        config += (
            f'[[source]]\nname = "app{part}"\ntype = "files"\n'
            f'paths = ["logs/app{part}.jsonl.gz"]\n\n'
        )
    (base / "forensics.toml").write_text(config)
    return base


def _run(
    source: Path, store: str, staging: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        _cli(
            "preserve",
            "--incident",
            INCIDENT,
            "--config",
            str(source / "forensics.toml"),
            "--store",
            store,
            "--staging",
            str(staging),
            *ARGS,
            cwd=source,
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )


def _wait_for(condition: Callable[[], bool], process: subprocess.Popen[bytes]) -> bool:
    """Poll ``condition`` until true; False when the process ended first (or 60 s passed)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if condition():
            return True
        if process.poll() is not None:
            return condition()
        time.sleep(0.0005)
    return False


class _Watcher:
    """Which phase a run has reached, from the files it leaves (staging and store)."""

    def __init__(self, staging: Path, store_keys: Callable[[], list[str]]) -> None:
        self.staging = staging
        self.store_keys = store_keys

    def condition(self, phase: str) -> Callable[[], bool]:
        if phase == "collect":
            return lambda: any(self.staging.glob(f"{INCIDENT}/*"))
        if phase == "staged":
            return lambda: any(self.staging.glob(f"{INCIDENT}/*/staged.json"))
        if phase == "upload":
            return lambda: any(k.endswith(".parquet") for k in self.store_keys())
        if phase == "custody":
            return lambda: any("custody" in k for k in self.store_keys())
        return lambda: any(k.endswith(MANIFEST) for k in self.store_keys())


def _kill_and_resume(
    *,
    source: Path,
    store_uri: str,
    store: Store,
    staging: Path,
    watcher: _Watcher,
    phase: str,
    rng: random.Random,
    ref_digest: str,
    use_cli: bool,
    env: dict[str, str] | None = None,
) -> str:
    """One kill point; returns what was found after the kill."""
    process = _run(source, store_uri, staging, env)
    reached = _wait_for(watcher.condition(phase), process)
    if phase == "collect":
        time.sleep(rng.uniform(0.0, 0.25))  # somewhere inside reading and writing
    else:
        time.sleep(rng.uniform(0.0, 0.003))  # just after the phase began
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    if process.returncode == 0:
        outcome = "finished before the kill"
    elif not reached:
        raise AssertionError(f"phase {phase} never reached: {process.stderr.read()!r}")  # type: ignore[union-attr]
    else:
        outcome = ""
    staged = list(staging.glob(f"{INCIDENT}/*/staged.json")) if staging.exists() else []
    try:
        bundles = list_bundles(store)
    except BundleNotFoundError:  # a local store folder never created: killed collecting
        bundles = []
    if not staged:
        # Either the run finished (sealed, verifies) or it died collecting (nothing stored).
        for bundle in bundles:
            assert bundle.sealed, f"an unfinished bundle without staging to resume: {bundle}"
            result = verify_bundle(store, INCIDENT, bundle.bundle_id, record=False)
            assert result.intact, result.problems
            assert result.digest == ref_digest
        return outcome or ("sealed" if bundles else "nothing")
    bundle_id = staged[0].parent.name
    for bundle in bundles:
        if bundle.sealed:
            # Manifest written, sealed event maybe not yet: the data must be complete already.
            result = verify_bundle(store, INCIDENT, bundle.bundle_id, record=False)
            assert all("sealed event" in p for p in result.problems), result.problems
    if use_cli:
        done = subprocess.run(
            _cli(
                "preserve",
                "--incident",
                INCIDENT,
                "--resume",
                bundle_id,
                "--store",
                store_uri,
                "--staging",
                str(staging),
                cwd=source,
            ),
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, **(env or {})},
        )
        assert done.returncode == 0, done.stderr
    else:  # the library call behind the same command (saves a process start per point)
        resume(store, incident=INCIDENT, bundle_id=bundle_id, staging=staging)
    result = verify_bundle(store, INCIDENT, bundle_id, record=False)
    assert result.intact, result.problems
    assert result.digest == ref_digest, "resumed bundle must equal an uninterrupted run"
    assert not staged[0].parent.exists(), "staging is removed once sealed"
    return "resumed"


@pytest.fixture(scope="module")
def reference_digest(source: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The digest of one uninterrupted run."""
    base = tmp_path_factory.mktemp("resume-ref")
    reference = _run(source, str(base / "store"), base / "staging")
    assert reference.wait(timeout=300) == 0, reference.stderr.read() if reference.stderr else ""
    (ref_bundle,) = list_bundles(LocalStore(base / "store"))
    return str(json.loads(Path(ref_bundle.uri, MANIFEST).read_text())["digest"])


def test_kill_at_any_point_then_resume(source: Path, tmp_path: Path, reference_digest: str) -> None:
    rng = random.Random(SEED)
    outcomes: Counter[str] = Counter()
    for point in range(KILLS):
        phase = PHASES[point % len(PHASES)]
        store_dir, staging = tmp_path / f"store{point}", tmp_path / f"staging{point}"

        def keys(root: Path = store_dir) -> list[str]:
            found = root / INCIDENT
            return [p.name for p in found.glob("*/**/*")] if found.exists() else []

        outcome = _kill_and_resume(
            source=source,
            store_uri=str(store_dir),
            store=LocalStore(store_dir),
            staging=staging,
            watcher=_Watcher(staging, keys),
            phase=phase,
            rng=rng,
            ref_digest=reference_digest,
            use_cli=point % 5 == 4,
        )
        outcomes[f"{phase}: {outcome}"] += 1
    print(f"kill points (local): {KILLS}, seed {SEED}, outcomes: {dict(sorted(outcomes.items()))}")
    assert sum(outcomes.values()) == KILLS


def test_kill_at_any_point_then_resume_on_s3(
    source: Path,
    tmp_path: Path,
    reference_digest: str,
    s3_endpoint: str,
    lock_bucket: str,
) -> None:
    rng = random.Random(SEED + 1)
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    env = {"AWS_ENDPOINT_URL": s3_endpoint}
    outcomes: Counter[str] = Counter()
    for point in range(KILLS_S3):
        phase = PHASES[(point + 1) % len(PHASES)]  # the store phases first
        prefix = f"kill{point}"
        staging = tmp_path / f"staging{point}"

        def keys(prefix: str = prefix) -> list[str]:
            page = client.list_objects_v2(Bucket=lock_bucket, Prefix=f"{prefix}/{INCIDENT}/")
            return [item["Key"] for item in page.get("Contents", [])]

        outcome = _kill_and_resume(
            source=source,
            store_uri=f"s3://{lock_bucket}/{prefix}",
            store=S3Store(lock_bucket, prefix, endpoint_url=s3_endpoint),
            staging=staging,
            watcher=_Watcher(staging, keys),
            phase=phase,
            rng=rng,
            ref_digest=reference_digest,
            use_cli=point % 5 == 4,
            env=env,
        )
        outcomes[f"{phase}: {outcome}"] += 1
    print(f"kill points (S3): {KILLS_S3}, seed {SEED}, outcomes: {dict(sorted(outcomes.items()))}")
    assert sum(outcomes.values()) == KILLS_S3


def test_resume_of_a_sealed_bundle_says_so(source: Path, tmp_path: Path) -> None:
    assert _run(source, str(tmp_path / "s"), tmp_path / "st").wait(timeout=300) == 0
    (bundle,) = list_bundles(LocalStore(tmp_path / "s"))
    done = subprocess.run(
        _cli(
            "preserve",
            "--incident",
            INCIDENT,
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
