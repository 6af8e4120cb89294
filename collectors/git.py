"""Change history from git: commits, merges and tags of local repositories.

Two modes:

* ``repos``: the ``git`` command line is run on local clones. The branch is
  resolved to one commit in :meth:`GitCollector.open` (a fixed snapshot), the
  commits of the window are counted with ``git rev-list --count`` and then
  listed with ``git log`` in a NUL-separated format (``-z --name-status``), so
  no commit message or file name can break the parsing. Tags come from
  ``git for-each-ref refs/tags`` with their creator (tagger) date.
* ``log_file``: text exported with ``git log --format=fuller --name-status``
  (for when responders get a log export rather than a clone).

``@timestamp`` is the **committer date**: when the commit landed on the
branch (a merge button, a rebase, a cherry-pick), which is what matters when
correlating with an incident; the author date is kept in ``details``.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from email.utils import parsedate_to_datetime
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, Final

import pyarrow as pa

from collectors.base import Collector, RejectSink, SourceReport
from collectors.records import BatchBuilder, RecordError, load_timezone, localize
from forensics.bundle.schema import CHANGE_KINDS
from forensics.config import SourceConfig
from forensics.errors import ConfigError, SourceError
from forensics.timeutil import isoformat
from forensics.window import Window

_OPTIONS: Final = {
    "repos",
    "log_file",
    "branch",
    "first_parent",
    "tags",
    "services",
    "kinds",
    "default_rules",
    "default_kind",
    "release_tags",
    "timezone",
    "git_timeout",
    "batch_rows",
}
_REPO_KEYS: Final = {
    "path",
    "name",
    "branch",
    "first_parent",
    "tags",
    "default_kind",
    "service",
    "kinds",
}

#: Path pattern -> change kind, tried in order after the configured rules.
DEFAULT_KIND_RULES: Final[tuple[tuple[str, str], ...]] = (
    ("**/requirements*.txt", "dependency"),
    ("**/constraints*.txt", "dependency"),
    ("**/package.json", "dependency"),
    ("**/package-lock.json", "dependency"),
    ("**/yarn.lock", "dependency"),
    ("**/pnpm-lock.yaml", "dependency"),
    ("**/go.mod", "dependency"),
    ("**/go.sum", "dependency"),
    ("**/Cargo.toml", "dependency"),
    ("**/Cargo.lock", "dependency"),
    ("**/poetry.lock", "dependency"),
    ("**/Pipfile.lock", "dependency"),
    ("**/uv.lock", "dependency"),
    ("**/Gemfile.lock", "dependency"),
    ("**/composer.lock", "dependency"),
    ("**/pom.xml", "dependency"),
    ("**/build.gradle*", "dependency"),
    ("**/*feature[-_]flag*", "feature_flag"),
    ("**/*featureflag*", "feature_flag"),
    ("**/flags/**", "feature_flag"),
    ("**/*.tf", "infra"),
    ("**/*.tfvars", "infra"),
    ("**/terraform/**", "infra"),
    ("**/helm/**", "infra"),
    ("**/charts/**", "infra"),
    ("**/kustomization.yaml", "infra"),
    ("**/Dockerfile", "infra"),
    ("**/ansible/**", "infra"),
    ("**/cloudformation/**", "infra"),
    ("**/*.pem", "certificate"),
    ("**/*.crt", "certificate"),
    ("**/certs/**", "certificate"),
    ("**/dns/**", "dns"),
    ("**/*.zone", "dns"),
    ("**/config/**", "config"),
    ("**/configs/**", "config"),
    ("**/*.conf", "config"),
    ("**/*.ini", "config"),
    ("**/*.properties", "config"),
)
#: Tags that name a release (and so become ``deploy`` rows).
DEFAULT_RELEASE_TAGS: Final = r"^(?:v?\d+(?:\.\d+)+\S*|(?:release|rel|deploy|prod)[-_/.]\S+)$"

_PR_PATTERNS: Final = (
    re.compile(r"^Merge pull request #(\d+)\b"),
    re.compile(r"\(#(\d+)\)\s*$"),
    re.compile(r"^Merge branch .* into .*\(#(\d+)\)"),
    re.compile(r"See merge request [\w./-]+!(\d+)"),
)
_HEADER_FIELDS: Final = ("%H", "%P", "%an", "%ae", "%aI", "%cn", "%ce", "%cI", "%s", "%b")
_TAG_FIELDS: Final = (
    "%(refname:strip=2)",
    "%(objecttype)",
    "%(objectname)",
    "%(*objecttype)",
    "%(*objectname)",
    "%(creatordate:iso-strict)",
    "%(creator)",
    "%(contents:subject)",
    "%(contents:body)",
)
_CREATOR: Final = re.compile(r"^(.*?)\s*(<[^>]*>)?\s+-?\d+\s+[+-]\d{4}$")
_GIT_ENV: Final = {"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_PAGER": "cat"}


@cache
def glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile a path glob: ``*`` within a folder, ``**`` across folders, ``?`` one char.

    A pattern without ``/`` matches a file name at any depth (like ``.gitignore``).
    """
    text = pattern.strip()
    if "/" not in text.strip("/"):
        text = "**/" + text.strip("/")
    text = text.lstrip("/")
    out: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("**/", i):
            out.append("(?:[^/]*/)*")
            i += 3
        elif text.startswith("**", i):
            out.append(".*")
            i += 2
        elif text[i] == "*":
            out.append("[^/]*")
            i += 1
        elif text[i] == "?":
            out.append("[^/]")
            i += 1
        elif text[i] == "[" and "]" in text[i + 1 :]:
            end = text.index("]", i + 1)
            body = text[i + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(text[i]))
            i += 1
    return re.compile("".join(out))


