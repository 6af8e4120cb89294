"""The ``forensics`` command line: a thin click layer over the library.

Each command parses its options, makes one library call and prints the
result. Every :class:`ForensicsError` becomes one line on stderr and a
non-zero exit; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.table import Table

from forensics.config import load_config
from forensics.errors import ConfigError, ForensicsError
from forensics.ids import validate_bundle_id, validate_incident_id
from forensics.listing import list_bundles
from forensics.preserve import DEFAULT_LOOKBACK, PreserveResult, failure_summary, preserve, resume
from forensics.progress import RichProgress
from forensics.signing import generate_keypair, load_public_key, load_signer
from forensics.stores import DEFAULT_STORE, open_store, split_bundle_uri
from forensics.timeutil import parse_duration, parse_time, utcnow
from forensics.verify import verify_bundle
from forensics.window import Window

S3_ENDPOINT = click.option(
    "--s3-endpoint",
    envvar="AWS_ENDPOINT_URL",
    metavar="URL",
    help="S3-compatible endpoint (default: AWS, or $AWS_ENDPOINT_URL).",
)
JSON = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object instead of text."
)


class ForensicsGroup(click.Group):
    """Turns library errors into one clear line; ``--debug`` keeps the traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command, translating errors."""
        try:
            return super().invoke(ctx)
        except ForensicsError as exc:
            if ctx.params.get("debug"):
                raise
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            click.echo("interrupted: nothing further was sealed", err=True)
            sys.exit(130)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit):
            raise
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            raise click.ClickException(
                f"unexpected {type(exc).__name__}: {exc} (rerun with --debug for details)"
            ) from None


@click.group(cls=ForensicsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(package_name="incident-forensics")
def main(debug: bool) -> None:
    """Preserve incident evidence into sealed, verifiable bundles, and inspect them."""


def _window(since: str | None, until: str | None, window: str | None) -> Window:
    now = utcnow()
    if since and until and window:
        raise ConfigError("give at most two of --since, --until and --window")
    if window:
        length = parse_duration(window)
        if since:
            start = parse_time(since, now=now)
            return Window(start, start + length)
        end = parse_time(until, now=now) if until else now
        return Window(end - length, end)
    if not since:
        raise ConfigError("give the incident window: --window 2h, or --since T [--until T]")
    return Window(parse_time(since, now=now), parse_time(until, now=now) if until else now)


def _console() -> Console:
    """stdout console; piped output gets a wide page instead of 80 columns."""
    probe = Console()
    return probe if probe.is_terminal else Console(width=200)


def _fail(message: str) -> NoReturn:
    raise click.ClickException(message)


def _print_result(result: PreserveResult, *, as_json: bool, allow_partial: bool) -> None:
    """Print a preservation result; fail when sources failed and partial was not allowed."""
    manifest = result.manifest
    if as_json:
        click.echo(
            json.dumps(
                {
                    "bundle_uri": result.bundle_uri,
                    "incident_id": result.incident_id,
                    "bundle_id": result.bundle_id,
                    "digest": manifest.digest,
                    "window": manifest.window,
                    "changes_since": manifest.changes_since,
                    "sources": [
                        {
                            "name": s.name,
                            "type": s.type,
                            "kind": s.kind,
                            "status": s.status,
                            "reported": s.reported_count,
                            "written": s.rows_written,
                            "rejected": s.rows_rejected,
                            "skipped": s.rows_skipped,
                            "reconciled": s.reconciled,
                            "error": s.error,
                        }
                        for s in manifest.sources
                    ],
                    "failed": result.failed,
                },
                indent=2,
            )
        )
    else:
        table = Table(
            title=f"{result.incident_id}: {manifest.window['since']} .. {manifest.window['until']}"
        )
        widest = max(len(s.name) for s in manifest.sources)
        table.add_column("source", min_width=widest, no_wrap=True)
        for column in ("kind", "reported", "written", "rejected", "skipped", "status"):
            table.add_column(column, justify="left" if column in {"kind", "status"} else "right")
        for s in manifest.sources:
            table.add_row(
                s.name,
                s.kind,
                "-" if s.reported_count is None else f"{s.reported_count:,}",
                f"{s.rows_written:,}",
                f"{s.rows_rejected:,}",
                f"{sum(s.rows_skipped.values()):,}",
                ("reconciled" if s.reconciled else "NOT reconciled")
                if s.status == "ok"
                else "FAILED",
            )
        console = _console()
        console.print(table)
        console.print(f"bundle  {result.bundle_uri}", soft_wrap=True, highlight=False)
        console.print(f"digest  {manifest.digest}", highlight=False)
    if result.failed and not allow_partial:
        _fail(
            f"{len(result.failed)} source(s) failed and were sealed as failed in "
            f"{result.bundle_uri}: {failure_summary(result)}"
        )


@main.command("preserve")
@click.option("--incident", required=True, help="Incident id, e.g. INC-42.")
@click.option(
    "--config",
    "config_path",
    default="forensics.toml",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Sources to collect.",
)
@click.option(
    "--store",
    "store_uri",
    default=DEFAULT_STORE,
    show_default=True,
    envvar="FORENSICS_STORE",
    help="Directory or s3://bucket/prefix to keep the bundle in.",
)
@click.option("--since", help="Window start: ISO-8601 with zone, or now-2h.")
@click.option("--until", help="Window end (default now).")
@click.option("--window", help="Window length, e.g. 2h (ends at --until, or now).")
@click.option(
    "--lookback",
    default="24h",
    show_default=True,
    help="How far before the window change-history sources look.",
)
@S3_ENDPOINT
@click.option(
    "--lock-mode",
    type=click.Choice(["COMPLIANCE", "GOVERNANCE"]),
    default="COMPLIANCE",
    show_default=True,
    help="Object Lock mode for S3 objects.",
)
@click.option(
    "--retention-days",
    type=click.IntRange(1),
    default=365,
    show_default=True,
    help="Object Lock retention for S3 objects.",
)
@click.option("--require-lock", is_flag=True, help="Refuse an S3 bucket without Object Lock.")
@click.option(
    "--allow-partial",
    is_flag=True,
    help="Exit 0 even when a source failed (it is still marked failed in the bundle).",
)
@click.option(
    "--staging", type=click.Path(file_okay=False), help="Local folder for files before upload."
)
@click.option(
    "--resume",
    "resume_id",
    metavar="BUNDLE_ID",
    help="Finish storing and sealing an interrupted run, without collecting again.",
)
@click.option(
    "--sign-key",
    metavar="PATH",
    help="Sign the manifest with this Ed25519 private key (see forensics keygen).",
)
@JSON
def preserve_command(
    incident: str,
    config_path: str,
    store_uri: str,
    since: str | None,
    until: str | None,
    window: str | None,
    lookback: str,
    s3_endpoint: str | None,
    lock_mode: str,
    retention_days: int,
    require_lock: bool,
    allow_partial: bool,
    staging: str | None,
    resume_id: str | None,
    sign_key: str | None,
    as_json: bool,
) -> None:
    """Collect every configured source for the incident window into a sealed bundle."""
    validate_incident_id(incident)
    if resume_id:
        validate_bundle_id(resume_id)
    signer = load_signer(sign_key) if sign_key else None  # before collecting anything
    store = open_store(
        store_uri,
        endpoint_url=s3_endpoint,
        lock_mode=lock_mode,
        retention_days=retention_days,
        require_lock=require_lock,
    )
    staging_dir = Path(staging) if staging else None
    if resume_id:
        if since or until or window:
            raise ConfigError("--resume finishes an earlier run: do not give a window with it")
        with RichProgress() as progress:
            result = resume(
                store,
                incident=incident,
                bundle_id=resume_id,
                staging=staging_dir,
                progress=progress,
                signer=signer,
            )
        _print_result(result, as_json=as_json, allow_partial=allow_partial)
        return
    span = _window(since, until, window)
    back: timedelta = parse_duration(lookback) if lookback else DEFAULT_LOOKBACK
    config = load_config(config_path)
    with RichProgress() as progress:
        result = preserve(
            config,
            store,
            incident=incident,
            window=span,
            lookback=back,
            staging=staging_dir,
            progress=progress,
            signer=signer,
        )
    _print_result(result, as_json=as_json, allow_partial=allow_partial)


@main.command("verify")
@click.argument("bundle_uri")
@S3_ENDPOINT
@click.option("--no-record", is_flag=True, help="Do not append a 'verified' custody event.")
@click.option(
    "--public-key",
    metavar="PATH",
    help="Require a valid manifest signature by this Ed25519 public key (PEM).",
)
@JSON
def verify_command(
    bundle_uri: str,
    s3_endpoint: str | None,
    no_record: bool,
    public_key: str | None,
    as_json: bool,
) -> None:
    """Recompute every hash of a bundle; exit 0 only when it is intact."""
    store_uri, incident, bundle_id = split_bundle_uri(bundle_uri)
    trusted = load_public_key(public_key) if public_key else None
    store = open_store(store_uri, endpoint_url=s3_endpoint)
    result = verify_bundle(store, incident, bundle_id, record=not no_record, public_key=trusted)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    elif result.intact:
        click.echo(
            f"intact  {result.bundle_uri}\n"
            f"        {result.files_checked} files, {result.bytes_checked:,} bytes, "
            f"digest {result.digest}"
        )
        if result.signature:
            checked = "valid" if result.signature["checked"] else "not checked"
            click.echo(
                f"        signed {result.signature['algorithm']} by "
                f"{result.signature['key_fingerprint']} ({checked})"
            )
        for item in result.retention:
            click.echo(f"        Object Lock {item['mode']} until {item['until']}  {item['path']}")
    else:
        click.echo(f"NOT INTACT  {result.bundle_uri}")
        for problem in result.problems:
            click.echo(f"  {problem}")
        for item in result.retention:
            click.echo(
                f"  Object Lock {item['mode'] or 'NONE'} until {item['until']}  {item['path']}"
            )
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    if not result.intact:
        sys.exit(1)


@main.command("ls")
@click.argument("store_uri", default=DEFAULT_STORE, envvar="FORENSICS_STORE")
@click.option("--incident", help="Only this incident's bundles.")
@S3_ENDPOINT
@JSON
def ls_command(
    store_uri: str, incident: str | None, s3_endpoint: str | None, as_json: bool
) -> None:
    """List bundles with incident, window, sources, rows, sealed or incomplete."""
    if incident is not None:
        validate_incident_id(incident)
    store = open_store(store_uri, endpoint_url=s3_endpoint)
    bundles = list_bundles(store, incident=incident)
    if as_json:
        click.echo(json.dumps([b.to_dict() for b in bundles], indent=2))
        return
    if not bundles:
        click.echo(f"no bundles in {store.uri}")
        return
    table = Table()
    for column in ("incident", "bundle"):
        table.add_column(column, no_wrap=True)
    for column in ("window", "sources", "rows", "status"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    for b in bundles:
        span = f"{b.window['since']} .. {b.window['until']}" if b.window else "-"
        status = "sealed" if b.sealed else f"incomplete ({b.note})"
        if b.failed_sources:
            status += f", failed: {', '.join(b.failed_sources)}"
        table.add_row(
            b.incident_id,
            b.bundle_id,
            span,
            ", ".join(b.sources),
            "-" if b.rows is None else f"{b.rows:,}",
            status,
        )
    _console().print(table)


@main.command("keygen")
@click.argument("path")
def keygen_command(path: str) -> None:
    """Make an Ed25519 key pair: PATH (private, mode 0600) and PATH.pub (public)."""
    _public, fingerprint = generate_keypair(path)
    click.echo(
        "key pair written: the private key (mode 0600; keep it secret, give it to "
        "preserve --sign-key) and its public key beside it with the suffix .pub "
        f"(give it to verify --public-key)\nfingerprint  {fingerprint}"
    )


@main.command("analyze")
@click.argument("bundle_uri")
@click.option("--baseline", default="2h", show_default=True, help="Baseline before the window.")
@click.option("--baseline-bundle", metavar="URI", help="A bundle of normal operation to compare.")
@click.option("--out", type=click.Path(file_okay=False), help="Folder for analysis.json.")
@S3_ENDPOINT
@JSON
def analyze_command(
    bundle_uri: str,
    baseline: str,
    baseline_bundle: str | None,
    out: str | None,
    s3_endpoint: str | None,
    as_json: bool,
) -> None:
    """First error, suspect changes, metric anomalies and checklist of a sealed bundle."""
    from forensics.analysis import analyze
    from forensics.analysis.summary import render

    result = analyze(
        bundle_uri,
        baseline=baseline,
        baseline_bundle=baseline_bundle,
        out=out,
        s3_endpoint=s3_endpoint,
    )
    if as_json:
        click.echo(json.dumps(result.data, indent=2, ensure_ascii=False))
    else:
        click.echo(render(result.data, path=str(result.path)))


if __name__ == "__main__":  # pragma: no cover
    main()
