"""Incident ids, bundle ids and store keys: hostile values are refused everywhere they enter.

The validators are checked against an independent reference of the documented rules over
arbitrary text (NUL, newlines, ``../``, absolute paths, Unicode look-alikes such as fullwidth
digits or a Cyrillic ``А``, very long values); then the same values go through the CLI
(``preserve``, ``preserve --resume``, ``verify``, ``ls``), the library (``preserve``,
``resume``, ``verify_bundle``) and both stores' key handling: one clear error, no traceback,
nothing created.

Examples per property: ``FORENSICS_ID_EXAMPLES`` (default 150; e.g. 5000 for a long local run).
"""

from __future__ import annotations

import functools
import os
import string
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from forensics.cli import main
from forensics.errors import InvalidIdentifierError
from forensics.ids import (
    new_bundle_id,
    validate_bundle_id,
    validate_incident_id,
    validate_key,
)
from forensics.preserve import preserve, resume
from forensics.stores import LocalStore, S3Store
from forensics.verify import verify_bundle
from tests.helpers import WINDOW, files_config

EXAMPLES = int(os.environ.get("FORENSICS_ID_EXAMPLES", "150"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
GOOD_BUNDLE = "20261120T110512Z-1a2b3c4d"
ASCII_ALNUM = set(string.ascii_letters + string.digits)

#: Characters a hostile id is made of: the allowed ones, separators, controls, look-alikes.
HOSTILE = st.one_of(
    st.sampled_from(sorted(ASCII_ALNUM) + list("._-")),
    st.sampled_from(list("/\\\x00\n\r\t :*?<>|'\"%$~ ")),
    st.sampled_from(list("А０１Ｉ／․‥．\u200b\u202eéß٣")),  # Cyrillic A, fullwidth, dot leaders
    st.characters(),
)
HOSTILE_TEXT = st.one_of(
    st.text(HOSTILE, max_size=80),
    st.builds(lambda s, n: s * n, st.text(HOSTILE, min_size=1, max_size=3), st.integers(20, 400)),
    st.sampled_from(["..", "../etc", "/etc/passwd", "INC-1/../../x", "INC-1\n", "a" * 65, ""]),
)


def incident_ok(value: str) -> bool:
    """The documented rule, written independently of the regex."""
    return (
        1 <= len(value) <= 64
        and value[0] in ASCII_ALNUM
        and all(c in ASCII_ALNUM or c in "._-" for c in value)
        and ".." not in value
    )


def bundle_ok(value: str) -> bool:
    """``YYYYMMDDTHHMMSSZ-`` + 8 lower-case hex digits, ASCII only."""
    return (
        len(value) == 25
        and all(c in string.digits for c in value[:8] + value[9:15])
        and value[8] == "T"
        and value[15:17] == "Z-"
        and all(c in "0123456789abcdef" for c in value[17:])
    )


def _refused(error: InvalidIdentifierError) -> None:
    message = str(error)
    assert "\n" not in message and "\x00" not in message
    assert len(message) < 400


@PROPERTY
@given(HOSTILE_TEXT)
@example("INC-1\n")
@example("ІNC-1")  # Cyrillic І
@example("ＩＮＣ-１")
def test_incident_validator_matches_the_rule(value: str) -> None:
    if incident_ok(value):
        assert validate_incident_id(value) == value
        assert "/" not in value and value not in {".", ".."}
    else:
        with pytest.raises(InvalidIdentifierError) as refused:
            validate_incident_id(value)
        _refused(refused.value)


@PROPERTY
@given(
    st.one_of(
        HOSTILE_TEXT,
        st.from_regex(r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}\n?", fullmatch=True),
        st.from_regex(r"\d{8}T\d{6}Z-[0-9a-f]{8}", fullmatch=True),  # Unicode digits too
    )
)
@example(GOOD_BUNDLE + "\n")
@example("٢٠٢٦١١٢٠T110512Z-1a2b3c4d")
def test_bundle_validator_matches_the_rule(value: str) -> None:
    if bundle_ok(value):
        assert validate_bundle_id(value) == value
    else:
        with pytest.raises(InvalidIdentifierError) as refused:
            validate_bundle_id(value)
        _refused(refused.value)


@given(st.datetimes(timezones=st.just(UTC), min_value=datetime(2000, 1, 1)))  # noqa: DTZ001
def test_new_bundle_ids_validate(moment: datetime) -> None:
    assert validate_bundle_id(new_bundle_id(moment))


@functools.cache
def _s3_store() -> S3Store:
    """An S3 store object (no request is made: only key handling is exercised)."""
    return S3Store("bucket", "prefix", endpoint_url="http://127.0.0.1:9")


_PART = st.text(st.sampled_from(sorted(ASCII_ALNUM) + list("._-")), min_size=1, max_size=12)


@PROPERTY
@given(parts=st.lists(_PART, min_size=1, max_size=5), bad=HOSTILE_TEXT, at=st.integers(0, 5))
def test_store_keys_refuse_traversal_and_control_characters(
    parts: list[str], bad: str, at: int, tmp_path: Path
) -> None:
    good = "/".join(parts)
    if all(p not in {".", ".."} for p in parts):
        assert validate_key(good) == good
    hostile = [*parts]
    hostile.insert(min(at, len(hostile)), bad)
    key = "/".join(hostile)
    segments = key.removesuffix("/").split("/")  # a trailing "/" names a folder prefix
    unsafe = (
        key.startswith("/")
        or any(s in {"", ".", ".."} for s in segments)
        or any(ord(c) < 32 or c in "\x7f\\" for c in key)
        or len(key) > 1024
    )
    if not unsafe:
        return
    local = LocalStore(tmp_path / "evidence")
    s3 = _s3_store()
    for attempt in (validate_key, local.location, local.exists, s3.location):
        with pytest.raises(InvalidIdentifierError) as refused:
            attempt(key)
        _refused(refused.value)
    for absolute in ("/" + good, "/etc/passwd"):
        with pytest.raises(InvalidIdentifierError, match="absolute"):
            local.exists(absolute)
    assert not (tmp_path / "evidence").exists(), "nothing may be created"


def _cli_refuses(args: list[str], where: Path) -> str:
    done = CliRunner().invoke(main, args)
    assert done.exit_code == 1, (args, done.output)
    assert done.exception is None or isinstance(done.exception, SystemExit)
    lines = [line for line in done.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: invalid "), done.output
    assert "Traceback" not in done.output
    assert not where.exists(), "nothing may be created for a refused id"
    return lines[0]


@settings(PROPERTY, max_examples=max(20, EXAMPLES // 3))
@given(value=HOSTILE_TEXT.filter(lambda v: not incident_ok(v)))
def test_cli_refuses_bad_incident_ids_everywhere(value: str, tmp_path: Path) -> None:
    store = tmp_path / "evidence"
    config = tmp_path / "forensics.toml"
    if not config.exists():
        config.write_text('[[source]]\nname = "a"\ntype = "files"\npaths = ["*.log"]\n')
    line = _cli_refuses(
        [
            *("preserve", "--incident", value, "--window", "1h"),
            *("--config", str(config), "--store", str(store)),
        ],
        store,
    )
    assert "invalid incident id" in line
    _cli_refuses(
        ["preserve", "--incident", value, "--resume", GOOD_BUNDLE, "--store", str(store)], store
    )
    _cli_refuses(["ls", str(store), "--incident", value], store)
    if "/" not in value and value:
        _cli_refuses(["verify", f"{store}/{value}/{GOOD_BUNDLE}"], store)


@settings(PROPERTY, max_examples=max(20, EXAMPLES // 3))
@given(value=HOSTILE_TEXT.filter(lambda v: not bundle_ok(v) and "/" not in v and v != ""))
def test_cli_refuses_bad_bundle_ids_everywhere(value: str, tmp_path: Path) -> None:
    store = tmp_path / "evidence"
    line = _cli_refuses(
        ["preserve", "--incident", "INC-1", "--resume", value, "--store", str(store)], store
    )
    assert "invalid bundle id" in line
    _cli_refuses(["verify", f"{store}/INC-1/{value}"], store)


def test_library_entry_points_refuse(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "evidence")
    for bad in ("../x", "/abs", "INC\x00", "INC-1\n", "ＩＮＣ"):
        with pytest.raises(InvalidIdentifierError):
            preserve(files_config(tmp_path), store, incident=bad, window=WINDOW)
        with pytest.raises(InvalidIdentifierError):
            resume(store, incident=bad, bundle_id=GOOD_BUNDLE)
        with pytest.raises(InvalidIdentifierError):
            resume(store, incident="INC-1", bundle_id=bad)
        with pytest.raises(InvalidIdentifierError):
            verify_bundle(store, bad, GOOD_BUNDLE)
        with pytest.raises(InvalidIdentifierError):
            verify_bundle(store, "INC-1", bad)
    assert not (tmp_path / "evidence").exists()