def parse_pr_number(subject: str, body: str = "") -> int | None:
    """The pull/merge request number of a commit message, if it names one."""
    for pattern in _PR_PATTERNS:
        found = pattern.search(subject) or pattern.search(body)
        if found:
            return int(found.group(1))
    return None


def _rules(value: Any, where: str, key: str) -> list[tuple[str, str]]:
    if value is None:
        return []
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ConfigError(f'{where}: {key} must be a table of "path glob" = "value"')
    return list(value.items())


def _check_kind(kind: Any, where: str, key: str) -> str:
    if kind not in CHANGE_KINDS:
        raise ConfigError(
            f"{where}: {key} {kind!r} is not a change kind; use one of {CHANGE_KINDS}"
        )
    return str(kind)


@dataclass
class ChangedFile:
    """One path of a commit's ``--name-status`` list."""

    status: str
    path: str
    old_path: str | None = None

    def as_json(self) -> dict[str, str]:
        """The file as it is kept in ``details``."""
        out = {"status": self.status, "path": self.path}
        if self.old_path is not None:
            out["old_path"] = self.old_path
        return out


@dataclass
class Commit:
    """One commit as listed by git, before classification."""

    sha: str
    parents: list[str]
    author: str
    author_date: str
    committer: str
    committer_date: str
    landed: datetime
    subject: str
    body: str
    files: list[ChangedFile] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)


@dataclass
class Repo:
    """One configured repository (or log export) and how to read it."""

    name: str
    path: Path
    branch: str | None
    first_parent: bool
    tags: bool
    default_kind: str
    service: str | None
    kind_rules: list[tuple[str, str]]
    head: str = ""


class Classifier:
    """Maps changed paths to a change kind and a service."""

    def __init__(
        self,
        *,
        kind_rules: list[tuple[str, str]],
        services: list[tuple[str, str]],
        release_tags: re.Pattern[str],
    ) -> None:
        self.kind_rules = kind_rules
        self.services = services
        self.release_tags = release_tags

    def kind_of(self, path: str, repo: Repo) -> str | None:
        """The kind of the first rule (repo rules, then source rules) matching ``path``."""
        for pattern, kind in (*repo.kind_rules, *self.kind_rules):
            if glob_regex(pattern).fullmatch(path):
                return kind
        return None

    def service_of(self, path: str) -> str | None:
        """The service of the first ``services`` glob matching ``path``."""
        for pattern, service in self.services:
            if glob_regex(pattern).fullmatch(path):
                return service
        return None

    def classify(self, commit: Commit, repo: Repo) -> tuple[str, str | None, dict[str, Any]]:
        """Return the commit's kind, its main service, and the tallies kept in details."""
        kinds: Counter[str] = Counter()
        services: Counter[str] = Counter()
        order: dict[str, int] = {}
        for changed in commit.files:
            for path in (changed.path, changed.old_path):
                if path is None:
                    continue
                kind = self.kind_of(path, repo)
                if kind:
                    kinds[kind] += 1
                service = self.service_of(path)
                if service:
                    services[service] += 1
                    order.setdefault(service, len(order))
                break
        priority = {k: i for i, k in enumerate(CHANGE_KINDS)}
        kind = min(kinds, key=lambda k: (-kinds[k], priority[k])) if kinds else repo.default_kind
        main = min(services, key=lambda s: (-services[s], order[s])) if services else repo.service
        tallies: dict[str, Any] = {"kinds": dict(kinds)} if kinds else {}
        if services:
            tallies["services"] = dict(services)
            others = sorted(s for s in services if s != main)
            if others:
                tallies["other_services"] = others
        return kind, main, tallies


