#!/usr/bin/env bash
# Install incident-forensics, preserve the bundled sample incident into ./evidence, verify and analyse it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -e .
command -v pyenv >/dev/null && pyenv rehash  # expose the new console script under pyenv
python3 examples/sample-incident/generate.py >/dev/null

summary="$(mktemp)"
trap 'rm -f "$summary"' EXIT
forensics preserve \
    --incident INC-42 \
    --config examples/sample-incident/forensics.toml \
    --since 2026-11-20T09:00:00Z --until 2026-11-20T11:00:00Z \
    --store ./evidence
forensics ls ./evidence --incident INC-42 --json >"$summary"
bundle="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[-1]["uri"])' "$summary")"
forensics verify "$bundle"
echo
forensics analyze "$bundle" --out "analysis/INC-42/$(basename "$bundle")"
echo
echo "Bundle:   $bundle"
echo "Manifest: $bundle/manifest.json"
echo "Analysis: $PWD/analysis/INC-42/$(basename "$bundle")/analysis.json"
