#!/usr/bin/env bash
# Screenshot an rnnkit HTML report in headless Chromium (Debian's `chromium` package), fully offline.
#
#   scripts/screenshot_report.sh RUN_OR_HTML OUT.png [WIDTH] [HEIGHT]
#
# RUN_OR_HTML: a run folder (its report.html is written first with `rnnkit report RUN` when missing) or an
# HTML file. WIDTH x HEIGHT: the browser window (default 1280 x 2000); the screenshot is that window, from
# the top of the page. The browser may not touch the network: the report embeds everything it shows.
# Set CHROMIUM to use another binary (chromium-browser, google-chrome). Exit status 3: no browser found.
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "usage: $0 RUN_OR_HTML OUT.png [WIDTH] [HEIGHT]" >&2
    exit 2
fi
target=$1 out=$2 width=${3:-1280} height=${4:-2000}
browser=${CHROMIUM:-chromium}
if ! command -v "$browser" >/dev/null 2>&1; then
    echo "$0: no '$browser' on PATH (Debian: apt-get install chromium; or set CHROMIUM=...)" >&2
    exit 3
fi
if [ -d "$target" ]; then
    if [ ! -f "$target/report.html" ]; then
        rnnkit report "$target"
    fi
    target="$target/report.html"
fi
if [ ! -f "$target" ]; then
    echo "$0: $target: no such file" >&2
    exit 2
fi
page=$(cd "$(dirname "$target")" && pwd)/$(basename "$target")
mkdir -p "$(dirname "$out")"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# --no-sandbox: containers and root have no user namespaces for Chromium's sandbox.
# The proxy settings send any request nowhere, so a page that tried to load something would show it.
"$browser" --headless --disable-gpu --no-sandbox --hide-scrollbars --no-first-run \
    --user-data-dir="$profile" --disable-background-networking --disable-component-update \
    --proxy-server="127.0.0.1:9" --proxy-bypass-list="<-loopback>" \
    --window-size="$width,$height" --screenshot="$out" "file://$page" >/dev/null 2>&1
if [ ! -s "$out" ]; then
    echo "$0: chromium wrote no screenshot" >&2
    exit 1
fi
echo "screenshot: $out"
