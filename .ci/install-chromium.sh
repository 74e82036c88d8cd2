# Installs Debian's Chromium for the preview page's browser test (tests/graph/test_preview.py).
set -e
if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
