"""Property tests: every kind of tampering with a sealed bundle is detected and named.

A small bundle is sealed once (unsigned, and signed with an Ed25519 key); each hypothesis
example copies it, applies one tampering and runs ``verify``. Classes: a flipped bit anywhere
in any file, a truncated file, a removed file, an added file, a replaced manifest (another
bundle's, or one re-sealed with recomputed hashes and digest, with or without the custody log
rewritten to match), a reordered custody log, and an edited custody event (with or without the
chain re-hashed after it). ``verify`` must report the bundle NOT intact and name what is wrong.

A re-seal that also rewrites the custody log consistently is, by construction, only detectable
with a signature: those cases are checked with ``--public-key`` (library ``public_key=``).

Examples per property: ``FORENSICS_TAMPER_EXAMPLES`` (default 40, what CI runs); a longer local
run is ``FORENSICS_TAMPER_EXAMPLES=2000 pytest tests/test_tamper_properties.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forensics.bundle.custody import line_hash
from forensics.bundle.manifest import Manifest
from forensics.cli import main
from forensics.errors import ConfigError, StoreError
from forensics.hashing import sha256_bytes
from forensics.preserve import preserve, resume
from forensics.signing import (
    SIGNATURE,
    PublicKey,
    Signer,
    generate_keypair,
    load_public_key,
    load_signer,
    sealed_event,
    signature_details,
)
from forensics.stores import LocalStore
from forensics.verify import VerifyResult, verify_bundle
from tests.helpers import WINDOW, files_config, log_records, small_bundle, write_jsonl

EXAMPLES = int(os.environ.get("FORENSICS_TAMPER_EXAMPLES", "40"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
#: Tallies for the report (printed by the last test of the module).
COUNTS: dict[str, int] = {}


def _count(kind: str) -> None:
    COUNTS[kind] = COUNTS.get(kind, 0) + 1


class Sealed:
    """A sealed template bundle, copied fresh for every example."""

    def __init__(self, root: Path, bundle_id: str, public_key: PublicKey | None) -> None:
        self.root = root
        self.bundle_id = bundle_id
        self.public_key = public_key
        self.dir = root / "INC-1" / bundle_id
        self.files = sorted(
            p.relative_to(self.dir).as_posix() for p in self.dir.rglob("*") if p.is_file()
        )

    def copy(self, into: Path) -> tuple[LocalStore, Path]:
        """A writable copy of the store holding the bundle."""
        target = into / "evidence"
        shutil.copytree(self.root, target)
        for dirpath, dirs, files in os.walk(target):
            for name in [*dirs, *files]:
                path = Path(dirpath, name)
                path.chmod(path.stat().st_mode | stat.S_IWUSR)
        return LocalStore(target), target / "INC-1" / self.bundle_id

    def verify(self, store: LocalStore, *, with_key: bool = False) -> VerifyResult:
        key = self.public_key if with_key else None
        return verify_bundle(store, "INC-1", self.bundle_id, record=False, public_key=key)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Signer, PublicKey, Signer]:
    """The bundle's signing key, its public key, and a forger's key."""
    folder = tmp_path_factory.mktemp("keys")
    public, _ = generate_keypair(folder / "signing.pem")
    generate_keypair(folder / "forger.pem")
    return (
        load_signer(folder / "signing.pem"),
        load_public_key(public),
        load_signer(folder / "forger.pem"),
    )


@pytest.fixture(scope="module", params=["unsigned", "signed"])
def sealed(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    keys: tuple[Signer, PublicKey, Signer],
) -> Sealed:
    base = tmp_path_factory.mktemp(f"sealed-{request.param}")
    store = LocalStore(base / "evidence")
    signer, public, _ = keys
    write_jsonl(base / "logs" / "app.jsonl.gz", log_records(300), extra_lines=[b"{not json\n"])
    result = preserve(
        files_config(base),
        store,
        incident="INC-1",
        window=WINDOW,
        signer=signer if request.param == "signed" else None,
    )
    made = Sealed(store.root, result.bundle_id, public if request.param == "signed" else None)
    assert made.verify(store, with_key=True).intact
    return made


@pytest.fixture
def scratch() -> Iterator[Callable[[], Path]]:
    """Fresh folders for hypothesis examples (function-scoped tmp_path is reused across them)."""
    made: list[tempfile.TemporaryDirectory[str]] = []

    def new() -> Path:
        folder = tempfile.TemporaryDirectory(prefix="tamper-")
        made.append(folder)
        return Path(folder.name)

    yield new
    for folder in made:
        folder.cleanup()


def _label(path: str) -> str:
    """What a problem line names for a tampered file."""
    return "custody" if path == "custody.jsonl" else path


def _assert_named(outcome: VerifyResult, *labels: str) -> None:
    assert not outcome.intact, "tampering was not detected"
    assert outcome.problems
    assert any(label in p for p in outcome.problems for label in labels), (
        labels,
        outcome.problems,
    )


# -- bytes of files -----------------------------------------------------------------------


@PROPERTY
@given(data=st.data())
def test_flipped_bit_anywhere_is_named(
    sealed: Sealed, scratch: Callable[[], Path], data: st.DataObject
) -> None:
    name = data.draw(st.sampled_from(sealed.files), label="file")
    store, bundle = sealed.copy(scratch())
    target = bundle / name
    content = bytearray(target.read_bytes())
    position = data.draw(st.integers(0, len(content) - 1), label="byte")
    content[position] ^= 1 << data.draw(st.integers(0, 7), label="bit")
    target.write_bytes(bytes(content))
    _count("flipped bit")
    _assert_named(sealed.verify(store), _label(name))


@PROPERTY
@given(data=st.data())
def test_truncated_file_is_named(
    sealed: Sealed, scratch: Callable[[], Path], data: st.DataObject
) -> None:
    name = data.draw(st.sampled_from(sealed.files), label="file")
    store, bundle = sealed.copy(scratch())
    target = bundle / name
    content = target.read_bytes()
    keep = data.draw(st.integers(0, len(content) - 1), label="keep")
    target.write_bytes(content[:keep])
    _count("truncated file")
    _assert_named(sealed.verify(store), _label(name))


@PROPERTY
@given(data=st.data())
def test_removed_file_is_named(
    sealed: Sealed, scratch: Callable[[], Path], data: st.DataObject
) -> None:
    name = data.draw(st.sampled_from(sealed.files), label="file")
    store, bundle = sealed.copy(scratch())
    (bundle / name).unlink()
    _count("removed file")
    _assert_named(sealed.verify(store), _label(name))


_PART = st.text(
    alphabet=st.characters(
        whitelist_categories=("Ll", "Lu", "Nd"), whitelist_characters="-_.", max_codepoint=0x2FF
    ),
    min_size=1,
    max_size=12,
).filter(lambda s: s not in {".", ".."} and not (s.startswith(".") and s.endswith(".tmp")))


@PROPERTY
@given(parts=st.lists(_PART, min_size=1, max_size=3), body=st.binary(max_size=256))
def test_added_file_is_named(
    sealed: Sealed, scratch: Callable[[], Path], parts: list[str], body: bytes
) -> None:
    store, bundle = sealed.copy(scratch())
    target = bundle.joinpath(*parts)
    name = "/".join(parts)
    if any(name == f or name.startswith(f"{f}/") or f.startswith(f"{name}/") for f in sealed.files):
        body = body + b"x"  # collides with an existing file or folder: tamper with it instead
        if target.is_file():
            target.write_bytes(target.read_bytes() + body)
            _count("added bytes")
            _assert_named(sealed.verify(store), _label(name))
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(body)
    _count("added file")
    _assert_named(sealed.verify(store), name)


# -- the manifest -----------------------------------------------------------------------


def _sealed_position(lines: list[bytes]) -> int:
    return next(i for i, line in enumerate(lines) if json.loads(line)["event"] == "sealed")


def _reseal(
    bundle: Path,
    *,
    file_index: int,
    rewrite_custody: bool,
    signature: str,
    forger: Signer,
) -> None:
    """Change one data file, recompute its hash, size and the digest, write a new manifest."""
    manifest = Manifest.from_json((bundle / "manifest.json").read_bytes())
    entry = manifest.files[file_index % len(manifest.files)]
    data = bytearray((bundle / entry.path).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (bundle / entry.path).write_bytes(bytes(data))
    entry.sha256, entry.bytes = sha256_bytes(bytes(data)), len(data)
    manifest.digest = manifest.compute_digest()
    body = manifest.to_json()
    (bundle / "manifest.json").write_bytes(body)
    sig = bundle / SIGNATURE
    if signature == "drop" and sig.exists():
        sig.unlink()
    elif signature == "forge":
        sig.write_bytes(forger.sign(body))
    if rewrite_custody:
        lines = (bundle / "custody.jsonl").read_bytes().splitlines(keepends=True)
        position = _sealed_position(lines)
        new_seal = sealed_event(
            seq=position + 1,
            custody_head=str(manifest.custody_head),
            digest=manifest.digest,
            manifest_sha256=sha256_bytes(body),
            sealed=manifest.sealed,
            who=manifest.operator,
            version=manifest.tool["version"],
            signature=signature_details(sig.read_bytes()) if sig.exists() else None,
        )
        (bundle / "custody.jsonl").write_bytes(b"".join(lines[:position]) + new_seal)


@PROPERTY
@given(
    file_index=st.integers(0, 9),
    rewrite_custody=st.booleans(),
    signature=st.sampled_from(["keep", "drop", "forge"]),
)
def test_resealed_manifest_is_caught(
    sealed: Sealed,
    keys: tuple[Signer, PublicKey, Signer],
    scratch: Callable[[], Path],
    file_index: int,
    rewrite_custody: bool,
    signature: str,
) -> None:
    store, bundle = sealed.copy(scratch())
    _reseal(
        bundle,
        file_index=file_index,
        rewrite_custody=rewrite_custody,
        signature=signature,
        forger=keys[2],
    )
    _count("re-sealed manifest")
    if not rewrite_custody:  # the sealed event still names the old manifest's hash
        _assert_named(sealed.verify(store), "manifest.json")
    if sealed.public_key is not None:  # signed: the trusted key refuses every re-seal
        _assert_named(sealed.verify(store, with_key=True), SIGNATURE)
    elif rewrite_custody:
        # Unsigned and rewritten consistently: nothing left to contradict it. This is what
        # signing is for; the lone hash-seal cannot tell, and the test pins that limit.
        assert sealed.verify(store).intact


def test_manifest_of_another_bundle_is_caught(sealed: Sealed, tmp_path: Path) -> None:
    other_store = LocalStore(tmp_path / "other")
    other = small_bundle(other_store, tmp_path / "src")
    store, bundle = sealed.copy(tmp_path / "copy")
    manifest = bundle / "manifest.json"
    manifest.write_bytes(
        (other_store.root / "INC-1" / other.bundle_id / "manifest.json").read_bytes()
    )
    _count("replaced manifest")
    outcome = sealed.verify(store)
    _assert_named(outcome, "manifest.json")
    assert any(f"names bundle INC-1/{other.bundle_id}" in p for p in outcome.problems)


# -- the custody log -------------------------------------------------------------------------


@PROPERTY
@given(data=st.data())
def test_reordered_custody_log_is_caught(
    sealed: Sealed, scratch: Callable[[], Path], data: st.DataObject
) -> None:
    store, bundle = sealed.copy(scratch())
    log = bundle / "custody.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    order = data.draw(st.permutations(range(len(lines))).filter(lambda p: list(p) != sorted(p)))
    log.write_bytes(b"".join(lines[i] for i in order))
    _count("reordered custody")
    _assert_named(sealed.verify(store), "custody")


_FIELDS = st.sampled_from(["time", "operator", "host", "tool_version", "details", "seq"])


@PROPERTY
@given(data=st.data(), rechain=st.booleans())
def test_edited_custody_event_is_caught(
    sealed: Sealed, scratch: Callable[[], Path], data: st.DataObject, rechain: bool
) -> None:
    store, bundle = sealed.copy(scratch())
    log = bundle / "custody.jsonl"
    events = [json.loads(line) for line in log.read_bytes().splitlines()]
    index = data.draw(st.integers(0, len(events) - 1), label="event")
    field = data.draw(_FIELDS, label="field")
    value = data.draw(st.one_of(st.text(max_size=20), st.integers()), label="value")
    if events[index].get(field) == value:
        value = f"{value}-edited"
    events[index][field] = value
    lines = [json.dumps(e, sort_keys=True, separators=(",", ":")).encode() + b"\n" for e in events]
    if rechain:  # recompute every prev after the edit, as a careful forger would
        for i in range(index + 1, len(lines)):
            events[i]["prev"] = line_hash(lines[i - 1])
            lines[i] = json.dumps(events[i], sort_keys=True, separators=(",", ":")).encode()
            lines[i] += b"\n"
    log.write_bytes(b"".join(lines))
    _count("edited custody event")
    outcome = sealed.verify(store)
    _assert_named(outcome, "custody")


# -- signing: CLI, resume, refusals ----------------------------------------------------------


def test_sign_and_verify_through_the_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    key = tmp_path / "keys" / "evidence.pem"
    key.parent.mkdir()
    made = runner.invoke(main, ["keygen", str(key)])
    assert made.exit_code == 0, made.output
    assert "BEGIN" not in made.output and str(key) not in made.output
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    again = runner.invoke(main, ["keygen", str(key)])
    assert again.exit_code == 1 and "never replaced" in again.output

    write_jsonl(tmp_path / "logs" / "app.jsonl", log_records(50))
    (tmp_path / "forensics.toml").write_text(
        '[[source]]\nname = "app"\ntype = "files"\npaths = ["logs/*.jsonl"]\n'
    )
    store = tmp_path / "evidence"
    done = runner.invoke(
        main,
        [
            "preserve",
            "--incident",
            "INC-7",
            "--since",
            "2026-11-20T09:00:00Z",
            "--until",
            "2026-11-20T11:00:00Z",
            "--config",
            str(tmp_path / "forensics.toml"),
            "--store",
            str(store),
            "--sign-key",
            str(key),
            "--json",
        ],
    )
    assert done.exit_code == 0, done.output
    assert str(key) not in done.output
    uri = json.loads(done.output)["bundle_uri"]
    bundle = Path(uri)
    sig = json.loads((bundle / SIGNATURE).read_text())
    assert sig["algorithm"] == "Ed25519" and set(sig) >= {"key_fingerprint", "signature"}
    sealed_line = (bundle / "custody.jsonl").read_text().splitlines()[-1]
    assert (
        json.loads(sealed_line)["details"]["signature"]["key_fingerprint"]
        == (sig["key_fingerprint"])
    )
    for path in store.rglob("*"):  # neither the key nor its path is in the evidence
        if path.is_file():
            assert str(key).encode() not in path.read_bytes()
            assert b"PRIVATE KEY" not in path.read_bytes()

    public = f"{key}.pub"
    ok = runner.invoke(main, ["verify", uri, "--public-key", public, "--no-record"])
    assert ok.exit_code == 0, ok.output
    assert "(valid)" in ok.output
    as_json = runner.invoke(main, ["verify", uri, "--public-key", public, "--json"])
    assert json.loads(as_json.stdout)["signature"]["checked"] is True

    # Another key's public half is refused, naming both fingerprints.
    other = tmp_path / "keys" / "other.pem"
    runner.invoke(main, ["keygen", str(other)])
    wrong = runner.invoke(main, ["verify", uri, "--public-key", f"{other}.pub", "--no-record"])
    assert wrong.exit_code == 1 and "not by the given public key" in wrong.output

    # Re-sealed with recomputed hashes and a consistent custody log: only the key catches it.
    for path in [bundle, *bundle.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    _reseal(bundle, file_index=0, rewrite_custody=True, signature="keep", forger=load_signer(other))
    plain = runner.invoke(main, ["verify", uri, "--no-record"])
    assert plain.exit_code == 0, "without the key a consistent re-seal cannot be told apart"
    caught = runner.invoke(main, ["verify", uri, "--public-key", public, "--no-record"])
    assert caught.exit_code == 1
    assert "manifest.sig: the signature does not match manifest.json" in caught.output


def test_sign_key_errors_never_show_the_key_or_its_path(tmp_path: Path) -> None:
    runner = CliRunner()
    secret_path = tmp_path / "very-secret-location" / "k.pem"
    secret_path.parent.mkdir()
    for content in (None, b"not a key", b"-----BEGIN PRIVATE KEY-----\nAAAA\n"):
        if content is not None:
            secret_path.write_bytes(content)
        done = runner.invoke(
            main,
            ["preserve", "--incident", "INC-1", "--window", "1h", "--sign-key", str(secret_path)],
        )
        assert done.exit_code == 1
        assert "--sign-key" in done.output
        assert "very-secret-location" not in done.output and "AAAA" not in done.output


class _FailOnce(LocalStore):
    """A real local store whose first write of one key fails, like an interrupted upload."""

    def __init__(self, root: Path, key_suffix: str) -> None:
        super().__init__(root)
        self.key_suffix = key_suffix
        self.failed = False

    def put_bytes(self, key: str, data: bytes, *, sha256: str) -> None:
        if key.endswith(self.key_suffix) and not self.failed:
            self.failed = True
            raise StoreError(f"simulated failure writing {key}")
        super().put_bytes(key, data, sha256=sha256)


@pytest.mark.parametrize("fail_at", ["manifest.json", SIGNATURE])
def test_signed_seal_resumes_to_the_same_bundle(
    tmp_path: Path, keys: tuple[Signer, PublicKey, Signer], fail_at: str
) -> None:
    signer, public, forger = keys
    write_jsonl(tmp_path / "logs" / "app.jsonl", log_records(80))
    store = _FailOnce(tmp_path / "evidence", fail_at)
    staging = tmp_path / "staging"
    with pytest.raises(StoreError, match="--sign-key <the same key>"):
        preserve(
            files_config(tmp_path),
            store,
            incident="INC-3",
            window=WINDOW,
            staging=staging,
            signer=signer,
        )
    (folder,) = (staging / "INC-3").iterdir()
    bundle_id = folder.name
    staged = json.loads((folder / "staged.json").read_text())
    assert staged["sign_key_fingerprint"] == signer.fingerprint
    assert "PRIVATE" not in (folder / "staged.json").read_text()
    with pytest.raises(ConfigError, match="give the same --sign-key"):
        resume(store, incident="INC-3", bundle_id=bundle_id, staging=staging)
    with pytest.raises(ConfigError, match="not sha256"):
        resume(store, incident="INC-3", bundle_id=bundle_id, staging=staging, signer=forger)
    done = resume(store, incident="INC-3", bundle_id=bundle_id, staging=staging, signer=signer)
    outcome = verify_bundle(store, "INC-3", bundle_id, record=False, public_key=public)
    assert outcome.intact, outcome.problems
    assert outcome.signature == {
        "algorithm": "Ed25519",
        "key_fingerprint": signer.fingerprint,
        "checked": True,
    }
    assert done.manifest.digest == outcome.digest
    _count("signed resume")


def test_unsigned_bundle_with_a_required_key_fails(tmp_path: Path, keys: tuple) -> None:
    store = LocalStore(tmp_path / "evidence")
    result = small_bundle(store, tmp_path / "src")
    outcome = verify_bundle(store, "INC-1", result.bundle_id, record=False, public_key=keys[1])
    _assert_named(outcome, "manifest.sig: missing")
    assert verify_bundle(store, "INC-1", result.bundle_id, record=False).intact


def test_zz_report_counts() -> None:
    """Prints the number of tampered bundles verified per class (for docs/reliability)."""
    print(f"tampering examples verified: {sum(COUNTS.values())} {json.dumps(COUNTS)}")
    assert sum(COUNTS.values()) > 0
