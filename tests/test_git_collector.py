"""The git collector against real repositories built here with the git CLI."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from collectors import collector_types
from collectors.git import glob_regex, parse_git_date, parse_pr_number
from forensics.config import parse_config
from forensics.errors import ConfigError, SourceError
from forensics.window import Window
from tests.conftest import SHARED_DATA, require_shared
from tests.contract import Rejects, run_contract
from tests.contract_cases.git import build_repo, git
from tests.helpers import WINDOW


def collect(base: Path, window: Window = WINDOW, **options: Any) -> tuple[pa.Table, Rejects, Any]:
    config = parse_config(
        {"source": [{"name": "changes", "type": "git", "kind": "changes", **options}]},
        base_dir=base,
    )
    collector = collector_types()["git"](config.sources[0], window=window)
    rejects = Rejects()
    with collector:
        collector.open()
        table = pa.Table.from_batches(list(collector.batches(rejects)), schema=collector.schema)
    report = collector.report
    assert report.reported_count == table.num_rows + len(rejects.items) + sum(
        report.skipped.values()
    )
    return table, rejects, report


def by_summary(table: pa.Table) -> dict[str, dict[str, Any]]:
    return {row["summary"]: row for row in table.to_pylist()}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return build_repo(tmp_path / "deploy")


def test_first_parent_commits_merges_tags(repo: Path) -> None:
    table, rejects, report = collect(
        repo.parent,
        repos=[{"path": "deploy", "name": "deploy-repo", "branch": "main"}],
        services={"services/checkout/**": "checkout", "services/cart/**": "cart"},
    )
    assert not rejects.items
    # rev-list: c1, merge, rename, terraform, the commit at 11:00:00 (until is inclusive in
    # git, excluded by the half-open window -> skipped); tags in window: v1.4.0, nightly.
    assert report.reported_count == 7
    assert report.skipped == {"outside_window": 1}
    assert report.query["repos"][0]["commits_reported"] == 5
    assert report.query["repos"][0]["tags_reported"] == 2
    rows = by_summary(table)
    assert set(rows) == {
        "Bump requests",
        "Merge pull request #123 from dev/checkout",
        "Rename cart module (#124)",
        "Resize the cluster",
        "tag v1.4.0: Release 1.4.0",
        "tag nightly",
    }

    bump = rows["Bump requests"]
    assert bump["change.kind"] == "dependency"
    # committer date (when it landed) in UTC; author date kept with its own offset
    assert bump["@timestamp"] == datetime(2026, 11, 20, 9, 10, tzinfo=UTC)
    details = json.loads(bump["details"])
    assert details["author_date"] == "2026-11-19T08:00:00-05:00"
    assert details["committer_date"] == "2026-11-20T18:10:00+09:00"
    assert bump["actor"] == "Alice Dev <alice@example.com>"
    assert details["committer"] == "Bob Merger <bob@example.com>"
    assert details["files"] == [{"path": "requirements.txt", "status": "M"}]
    assert details["body"] == "requests 2.31 -> 2.32\n\nCVE fix."
    assert details["repo"] == "deploy-repo" and details["branch"] == "main"
    assert bump["change.id"] == details["sha"] and len(details["sha"]) == 40

    merge = rows["Merge pull request #123 from dev/checkout"]
    details = json.loads(merge["details"])
    assert details["pr_number"] == 123 and details["merge"] is True
    assert len(details["parents"]) == 2
    # the diff against the first parent: everything the PR brought in
    assert sorted(f["path"] for f in details["files"]) == [
        "services/cart/c.py",
        "services/checkout/a.py",
        "services/checkout/b.py",
    ]
    assert merge["service.name"] == "checkout"
    assert details["other_services"] == ["cart"]
    assert details["services"] == {"checkout": 2, "cart": 1}
    assert merge["@timestamp"] == datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    assert merge["change.kind"] == "other"

    rename = rows["Rename cart module (#124)"]
    details = json.loads(rename["details"])
    assert details["pr_number"] == 124
    assert details["files"] == [
        {"status": "R100", "old_path": "services/cart/c.py", "path": "services/cart/d.py"}
    ]
    assert rename["service.name"] == "cart"

    assert rows["Resize the cluster"]["change.kind"] == "infra"

    release = rows["tag v1.4.0: Release 1.4.0"]
    assert release["change.kind"] == "deploy"
    assert release["change.id"] == "tag:v1.4.0"
    assert release["@timestamp"] == datetime(2026, 11, 20, 10, 30, tzinfo=UTC)
    assert release["actor"] == "Rel Eng <releng@example.com>"
    details = json.loads(release["details"])
    assert details["annotated"] is True and details["release"] is True
    assert details["message"].startswith("Release 1.4.0")
    nightly = rows["tag nightly"]
    assert nightly["change.kind"] == "other"
    assert json.loads(nightly["details"])["annotated"] is False
    assert nightly["@timestamp"] == rows["Resize the cluster"]["@timestamp"]

    refs = table.column("source_ref").to_pylist()
    assert "deploy-repo:tag/v1.4.0" in refs
    assert all(r.startswith("deploy-repo:") for r in refs)
    assert "committer date" in report.notes[0]


def test_all_parents_lists_branch_commits(repo: Path) -> None:
    table, _, report = collect(repo.parent, repos=["deploy"], first_parent=False, tags=False)
    rows = by_summary(table)
    assert "Checkout: new discount rules" in rows  # the PR's own commit
    assert report.reported_count == 6
    assert table.num_rows == 5


def test_default_kind_and_custom_rules(repo: Path) -> None:
    table, _, _ = collect(
        repo.parent,
        repos=[
            {
                "path": "deploy",
                "default_kind": "deploy",
                "service": "platform",
                "kinds": {"services/cart/**": "config"},
            }
        ],
        tags=False,
    )
    rows = by_summary(table)
    assert rows["Rename cart module (#124)"]["change.kind"] == "config"
    assert rows["Rename cart module (#124)"]["service.name"] == "platform"
    # 2 checkout files (no rule -> not counted) and 1 cart file (config): config wins
    assert rows["Merge pull request #123 from dev/checkout"]["change.kind"] == "config"
    assert rows["Bump requests"]["change.kind"] == "dependency"


def test_unusual_file_names_and_messages(tmp_path: Path) -> None:
    repo = tmp_path / "odd"
    git(repo, "init", "-q", "-b", "main", cwd=tmp_path)
    name = "we\tird\nname \x1e.txt"
    (repo / name).write_text("x")
    git(repo, "add", "-A")
    message = "Odd \x1f subject\n\nbody with \x1e and\ttabs\n\ncommit deadbeef\nM\tfake"
    git(repo, "commit", "-q", "-m", message, date="2026-11-20T09:45:00Z")
    table, rejects, _ = collect(tmp_path, repos=["odd"])
    assert not rejects.items
    (row,) = table.to_pylist()
    details = json.loads(row["details"])
    assert details["files"] == [{"status": "A", "path": name}]
    assert row["summary"] == "Odd \x1f subject"
    assert details["body"] == "body with \x1e and\ttabs\n\ncommit deadbeef\nM\tfake"


def test_not_a_repository_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    with pytest.raises(SourceError) as err:
        collect(tmp_path, repos=["plain"])
    message = str(err.value)
    assert "not a git repository" in message and "\n" not in message
    with pytest.raises(SourceError, match="does not exist"):
        collect(tmp_path, repos=["missing"])


def test_missing_branch(repo: Path) -> None:
    with pytest.raises(SourceError, match="branch 'release' not found"):
        collect(repo.parent, repos=[{"path": "deploy", "branch": "release"}])


def test_bad_options(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown key"):
        collect(tmp_path, repos=["x"], reops=1)
    with pytest.raises(ConfigError, match="unknown repos key"):
        collect(tmp_path, repos=[{"path": "x", "brnach": "main"}])
    with pytest.raises(ConfigError, match="not a change kind"):
        collect(tmp_path, repos=["x"], kinds={"**/*.py": "code"})
    with pytest.raises(ConfigError, match="exactly one of"):
        collect(tmp_path, repos=["x"], log_file="log.txt")


def test_log_export_matches_repository(repo: Path, tmp_path: Path) -> None:
    """A ``git log --format=fuller --name-status`` export gives the same commits."""
    from_repo, _, _ = collect(repo.parent, repos=["deploy"], tags=False)
    for date in ("iso-strict", "default", "iso", "rfc"):
        export = subprocess.run(
            [
                "git",
                "-C",
                str(repo),
                "log",
                "--first-parent",
                "--format=fuller",
                f"--date={date}",
                "--name-status",
            ],
            capture_output=True,
            check=True,
        ).stdout
        (tmp_path / f"{date}.txt").write_bytes(export)
        from_log, rejects, report = collect(tmp_path, log_file=f"{date}.txt")
        assert not rejects.items
        assert report.reported_count == 6  # every commit of the export (2 outside the window)
        assert (
            from_log.column("@timestamp").to_pylist() == from_repo.column("@timestamp").to_pylist()
        )
        assert (
            from_log.column("change.kind").to_pylist()
            == from_repo.column("change.kind").to_pylist()
        )
        merge = by_summary(from_log)["Merge pull request #123 from dev/checkout"]
        assert json.loads(merge["details"])["pr_number"] == 123
        assert json.loads(merge["details"])["body"] == "New discount rules"


def test_real_kubernetes_test_infra_export() -> None:
    folder = SHARED_DATA / "postmortems_and_changes"
    export = folder / "k8s-test-infra_git-log-fuller_2019-01-21_to_2019-01-24.txt"
    require_shared(export)
    expected = [
        json.loads(line)
        for line in (folder / "k8s-test-infra_git-first-parent_2019-01-21_to_2019-01-24.jsonl")
        .read_text()
        .splitlines()
    ]
    window = Window(datetime(2019, 1, 21, tzinfo=UTC), datetime(2019, 1, 24, tzinfo=UTC))
    table, rejects, report = collect(folder, window, log_file=export.name)
    assert not rejects.items and report.reported_count == 46 and table.num_rows == 46
    rows = {row["change.id"]: row for row in table.to_pylist()}
    assert set(rows) == {e["sha"] for e in expected}
    for entry in expected:
        row = rows[entry["sha"]]
        details = json.loads(row["details"])
        stamp = row["@timestamp"].isoformat().replace("+00:00", "Z")
        assert stamp == entry["committer_date_utc"]
        assert details["pr_number"] == entry["pr_number"]
        assert sorted(f["path"] for f in details["files"]) == sorted(entry["changed_paths"])
        assert row["summary"] == entry["subject"]
    culprit = rows["bfe165deb44e000876f3ad872d3ea519212fa744"]
    assert json.loads(culprit["details"])["pr_number"] == 10886
    assert culprit["@timestamp"] == datetime(2019, 1, 22, 23, 28, 49, tzinfo=UTC)


def test_helpers() -> None:
    assert glob_regex("services/checkout/**").fullmatch("services/checkout/a/b.py")
    assert not glob_regex("services/checkout/**").fullmatch("services/checkoutx/a.py")
    assert glob_regex("**/requirements*.txt").fullmatch("requirements-dev.txt")
    assert glob_regex("**/requirements*.txt").fullmatch("a/b/requirements.txt")
    assert glob_regex("*.tf").fullmatch("infra/main.tf")
    assert not glob_regex("src/*.py").fullmatch("src/a/b.py")
    assert parse_pr_number("Merge pull request #10886 from x/y") == 10886
    assert parse_pr_number("Fix the thing (#42)") == 42
    assert parse_pr_number("Fix", "See merge request group/proj!7") == 7
    assert parse_pr_number("Fix #42 soon") is None
    moment = datetime(2019, 1, 22, 23, 28, 49, tzinfo=UTC)
    assert parse_git_date("2019-01-22T15:28:49-08:00") == moment
    assert parse_git_date("2019-01-22 15:28:49 -0800") == moment
    assert parse_git_date("Tue Jan 22 15:28:49 2019 -0800") == moment
    assert parse_git_date("Tue, 22 Jan 2019 15:28:49 -0800") == moment


def test_contract_with_lookback_window(repo: Path) -> None:
    """The window the preserve run gives changes sources (lookback before the incident)."""
    from forensics.preserve import source_window
    from tests.contract import ContractCase

    config = parse_config(
        {"source": [{"name": "deploys", "type": "git", "kind": "changes", "repos": ["deploy"]}]},
        base_dir=repo.parent,
    )
    from datetime import timedelta

    wide = source_window("changes", WINDOW, timedelta(hours=24))
    # the initial commit and the old tag (06:00) now fall inside the window
    run_contract(ContractCase(config.sources[0], wide, expected_rows=8))
    assert os.environ.get("GIT_DIR") is None
