#!/usr/bin/env bash
# Install test needs, start the real services the tests use, run lint, types and the whole suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -e '.[test]'
command -v pyenv >/dev/null && pyenv rehash
bash scripts/services/elasticsearch.sh start          # real Elasticsearch node on 127.0.0.1:9200
export ES_URL="http://127.0.0.1:${ES_PORT:-9200}"      # the moto S3 server is started by tests/conftest.py

ruff check .
ruff format --check .
mypy
python3 -m pytest -ra "$@"
