"""Analysis of sealed bundles: error signatures, onset, change correlation, checklist.

``analyze(uri)`` opens a bundle, finds the first error occurrence, ranks the changes before
it, finds metric anomalies and answers the investigation checklist, then writes
``analysis.json`` outside the bundle. The definitions are in ``docs/analysis.md``.
"""

from __future__ import annotations

from forensics.analysis.parameters import Parameters
from forensics.analysis.pipeline import AnalysisResult, analyze, analyze_bundle

__all__ = ["AnalysisResult", "Parameters", "analyze", "analyze_bundle"]
