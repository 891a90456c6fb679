#!/usr/bin/env bash
# The provider's own clients for test/clients.test.ts, at pinned versions, in a virtual
# environment in .venv-clients (ignored by git); pip's cache in .cache/pip. Safe to run again:
# it reinstalls only when test/clients/python/requirements.txt changes.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-clients
stamp="$venv/.requirements.sha256"
wanted=$(sha256sum test/clients/python/requirements.txt | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then exit 0; fi
export PIP_CACHE_DIR="$PWD/.cache/pip" PIP_DISABLE_PIP_VERSION_CHECK=1
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q -r test/clients/python/requirements.txt
echo "$wanted" > "$stamp"
