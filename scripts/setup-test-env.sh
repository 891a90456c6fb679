#!/usr/bin/env bash
# Test prerequisites: Debian packages (installed when missing; needs root, as on CI), the
# generated test audio (test/.audio, not committed) and the speaker encoder (models/). Safe to
# run again: it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

# package -> a file that proves it is installed
declare -A needed=(
  [espeak-ng]=/usr/bin/espeak-ng
  [python3-requests]=/usr/lib/python3/dist-packages/requests/__init__.py
  [curl]=/usr/bin/curl
  [bzip2]=/usr/bin/bzip2
  [postgresql]=/usr/share/doc/postgresql
  [chromium]=/usr/bin/chromium
  [asterisk-core-sounds-en]=/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz
  [asterisk-core-sounds-en-g722]=/usr/share/asterisk/sounds/en_US_f_Allison/demo-instruct.g722
  [asterisk-core-sounds-fr-g722]=/usr/share/asterisk/sounds/fr_CA_f_June/agent-alreadyon.g722
)
missing=()
for package in "${!needed[@]}"; do
  [ -e "${needed[$package]}" ] || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup-test-env: missing Debian packages: ${missing[*]} (run as root, or apt-get install them)" >&2
    exit 1
  fi
  echo "setup-test-env: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --packages-only: before `npm ci`, when the audio generator's dependencies are not there yet.
[ "${1:-}" = "--packages-only" ] && exit 0
node scripts/make-test-audio.mjs
# The speaker encoder (Resemblyzer's weights from its PyPI wheel, pinned URL and sha256, converted
# to ONNX by Timbre itself): the verification tests and the likeness figures need it.
[ -f models/speaker-encoder/timbre-model.json ] || node bin/timbre.js models pull speaker-encoder
# The same wheel as a file, for the install tests (served from loopback, unpacked, damaged);
# pip checks it against PyPI's index as it downloads.
[ -f test/.audio/Resemblyzer-0.1.4-py3-none-any.whl ] ||
  PIP_CACHE_DIR="$PWD/.cache/pip" python3 -m pip download -q --no-deps --disable-pip-version-check resemblyzer==0.1.4 -d test/.audio
