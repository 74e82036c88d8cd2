# Installs Debian's Chromium for the browser tests (tests/graph/test_preview.py, test_serve.py; Playwright drives it).
set -e
if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
