"""More artefacts of the sample incident, in the formats responders meet besides JSON logs.

- ``deploy-repo/``: a real git repository whose commits are the deploys, dependency bumps and
  config changes of the change log, committed at the times they landed;
- ``logs/ingress-nginx.access.log``: the edge proxy's combined access log (with request and
  upstream times), where the 502s on ``POST /api/checkout`` show up;
- ``logs/node-syslog.log``: RFC 5424 syslog of the Kubernetes node that runs inventory, with
  the kernel OOM kill of 09:37:44 and routine kubelet lines.

Deterministic: the same seed gives the same bytes and the same commit ids.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

WINDOW_START = datetime(2026, 11, 20, 9, tzinfo=UTC)
WINDOW_END = datetime(2026, 11, 20, 11, tzinfo=UTC)
ERRORS_FROM = datetime(2026, 11, 20, 10, 7, 30, tzinfo=UTC)
ERRORS_UNTIL = datetime(2026, 11, 20, 10, 42, 5, tzinfo=UTC)
OOM_AT = datetime(2026, 11, 20, 9, 37, 44, 216000, tzinfo=UTC)

_PATHS = (
    ("GET", "/", 200),
    ("GET", "/products/{sku}", 200),
    ("GET", "/api/search?q={q}", 200),
    ("GET", "/api/cart", 200),
    ("POST", "/api/cart/items", 201),
    ("POST", "/api/checkout", 200),
    ("GET", "/static/app.{hash}.js", 304),
    ("GET", "/products/{sku}", 404),
)
_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
)


def _nginx_time(moment: datetime) -> str:
    return moment.strftime("%d/%b/%Y:%H:%M:%S +0000")


def access_log(rng: random.Random) -> bytes:
    """Combined log format plus ``request_time`` and ``upstream_response_time``."""
    lines: list[str] = []
    moment = WINDOW_START
    while moment < WINDOW_END:
        moment += timedelta(milliseconds=rng.randint(150, 1400))
        method, path, status = _PATHS[rng.randrange(len(_PATHS))]
        path = path.format(
            sku=f"SKU-{rng.randint(10000, 99999)}",
            q=rng.choice(("boots", "scarf", "lamp")),
            hash=f"{rng.getrandbits(32):08x}",
        )
        upstream = rng.uniform(0.004, 0.25)
        if path == "/api/checkout" and ERRORS_FROM <= moment < ERRORS_UNTIL and rng.random() < 0.35:
            status, upstream = 502, rng.uniform(3.5, 7.5)
        size = 0 if status in (304, 502) else rng.randint(180, 48_000)
        octets = (
            rng.randint(20, 220),
            rng.randint(0, 255),
            rng.randint(0, 255),
            rng.randint(1, 254),
        )
        client = ".".join(map(str, octets))
        lines.append(
            f'{client} - - [{_nginx_time(moment)}] "{method} {path} HTTP/1.1" {status} {size} '
            f'"https://shop.example.com/" "{rng.choice(_AGENTS)}" '
            f"{upstream + 0.001:.3f} {upstream:.3f}"
        )
    return ("\n".join(lines) + "\n").encode()


def node_syslog(rng: random.Random) -> bytes:
    """RFC 5424 lines from the node running inventory."""
    host = "ip-10-0-3-17.eu-west-1.compute.internal"
    lines: list[str] = []
    moment = WINDOW_START
    while moment < WINDOW_END:
        moment += timedelta(seconds=rng.randint(20, 90))
        stamp = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        pid = rng.randint(800, 900)
        lines.append(
            f"<30>1 {stamp} {host} kubelet {pid} - - "
            f'Successfully probed container readiness pod="shop/inventory-{rng.randint(0, 2)}"'
        )
    oom = OOM_AT.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    lines.append(
        f"<3>1 {oom} {host} kernel - - - Out of memory: Killed process 4242 (python3) "
        "total-vm:2841236kB, anon-rss:1978112kB, file-rss:0kB, shmem-rss:0kB, UID:1000 "
        "pgtables:4096kB oom_score_adj:999"
    )
    lines.sort(key=lambda line: line.split(" ", 2)[1])
    return ("\n".join(lines) + "\n").encode()


_DEPLOY_FILES = {
    "deploy": "services/{service}/deployment.yaml",
    "dependency": "services/{service}/requirements.txt",
    "config": "services/{service}/config.yaml",
    "feature_flag": "flags/{service}.yaml",
}


def deploy_repo(path: Path, changes: list[dict[str, Any]]) -> int:
    """A git repository with one commit per deploy, dependency, config or flag change."""
    shutil.rmtree(path, ignore_errors=True)  # a rerun must not stack commits
    path.mkdir(parents=True)
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "release-bot",
        "GIT_AUTHOR_EMAIL": "release-bot@shop.example.com",
        "GIT_COMMITTER_NAME": "release-bot",
        "GIT_COMMITTER_EMAIL": "release-bot@shop.example.com",
    }

    def git(*args: str, when: str | None = None) -> None:
        extra = {"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when} if when else {}
        subprocess.run(
            ["git", "-C", str(path), *args], env={**env, **extra}, check=True, capture_output=True
        )

    git("init", "-q", "-b", "main")
    commits = 0
    for change in sorted(changes, key=lambda c: c["@timestamp"]):
        template = _DEPLOY_FILES.get(change["change.kind"])
        service = change.get("service.name") or "platform"
        if template is None:
            continue
        target = path / template.format(service=service)
        target.parent.mkdir(parents=True, exist_ok=True)
        details = change.get("details", {})
        version = details.get("to_version") or details.get("to") or change["change.id"]
        if change["change.kind"] == "dependency":
            line = f"{details.get('package', 'dependency')}=={version}\n"
        else:
            line = f"# {change['change.id']}\nversion: {version}\n"
        target.write_text(line)
        git("add", "-A")
        when = change["@timestamp"].replace("Z", "+00:00")
        git("commit", "-q", "-m", f"{change['summary']} ({change['change.id']})", when=when)
        commits += 1
    return commits


def write_extras(out: Path, changes: list[dict[str, Any]], seed: int) -> dict[str, int]:
    """Write every extra artefact under ``out``; return line or commit counts."""
    rng = random.Random(seed ^ 0x5EED)
    access = access_log(rng)
    syslog = node_syslog(rng)
    (out / "logs" / "ingress-nginx.access.log").write_bytes(access)
    (out / "logs" / "node-syslog.log").write_bytes(syslog)
    commits = deploy_repo(out / "deploy-repo", changes)
    return {
        "logs/ingress-nginx.access.log": access.count(b"\n"),
        "logs/node-syslog.log": syslog.count(b"\n"),
        "deploy-repo commits": commits,
    }