class GitError(SourceError):
    """A git command failed."""


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "backslashreplace")


def _parse_iso(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise RecordError(f"unrecognised git date {text[:40]!r}") from None
    if moment.tzinfo is None:
        raise RecordError(f"git date {text[:40]!r} has no offset")
    return moment.astimezone(UTC)


_ISO_SPACED: Final = re.compile(r"^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)\s*(Z|[+-]\d\d:?\d\d)?$")


def parse_git_date(text: str, default_tz: tzinfo | None = None) -> datetime:
    """Parse the dates ``git log`` prints (iso, iso-strict, default, rfc, local) into UTC."""
    value = text.strip()
    found = _ISO_SPACED.match(value)
    moment: datetime | None = None
    if found:
        day, clock, zone = found.groups()
        if zone and zone != "Z" and ":" not in zone:
            zone = zone[:3] + ":" + zone[3:]
        try:
            moment = datetime.fromisoformat(f"{day}T{clock}{zone or ''}")
        except ValueError:
            raise RecordError(f"invalid git date {value[:40]!r}") from None
    else:
        for form in ("%a %b %d %H:%M:%S %Y %z", "%a %b %d %H:%M:%S %Y"):
            with contextlib.suppress(ValueError):
                moment = datetime.strptime(value, form)  # noqa: DTZ007 - zone checked below
                break
        if moment is None:
            with contextlib.suppress(TypeError, ValueError, IndexError):
                moment = parsedate_to_datetime(value)
    if moment is None:
        raise RecordError(f"unrecognised git date {value[:40]!r}")
    if moment.tzinfo is None:
        if default_tz is None:
            raise RecordError(
                f'git date {value[:40]!r} has no offset; set timezone = "<IANA name>"'
            )
        moment = localize(moment, default_tz)
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise RecordError(f"git date {value[:40]!r} is out of range") from None


# -- log export parsing (git log --format=fuller --name-status) -----------------------------

_COMMIT_LINE: Final = re.compile(
    r"^commit ([0-9a-f]{7,64})(?: \(from [0-9a-f]+\))?(?: \((.*)\))?\s*$"
)
_PERSON: Final = re.compile(r"^(Author|Commit|AuthorDate|CommitDate|Date|Merge):\s*(.*)$")
_STATUS: Final = re.compile(r"^([ACDMRTUXB])(\d{0,3})\t([^\t]*)(?:\t(.*))?$")


def parse_log_block(lines: list[str], default_tz: tzinfo | None) -> Commit:
    """Parse one ``commit ...`` block of ``git log --format=fuller|medium --name-status``."""
    head = _COMMIT_LINE.match(lines[0])
    if not head:
        raise RecordError("block does not start with a commit line")
    headers: dict[str, str] = {}
    index = 1
    while index < len(lines) and lines[index].strip():
        found = _PERSON.match(lines[index])
        if not found:
            raise RecordError(f"unexpected header line {lines[index][:60]!r}")
        headers[found.group(1)] = found.group(2).strip()
        index += 1
    message: list[str] = []
    files: list[ChangedFile] = []
    for line in lines[index:]:
        if line.startswith("    ") or (line == "" and not files):
            message.append(line[4:])
            continue
        if not line.strip():
            continue
        status = _STATUS.match(line)
        if status:
            letter, _score, first, second = status.groups()
            if second is not None:
                files.append(ChangedFile(status.group(1) + status.group(2), second, first))
            else:
                files.append(ChangedFile(letter + status.group(2), first))
        elif "\t" not in line:
            files.append(ChangedFile("", line))  # --name-only
        else:
            raise RecordError(f"unexpected line {line[:60]!r}")
    while message and not message[0].strip():
        message.pop(0)
    while message and not message[-1].strip():
        message.pop()
    paragraphs = "\n".join(message).split("\n\n", 1)
    subject = " ".join(part.strip() for part in paragraphs[0].splitlines())
    body = paragraphs[1].strip("\n") if len(paragraphs) > 1 else ""
    if "Author" not in headers:
        raise RecordError("commit block has no Author line")
    landed_text = headers.get("CommitDate") or headers.get("Date")
    if not landed_text:
        raise RecordError("commit block has no CommitDate (or Date) line")
    landed = parse_git_date(landed_text, default_tz)
    author_text = headers.get("AuthorDate") or headers.get("Date", "")
    return Commit(
        sha=head.group(1),
        parents=headers.get("Merge", "").split(),
        author=headers["Author"],
        author_date=author_text,
        committer=headers.get("Commit", ""),
        committer_date=landed_text,
        landed=landed,
        subject=subject,
        body=body,
        files=files,
        refs=[r.strip() for r in head.group(2).split(",")] if head.group(2) else [],
    )


def split_log_blocks(lines: Iterator[str]) -> Iterator[tuple[int, list[str]]]:
    """Group the lines of a log export into ``(first line number, lines)`` per commit."""
    block: list[str] = []
    start = 1
    for number, line in enumerate(lines, start=1):
        text = line.rstrip("\r\n")
        if text.startswith("commit ") and _COMMIT_LINE.match(text):
            if block and any(b.strip() for b in block):
                yield start, block
            block, start = [text], number
        else:
            if not block:
                start = number
            block.append(text)
    if block and any(b.strip() for b in block):
        yield start, block


# -- the collector ----------------------------------------------------------------------------


class GitCollector(Collector):
    """Commits, merges and tags of local git repositories (or a ``git log`` export)."""

    type: ClassVar[str] = "git"
    kinds: ClassVar[tuple[str, ...]] = ("changes",)
    default_kind: ClassVar[str] = "changes"

    def __init__(self, config: SourceConfig, *, window: Window) -> None:
        super().__init__(config, window=window)
        where = config.where()
        self.check_options(set(_OPTIONS))
        repos = self.option("repos")
        log_file = self.option("log_file")
        if (repos is None) == (log_file is None):
            raise ConfigError(f"{where}: set exactly one of repos (clones) or log_file (exports)")
        self.first_parent_default = bool(self.option("first_parent", True))
        self.tags_default = bool(self.option("tags", True))
        self.default_kind_value = _check_kind(
            self.option("default_kind", "other"), where, "default_kind"
        )
        self.branch_default: str | None = self.option("branch")
        rules = _rules(self.option("kinds"), where, "kinds")
        for _, kind in rules:
            _check_kind(kind, where, "kinds value")
        if self.option("default_rules", True):
            rules += list(DEFAULT_KIND_RULES)
        release = self.option("release_tags", DEFAULT_RELEASE_TAGS)
        try:
            release_pattern = re.compile(str(release))
        except re.error as exc:
            raise ConfigError(f"{where}: release_tags is not a valid regex: {exc}") from None
        self.classifier = Classifier(
            kind_rules=rules,
            services=_rules(self.option("services"), where, "services"),
            release_tags=release_pattern,
        )
        self.timezone_name: str | None = self.option("timezone")
        self.default_tz = load_timezone(self.timezone_name, where)
        self.git_timeout = float(self.option("git_timeout", 300))
        self.batch_rows = int(self.option("batch_rows", 8192))
        self.repos: list[Repo] = []
        self.log_patterns: list[str] = []
        if repos is not None:
            if isinstance(repos, str | dict):
                repos = [repos]
            if not isinstance(repos, list) or not repos:
                raise ConfigError(f"{where}: repos must be a list of paths or tables")
            self.repos = [self._repo(entry) for entry in repos]
            names = [r.name for r in self.repos]
            if len(set(names)) != len(names):
                raise ConfigError(f"{where}: two repos have the same name; set name = ...")
        else:
            patterns = [log_file] if isinstance(log_file, str) else log_file
            if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
                raise ConfigError(f"{where}: log_file must be a path or a list of paths")
            self.log_patterns = patterns
        self.log_files: list[Path] = []
        self.git = "git"
        #: git >= 2.37 filters by date without stopping the walk at the first old commit.
        self.since_as_filter = True

    def _repo(self, entry: Any) -> Repo:
        where = self.config.where()
        if isinstance(entry, str):
            entry = {"path": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise ConfigError(f"{where}: each repos entry needs a path")
        unknown = set(entry) - _REPO_KEYS
        if unknown:
            raise ConfigError(
                f"{where}: unknown repos key(s) {sorted(unknown)}; "
                f"known: {', '.join(sorted(_REPO_KEYS))}"
            )
        path = Path(entry["path"])
        path = path if path.is_absolute() else self.config.base_dir / path
        rules = _rules(entry.get("kinds"), where, "repos.kinds")
        for _, kind in rules:
            _check_kind(kind, where, "repos.kinds value")
        return Repo(
            name=str(entry.get("name") or path.resolve().name),
            path=path,
            branch=entry.get("branch", self.branch_default),
            first_parent=bool(entry.get("first_parent", self.first_parent_default)),
            tags=bool(entry.get("tags", self.tags_default)),
            default_kind=_check_kind(
                entry.get("default_kind", self.default_kind_value), where, "repos.default_kind"
            ),
            service=entry.get("service"),
            kind_rules=rules,
        )

    # -- git plumbing ---------------------------------------------------------------------

    def _run(self, repo: Repo | None, args: list[str]) -> str:
        where = ["-C", str(repo.path)] if repo else []
        try:
            done = subprocess.run(
                [self.git, *where, *args],
                capture_output=True,
                timeout=self.git_timeout,
                env=_git_env(repo),
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise GitError(
                f"{self.config.where()}: git {args[0]} took over "
                f"{self.git_timeout:.0f}s; raise git_timeout"
            ) from None
        if done.returncode != 0:
            raise GitError(self._git_failure(repo, args[0], done.stderr))
        return _decode(done.stdout)

    def _git_failure(self, repo: Repo | None, what: str, stderr: bytes) -> str:
        where = self.config.where()
        message = _decode(stderr).strip()
        first = next((line for line in message.splitlines() if line.strip()), "no message")
        if repo is None:
            return f"{where}: git {what} failed: {first[:300]}"
        if "dubious ownership" in message:
            return (
                f"{where}: git refuses {repo.path} (owned by another user); run "
                f"git config --global --add safe.directory {repo.path}"
            )
        if "not a git repository" in message.lower():
            return (
                f"{where}: {repo.path} is not a git repository; point repos at a clone "
                "(or use log_file for a git log export)"
            )
        return f"{where}: git {what} failed on {repo.name}: {first[:300]}"

    def _revision_args(self, repo: Repo) -> list[str]:
        since = self.window.since.astimezone(UTC).replace(microsecond=0)
        until = self.window.until.astimezone(UTC).replace(microsecond=0)
        since_flag = "--since-as-filter" if self.since_as_filter else "--since"
        args = [
            f"{since_flag}={since.isoformat()}",
            f"--until={until.isoformat()}",
        ]
        if repo.first_parent:
            args.append("--first-parent")
        return [*args, repo.head]

    def _open_repo(self, repo: Repo) -> dict[str, Any]:
        where = self.config.where()
        if not repo.path.exists():
            raise SourceError(f"{where}: repository path {repo.path} does not exist")
        top = self._run(repo, ["rev-parse", "--git-dir"]).strip()
        if not top:
            raise SourceError(f"{where}: {repo.path} is not a git repository")
        ref = repo.branch or "HEAD"
        try:
            repo.head = self._run(
                repo, ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"]
            ).strip()
        except GitError:
            raise SourceError(
                f"{where}: branch {ref!r} not found in {repo.name} ({repo.path}); "
                "set branch = to an existing branch (fetch it first)"
            ) from None
        count = int(self._run(repo, ["rev-list", "--count", *self._revision_args(repo)]).strip())
        tags = self._tags(repo) if repo.tags else []
        return {
            "name": repo.name,
            "path": str(repo.path),
            "branch": repo.branch or "HEAD",
            "head": repo.head,
            "first_parent": repo.first_parent,
            "rev_list": ["rev-list", *self._revision_args(repo)],
            "commits_reported": count,
            "tags": repo.tags,
            "tags_reported": len(tags),
        }

    def open(self) -> SourceReport:
        """Check every repository, fix each branch to a commit and count the window."""
        window = {"since": isoformat(self.window.since), "until": isoformat(self.window.until)}
        if self.log_patterns:
            return self._open_logs(window)
        if shutil.which(self.git) is None:
            raise SourceError(
                f"{self.config.where()}: the git command is not installed; "
                "install git (apt-get install git) and retry"
            )
        version = self._run(None, ["--version"]).strip()
        found = re.search(r"(\d+)\.(\d+)", version)
        self.since_as_filter = not found or (int(found[1]), int(found[2])) >= (2, 37)
        repos = []
        total = 0
        for repo in self.repos:
            described = self._open_repo(repo)
            total += described["commits_reported"] + described["tags_reported"]
            repos.append(described)
        self.report = SourceReport(
            query={
                "mode": "repository",
                "git": version,
                "window": window,
                "timestamp": "committer date",
                "repos": repos,
            },
            reported_count=total,
            counted_by="source",
        )
        self.report.notes.append(
            "@timestamp is the committer date (when the commit landed); author dates are in details"
        )
        if not self.since_as_filter:
            self.report.notes.append(
                f"{version} has no --since-as-filter (git 2.37+): commits listed after an "
                "older commit (clock skew) may be missed"
            )
        return self.report

    def _open_logs(self, window: dict[str, str]) -> SourceReport:
        for pattern in self.log_patterns:
            full = Path(pattern) if Path(pattern).is_absolute() else self.config.base_dir / pattern
            matched = sorted(Path(p) for p in glob.glob(str(full), recursive=True))  # noqa: PTH207
            matched = [p for p in matched if p.is_file()]
            if not matched:
                raise SourceError(
                    f"{self.config.where()}: no git log export matches {pattern!r} "
                    f"(relative to {self.config.base_dir})"
                )
            self.log_files += [p for p in matched if p not in self.log_files]
        self.report = SourceReport(
            query={
                "mode": "log_file",
                "log_file": self.log_patterns,
                "window": window,
                "timestamp": "committer date",
                "timezone_for_dates_without_offset": self.timezone_name,
                "files": [],
            },
            reported_count=0,
            counted_by="reader",
        )
        self.report.notes.append(
            "@timestamp is the committer date (when the commit landed); author dates are in details"
        )
        if self.timezone_name:
            self.report.notes.append(f"dates without an offset were read as {self.timezone_name}")
        return self.report

    # -- reading --------------------------------------------------------------------------

    def batches(self, rejects: RejectSink) -> Iterator[pa.RecordBatch]:
        """List the commits and tags of the window as ``changes`` rows."""
        builder = BatchBuilder(self.schema, batch_rows=self.batch_rows)
        if self.log_patterns:
            for path in self.log_files:
                yield from self._read_log_file(path, builder, rejects)
        for repo in self.repos:
            yield from self._read_commits(repo, builder, rejects)
            if repo.tags:
                yield from self._read_tags(repo, builder, rejects)
        yield from builder.drain()

    def _add(
        self, builder: BatchBuilder, moment: datetime, values: list[Any]
    ) -> Iterator[pa.RecordBatch]:
        if moment not in self.window:
            self.report.skip("outside_window")
            return
        batch = builder.add(values)
        if batch is not None:
            yield batch

    def _commit_values(self, commit: Commit, repo: Repo, ref: str, raw: str) -> list[Any]:
        kind, service, tallies = self.classifier.classify(commit, repo)
        details: dict[str, Any] = {
            "sha": commit.sha,
            "parents": commit.parents,
            "merge": len(commit.parents) > 1,
            "author_date": commit.author_date,
            "committer": commit.committer,
            "committer_date": commit.committer_date,
            "body": commit.body,
            "files": [f.as_json() for f in commit.files],
            "repo": repo.name,
            "branch": repo.branch or "HEAD",
            "first_parent": repo.first_parent,
            "pr_number": parse_pr_number(commit.subject, commit.body),
            **tallies,
        }
        if commit.refs:
            details["refs"] = commit.refs
        return [
            commit.landed,
            kind,
            commit.sha,
            service,
            commit.author,
            commit.subject,
            json.dumps(details, sort_keys=True, ensure_ascii=False),
            self.name,
            ref,
            raw,
        ]

    def _read_commits(
        self, repo: Repo, builder: BatchBuilder, rejects: RejectSink
    ) -> Iterator[pa.RecordBatch]:
        marker = "\x1eforensics-" + secrets.token_hex(8)
        fmt = "%x00".join([marker.replace("\x1e", "%x1e"), *_HEADER_FIELDS])
        args = [
            self.git,
            "-C",
            str(repo.path),
            "-c",
            "log.showSignature=false",
            "log",
            "--no-color",
            "--no-decorate",
            "--no-ext-diff",
            "--no-textconv",
            "--diff-merges=first-parent",
            "-M",
            "--name-status",
            "-z",
            f"--format={fmt}",
            *self._revision_args(repo),
        ]
        with (
            tempfile.TemporaryFile() as errors,
            subprocess.Popen(
                args, stdout=subprocess.PIPE, stderr=errors, env=_git_env(repo)
            ) as process,
        ):
            assert process.stdout is not None
            for tokens in _records(process.stdout, marker.encode()):
                ref = f"{repo.name}:commit/{_decode(tokens[0])[:40] if tokens else '?'}"
                raw = _decode(b"\0".join(tokens))
                try:
                    commit = _commit_from_tokens(tokens)
                except RecordError as exc:
                    rejects.reject(ref, str(exc), b"\0".join(tokens))
                    continue
                ref = f"{repo.name}:commit/{commit.sha}"
                values = self._commit_values(commit, repo, ref, raw)
                yield from self._add(builder, commit.landed, values)
            code = process.wait()
            errors.seek(0)
            stderr = errors.read(64 * 1024)
        if code != 0:
            raise GitError(self._git_failure(repo, "log", stderr))

    def _tags(self, repo: Repo) -> list[list[str]]:
        fmt = "%1e" + "%00".join(_TAG_FIELDS)
        out = self._run(
            repo, ["for-each-ref", f"--format={fmt}", "--sort=creatordate", "refs/tags"]
        )
        listed = []
        for record in out.split("\x1e")[1:]:
            fields = record.removesuffix("\n").split("\0")
            if len(fields) != len(_TAG_FIELDS):
                listed.append(fields)  # kept, rejected when read
                continue
            try:
                moment = _parse_iso(fields[5])
            except RecordError:
                listed.append(fields)
                continue
            if moment in self.window:
                listed.append(fields)
        return listed

    def _read_tags(
        self, repo: Repo, builder: BatchBuilder, rejects: RejectSink
    ) -> Iterator[pa.RecordBatch]:
        for fields in self._tags(repo):
            raw = "\0".join(fields)
            ref = f"{repo.name}:tag/{fields[0]}"
            if len(fields) != len(_TAG_FIELDS):
                rejects.reject(ref, "tag record has an unexpected shape", raw.encode())
                continue
            name, otype, oid, target_type, target, date, creator, subject, body = fields
            try:
                moment = _parse_iso(date)
            except RecordError as exc:
                rejects.reject(ref, f"tag date: {exc}", raw.encode())
                continue
            person = _CREATOR.match(creator)
            actor = (" ".join(p for p in person.groups() if p) if person else creator) or None
            annotated = otype == "tag"
            release = bool(self.classifier.release_tags.search(name))
            details = {
                "tag": name,
                "annotated": annotated,
                "tag_object": oid if annotated else None,
                "target": target if annotated else oid,
                "target_type": target_type if annotated else otype,
                "tag_date": date,
                "message": (subject + ("\n\n" + body.strip("\n") if body.strip() else ""))
                if annotated
                else None,
                "release": release,
                "repo": repo.name,
            }
            values = [
                moment,
                "deploy" if release else "other",
                f"tag:{name}",
                repo.service,
                actor,
                f"tag {name}" + (f": {subject}" if annotated and subject else ""),
                json.dumps(details, sort_keys=True, ensure_ascii=False),
                self.name,
                ref,
                raw,
            ]
            yield from self._add(builder, moment, values)

    def _read_log_file(
        self, path: Path, builder: BatchBuilder, rejects: RejectSink
    ) -> Iterator[pa.RecordBatch]:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SourceError(
                f"{self.config.where()}: cannot read {path}: {exc.strerror}"
            ) from None
        shown = _display(path, self.config.base_dir)
        self.report.query["files"].append(
            {"path": shown, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        )
        repo = Repo(
            name=path.stem,
            path=path,
            branch=None,
            first_parent=True,
            tags=False,
            default_kind=self.default_kind_value,
            service=None,
            kind_rules=[],
        )
        # Lines end at \n, \r\n or a lone \r; a rejected block keeps its exact bytes.
        byte_lines = data.splitlines(keepends=True)
        for start, block in split_log_blocks(iter([_decode(line) for line in byte_lines])):
            self.report.reported_count = (self.report.reported_count or 0) + 1
            ref = f"{shown}:{start}"
            raw = "\n".join(block)
            try:
                commit = parse_log_block(block, self.default_tz)
            except RecordError as exc:
                exact = b"".join(byte_lines[start - 1 : start - 1 + len(block)])
                rejects.reject(ref, str(exc), exact)
                continue
            values = self._commit_values(commit, repo, ref, raw)
            details = json.loads(values[6])
            details["repo"] = None
            details["branch"] = None
            details["first_parent"] = None
            details["log_file"] = shown
            values[6] = json.dumps(details, sort_keys=True, ensure_ascii=False)
            yield from self._add(builder, commit.landed, values)


def _display(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def _git_env(repo: Repo | None = None) -> dict[str, str]:
    """The environment of git: no inherited GIT_* variables, no search above the repository."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(_GIT_ENV)
    if repo is not None:
        env["GIT_CEILING_DIRECTORIES"] = str(repo.path.resolve().parent)
    return env


def _records(stream: Any, marker: bytes) -> Iterator[list[bytes]]:
    """Split ``git log -z`` output into the NUL-separated tokens of each commit."""
    current: list[bytes] | None = None
    pending = b""
    while True:
        chunk = stream.read(1 << 20)
        if not chunk:
            break
        parts = (pending + chunk).split(b"\0")
        pending = parts.pop()
        for token in parts:
            if token == marker:
                if current is not None:
                    yield current
                current = []
            elif current is not None:
                current.append(token)
    if pending:
        if pending == marker:
            if current is not None:
                yield current
            current = []
        elif current is not None:
            current.append(pending)
    if current is not None:
        yield current


def _commit_from_tokens(tokens: list[bytes]) -> Commit:
    count = len(_HEADER_FIELDS)
    if len(tokens) < count:
        raise RecordError(f"git log record has {len(tokens)} fields, expected {count}")
    head = [_decode(t) for t in tokens[:count]]
    sha, parents, an, ae, adate, cn, ce, cdate, subject, body = head
    rest = [_decode(t).lstrip("\n") for t in tokens[count:]]
    rest = [t for t in rest if t]
    files: list[ChangedFile] = []
    index = 0
    while index < len(rest):
        status = rest[index]
        if status[:1] in {"R", "C"}:
            if index + 2 >= len(rest):
                raise RecordError(f"rename entry {status!r} without two paths")
            files.append(ChangedFile(status, rest[index + 2], rest[index + 1]))
            index += 3
        else:
            if index + 1 >= len(rest):
                raise RecordError(f"status {status!r} without a path")
            files.append(ChangedFile(status, rest[index + 1]))
            index += 2
    return Commit(
        sha=sha,
        parents=parents.split(),
        author=f"{an} <{ae}>",
        author_date=adate,
        committer=f"{cn} <{ce}>",
        committer_date=cdate,
        landed=_parse_iso(cdate),
        subject=subject,
        body=body.rstrip("\n"),
        files=files,
    )
