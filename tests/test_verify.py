"""verify names every changed, missing or added file; a one-byte flip anywhere is caught."""

from __future__ import annotations

import os
import random
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from forensics.cli import main
from forensics.stores import LocalStore
from forensics.verify import verify_bundle
from tests.helpers import small_bundle


def _writable(path: Path) -> None:
    for parent in [path.parent, *path.parent.parents][:4]:
        if parent.exists():
            parent.chmod(parent.stat().st_mode | stat.S_IWUSR)
    if path.exists():
        path.chmod(path.stat().st_mode | stat.S_IWUSR)


@pytest.fixture
def sealed(tmp_path: Path) -> tuple[LocalStore, str, Path]:
    store = LocalStore(tmp_path / "evidence")
    result = small_bundle(store, tmp_path / "src")
    return store, result.bundle_id, store.root / "INC-1" / result.bundle_id


def _files(bundle_dir: Path) -> list[Path]:
    return sorted(p for p in bundle_dir.rglob("*") if p.is_file())


def test_every_file_is_covered(sealed: tuple[LocalStore, str, Path]) -> None:
    _, _, bundle_dir = sealed
    names = {p.relative_to(bundle_dir).as_posix() for p in _files(bundle_dir)}
    assert names == {
        "manifest.json",
        "custody.jsonl",
        "logs/app-logs/part-00000.parquet",
        "rejects/app-logs/part-00000.parquet",
    }


FLIP_SEEDS = int(os.environ.get("FORENSICS_FLIP_SEEDS", "6"))


@pytest.mark.parametrize("seed", range(FLIP_SEEDS))
def test_one_flipped_byte_in_any_file_is_named(
    sealed: tuple[LocalStore, str, Path], seed: int
) -> None:
    store, bundle_id, bundle_dir = sealed
    rng = random.Random(seed)
    for target in _files(bundle_dir):
        original = target.read_bytes()
        position = rng.randrange(len(original))
        flipped = bytearray(original)
        flipped[position] ^= 1 << rng.randrange(8)
        _writable(target)
        target.write_bytes(bytes(flipped))
        outcome = verify_bundle(store, "INC-1", bundle_id, record=False)
        target.write_bytes(original)
        name = target.relative_to(bundle_dir).as_posix()
        expected = "custody" if name == "custody.jsonl" else name
        assert not outcome.intact, f"flip at {position} of {name} not detected"
        assert any(expected in p for p in outcome.problems), (name, outcome.problems)
    assert verify_bundle(store, "INC-1", bundle_id, record=False).intact


def test_removed_and_added_files_are_named(sealed: tuple[LocalStore, str, Path]) -> None:
    store, bundle_id, bundle_dir = sealed
    victim = bundle_dir / "rejects/app-logs/part-00000.parquet"
    kept = victim.read_bytes()
    _writable(victim)
    victim.unlink()
    outcome = verify_bundle(store, "INC-1", bundle_id, record=False)
    assert outcome.problems == ["rejects/app-logs/part-00000.parquet: missing"]
    victim.write_bytes(kept)

    extra = bundle_dir / "logs" / "app-logs" / "part-00001.parquet"
    _writable(extra)
    extra.write_bytes(b"PAR1 planted")
    outcome = verify_bundle(store, "INC-1", bundle_id, record=False)
    assert outcome.problems == ["logs/app-logs/part-00001.parquet: extra file not in the manifest"]


def test_cli_verify_exit_codes(sealed: tuple[LocalStore, str, Path]) -> None:
    _, _, bundle_dir = sealed
    uri = str(bundle_dir)
    runner = CliRunner()
    ok = runner.invoke(main, ["verify", uri])
    assert ok.exit_code == 0, ok.output
    assert "intact" in ok.output
    target = bundle_dir / "logs/app-logs/part-00000.parquet"
    _writable(target)
    data = bytearray(target.read_bytes())
    data[100] ^= 0xFF
    target.write_bytes(bytes(data))
    bad = runner.invoke(main, ["verify", uri])
    assert bad.exit_code == 1
    assert "logs/app-logs/part-00000.parquet: modified" in bad.output
    # Each run appends a chained 'verified' event and the chain stays valid.
    lines = (bundle_dir / "custody.jsonl").read_text().splitlines()
    assert [line.count('"event":"verified"') for line in lines[-2:]] == [1, 1]
    assert os.access(bundle_dir / "custody.jsonl", os.R_OK)
