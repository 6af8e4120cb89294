"""A readable plain-text summary of an analysis (what ``forensics analyze`` prints)."""

from __future__ import annotations

from typing import Any


def render(data: dict[str, Any], *, path: str | None = None, top: int = 5) -> str:
    """The analysis as a few short sections of text."""
    bundle = data["bundle"]
    lines = [
        f"bundle   {bundle['uri']}",
        f"digest   {bundle['digest']}",
        f"baseline {data['periods']['mode']}"
        + (f" ({data['baseline_bundle']['uri']})" if data.get("baseline_bundle") else ""),
        "",
    ]
    first = data.get("first_error")
    if first:
        lines += [
            f"first error  {first['timestamp']}  {first['service']}  ({first['reason']} signature)",
            f"  {first['message'][:200]}",
            f"  at {first['source_ref']}  signature {first['signature']}",
        ]
    else:
        lines.append("first error  none: no error signature is new or jumped against the baseline")
    lines.append("")
    suspects = data.get("suspects", [])
    lines.append(f"suspects ({len(suspects)} changes before the onset)")
    for s in suspects[:top]:
        lines.append(
            f"  {s['rank']}. {s['score']:.2f}  {s['timestamp']}  {s['kind']:<12} "
            f"{s['change_id']}  {s['explanation']}"
        )
    mitigations = data.get("mitigations", [])
    if mitigations:
        lines.append("mitigations after the onset")
        for m in mitigations:
            lines.append(
                f"  {m['timestamp']}  {m['reason']:<10} {m['change_id']}  {m['summary'] or ''}"
            )
    lines.append("")
    anomalies = data.get("metric_anomalies", [])
    lines.append(f"metric anomalies ({len(anomalies)})")
    for a in anomalies[:top]:
        lines.append(
            f"  {a['onset']}  {a['metric']} {a['service'] or ''} {a['direction']} "
            f"(z {a['peak_z']:+.1f} at peak)"
        )
    new = [s for s in data.get("signatures", []) if s["status"] != "steady"]
    lines.append("")
    lines.append(f"incident signatures ({len(new)} new or jumped of {data['signatures_total']})")
    for s in new[:top]:
        lines.append(
            f"  {s['status']:<6} {s['count']:>6}  {', '.join(s['services'])}  {s['template'][:120]}"
        )
    lines.append("")
    lines.append("checklist")
    for item in data.get("checklist", []):
        lines.append(f"  [{item['status']:<13}] {item['item']}: {item['summary']}")
    if path:
        lines += ["", f"written  {path}"]
    return "\n".join(lines)
