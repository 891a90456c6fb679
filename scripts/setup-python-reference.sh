#!/usr/bin/env bash
# The Python reference implementations the benches compare Timbre against (never used at run
# time): a virtual environment in .venv-reference (ignored by git), every version pinned in
# bench/python/requirements.txt, pip's cache in .cache/pip. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-reference
stamp="$venv/.requirements.sha256"
wanted=$(sha256sum bench/python/requirements.txt | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then exit 0; fi
export PIP_CACHE_DIR="$PWD/.cache/pip" PIP_DISABLE_PIP_VERSION_CHECK=1
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
echo "setup-python-reference: installing Resemblyzer and torch into $venv (several GB the first time)" >&2
"$venv/bin/pip" install -q -r bench/python/requirements.txt
# Resemblyzer's metadata asks for webrtcvad (an sdist to compile) and the `typing` backport;
# webrtcvad-wheels provides the same module prebuilt, and typing is in the standard library.
"$venv/bin/pip" install -q --no-deps Resemblyzer==0.1.4
echo "$wanted" > "$stamp"
