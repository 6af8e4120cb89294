"""Synthetic incidents with known truth, through the files collector, preserve and analyze.

Over 200 seeded cases the first error line must be exactly right in every case, and the
causal change ranked first in at least 90% of them. The measured rates are printed (run with
``-s`` to see them) and recorded in docs/analysis.md.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from forensics.analysis import analyze_bundle
from forensics.analysis.synthetic import generate
from forensics.bundle.reader import Bundle
from forensics.config import load_config
from forensics.preserve import preserve
from forensics.stores import open_store
from forensics.window import Window

CASES = 200


def test_synthetic_incidents(tmp_path: Path) -> None:
    first_right = 0
    ranked_first = 0
    misses: list[str] = []
    for seed in range(CASES):
        case_dir = tmp_path / f"case-{seed}"
        incident = generate(seed, case_dir / "input")
        result = preserve(
            load_config(incident.config),
            open_store(str(case_dir / "evidence")),
            incident=f"SYN-{seed}",
            window=Window(incident.since, incident.until),
        )
        data = analyze_bundle(Bundle.open(result.bundle_uri))
        truth = incident.truth
        first = data["first_error"] or {}
        exact = (
            first.get("source_ref") == truth["first_error"]["source_ref"]
            and first.get("message") == truth["first_error"]["message"]
            and first.get("service") == truth["service"]
            and str(first.get("timestamp", "")).startswith(truth["first_error"]["timestamp"][:-1])
        )
        first_right += exact
        if not exact:
            misses.append(f"seed {seed}: first error {first.get('source_ref')} != {truth}")
        top = data["suspects"][0]["change_id"] if data["suspects"] else None
        ranked_first += top == truth["causal_change"]
        if top != truth["causal_change"]:
            misses.append(f"seed {seed}: top suspect {top} != {truth['causal_change']}")
        # The causal change is before the onset; nothing after the onset is a suspect.
        assert all(s["timestamp"] < data["onset"] for s in data["suspects"])
        shutil.rmtree(case_dir, ignore_errors=True)
    print(
        f"\nsynthetic incidents: first error line exact {first_right}/{CASES} "
        f"({first_right / CASES:.1%}), causal change ranked first {ranked_first}/{CASES} "
        f"({ranked_first / CASES:.1%})"
    )
    assert first_right == CASES, "\n".join(misses)
    assert ranked_first >= 0.9 * CASES, "\n".join(misses)
