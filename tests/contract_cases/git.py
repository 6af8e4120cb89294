"""Contract cases for the git collector, on real repositories built with the git CLI."""

from __future__ import annotations

import os
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from forensics.config import parse_config
from tests.contract import ContractCase, contract_case
from tests.helpers import WINDOW

ALICE = ("Alice Dev", "alice@example.com")
BOB = ("Bob Merger", "bob@example.com")


def git(
    repo: Path,
    *args: str,
    date: str | None = None,
    author_date: str | None = None,
    author: tuple[str, str] = ALICE,
    committer: tuple[str, str] = BOB,
    cwd: Path | None = None,
) -> str:
    """Run git in ``repo`` with controlled identities and dates (no global config used)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        {
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": author[0],
            "GIT_AUTHOR_EMAIL": author[1],
            "GIT_COMMITTER_NAME": committer[0],
            "GIT_COMMITTER_EMAIL": committer[1],
        }
    )
    if date:
        env["GIT_COMMITTER_DATE"] = date
        env["GIT_AUTHOR_DATE"] = author_date or date
    if cwd is not None:
        command = ["git", *args, str(repo)] if args[0] == "init" else ["git", *args]
    else:
        command = ["git", "-C", str(repo), *args]
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _write(repo: Path, path: str, text: str) -> None:
    target = repo / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def build_repo(repo: Path) -> Path:
    """A deploy repository around the shared test window (09:00-11:00 UTC, 2026-11-20).

    First-parent history of ``main``: initial (06:00Z), requirements bump (09:10Z, authored
    the day before in -05:00), merge of PR #123 (09:30Z; its branch commit at 09:20Z touches
    two services), a rename (10:00Z), a terraform change (10:59:59Z), one at 11:00:00Z
    (outside the half-open window). Tags: v1.0.0 (06:00Z), v1.4.0 annotated (10:30Z),
    nightly lightweight on the terraform commit.
    """
    repo.parent.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q", "-b", "main", cwd=repo.parent)
    _write(repo, "README.md", "deploy\n")
    _write(repo, "requirements.txt", "requests==2.31\n")
    _write(repo, "services/cart/c.py", "cart = 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Initial", date="2026-11-20T06:00:00Z")
    git(
        repo,
        "tag",
        "-a",
        "v1.0.0",
        "-m",
        "Release 1.0.0",
        date="2026-11-20T06:00:00Z",
        committer=("Rel Eng", "releng@example.com"),
    )
    _write(repo, "requirements.txt", "requests==2.32\n")
    git(
        repo,
        "commit",
        "-qam",
        "Bump requests\n\nrequests 2.31 -> 2.32\n\nCVE fix.",
        date="2026-11-20T18:10:00+09:00",
        author_date="2026-11-19T08:00:00-05:00",
    )
    git(repo, "checkout", "-q", "-b", "checkout-rules")
    _write(repo, "services/checkout/a.py", "a = 1\n")
    _write(repo, "services/checkout/b.py", "b = 1\n")
    _write(repo, "services/cart/c.py", "cart = 2\n")
    git(repo, "add", "-A")
    git(
        repo, "commit", "-q", "-m", "Checkout: new discount rules", date="2026-11-20T10:20:00+01:00"
    )
    git(repo, "checkout", "-q", "main")
    git(
        repo,
        "merge",
        "-q",
        "--no-ff",
        "checkout-rules",
        "-m",
        "Merge pull request #123 from dev/checkout\n\nNew discount rules",
        date="2026-11-20T04:30:00-05:00",
    )
    git(repo, "mv", "services/cart/c.py", "services/cart/d.py")
    git(repo, "commit", "-q", "-m", "Rename cart module (#124)", date="2026-11-20T10:00:00Z")
    _write(repo, "infra/terraform/main.tf", 'resource "x" "y" {}\n')
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Resize the cluster", date="2026-11-20T10:59:59Z")
    git(repo, "tag", "nightly")
    git(
        repo,
        "tag",
        "-a",
        "v1.4.0",
        "-m",
        "Release 1.4.0\n\nNew discounts.",
        date="2026-11-20T10:30:00Z",
        committer=("Rel Eng", "releng@example.com"),
    )
    _write(repo, "README.md", "deploy 2\n")
    git(repo, "commit", "-qam", "At the end of the window", date="2026-11-20T11:00:00Z")
    return repo


@contract_case("git-repository")
def git_repository(request: pytest.FixtureRequest, base: Path) -> ContractCase:
    build_repo(base / "deploy")
    config = parse_config(
        {
            "source": [
                {
                    "name": "deploy-history",
                    "type": "git",
                    "kind": "changes",
                    "repos": [{"path": "deploy", "name": "deploy", "branch": "main"}],
                    "services": {"services/checkout/**": "checkout"},
                }
            ]
        },
        base_dir=base,
    )
    return ContractCase(config.sources[0], WINDOW, expected_rows=6)


@contract_case("git-log-file")
def git_log_file(request: pytest.FixtureRequest, base: Path) -> ContractCase:
    repo = build_repo(base / "deploy")
    export = subprocess.run(
        ["git", "-C", str(repo), "log", "--format=fuller", "--name-status", "--all"],
        capture_output=True,
        check=True,
    ).stdout
    (base / "export.txt").write_bytes(b"garbage before the first commit\n" + export)
    config = parse_config(
        {"source": [{"name": "log", "type": "git", "log_file": "export.txt"}]}, base_dir=base
    )
    wide = WINDOW.__class__(WINDOW.since - timedelta(hours=1), WINDOW.until)
    # --all: every commit (branch commit included) in the window: 5; the leading text: 1 reject
    return ContractCase(config.sources[0], wide, expected_rows=5, expected_rejects=1)
