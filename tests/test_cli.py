"""The command line: documented commands, and one clear line for every kind of bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from forensics.cli import main
from tests.conftest import ROOT, free_port
from tests.helpers import log_records, write_jsonl

WINDOW = ["--since", "2026-11-20T09:00:00Z", "--until", "2026-11-20T11:00:00Z"]


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "forensics.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


def assert_one_line_error(done: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Error: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_every_command_has_help_and_is_documented() -> None:
    readme = (ROOT / "README.md").read_text()
    assert isinstance(main, click.Group)
    for name, command in main.commands.items():
        assert command.help, f"{name} has no help text"
        done = run(name, "--help")
        assert done.returncode == 0 and "Usage:" in done.stdout
        assert f"forensics {name}" in readme, f"README does not document 'forensics {name}'"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_jsonl(tmp_path / "logs" / "a.jsonl", log_records(10))
    return tmp_path


def test_bad_config_gives_one_line(project: Path) -> None:
    (project / "forensics.toml").write_text('[[source]]\nname = "x"\ntype = "nosuch"\n')
    done = run("preserve", "--incident", "INC-1", *WINDOW, cwd=project)
    assert_one_line_error(done, "type 'nosuch'", "known types")

    (project / "forensics.toml").write_text('[[source]]\nname = "x"\ntype = "files"\npaths = [\n')
    assert_one_line_error(
        run("preserve", "--incident", "INC-1", *WINDOW, cwd=project), "not valid TOML"
    )

    (project / "forensics.toml").write_text(
        '[[source]]\nname = "es"\ntype = "elasticsearch"\nindex = "x"\npassword = "hunter2"\n'
    )
    done = run("preserve", "--incident", "INC-1", *WINDOW, cwd=project)
    assert_one_line_error(done, "password_env")
    assert "hunter2" not in done.stderr


def test_missing_config_and_bad_options(project: Path) -> None:
    assert_one_line_error(run("preserve", "--incident", "INC-1", *WINDOW, cwd=project), "not found")
    (project / "forensics.toml").write_text(
        '[[source]]\nname = "a"\ntype = "files"\npaths = ["logs/*"]\n'
    )
    assert_one_line_error(
        run("preserve", "--incident", "../etc", *WINDOW, cwd=project), "invalid incident id"
    )
    assert_one_line_error(
        run("preserve", "--incident", "INC-1", "--since", "2026-11-20 09:00", cwd=project),
        "no time zone",
    )
    assert_one_line_error(run("preserve", "--incident", "INC-1", cwd=project), "--window 2h")
    assert_one_line_error(run("verify", str(project / "nope")), "invalid bundle id")


def test_unreachable_elasticsearch_gives_one_line(project: Path) -> None:
    port = free_port()
    (project / "forensics.toml").write_text(
        f'[[source]]\nname = "es"\ntype = "elasticsearch"\nhosts = ["http://127.0.0.1:{port}"]\n'
        'index = "logs-*"\nmax_retries = 0\nrequest_timeout = 2\n'
    )
    done = run(
        "preserve", "--incident", "INC-1", *WINDOW, "--store", str(project / "ev"), cwd=project
    )
    assert_one_line_error(done, "cannot reach Elasticsearch", f"127.0.0.1:{port}")


def test_missing_bucket_and_lock_required(
    project: Path, s3_endpoint: str, plain_bucket: str
) -> None:
    (project / "forensics.toml").write_text(
        '[[source]]\nname = "a"\ntype = "files"\npaths = ["logs/*"]\n'
    )
    env = {"AWS_ENDPOINT_URL": s3_endpoint}
    done = run(
        "preserve",
        "--incident",
        "INC-1",
        *WINDOW,
        "--store",
        "s3://no-such-bucket-x/p",
        cwd=project,
        env=env,
    )
    assert_one_line_error(done, "bucket 'no-such-bucket-x' does not exist")
    done = run(
        "preserve",
        "--incident",
        "INC-1",
        *WINDOW,
        "--store",
        f"s3://{plain_bucket}/p",
        "--require-lock",
        cwd=project,
        env=env,
    )
    assert_one_line_error(done, "has no Object Lock", "--require-lock")
    assert_one_line_error(run("ls", "s3://no-such-bucket-x", env=env), "does not exist")


def test_debug_shows_traceback(project: Path) -> None:
    done = run("--debug", "preserve", "--incident", "INC-1", *WINDOW, cwd=project)
    assert done.returncode != 0
    assert "Traceback" in done.stderr
