"""Screenshots of three pages of the built documentation site, in headless Chromium through Playwright.

    mkdocs build --strict && python scripts/docs_screenshots.py [--site site] [--out docs/screenshots]

Writes ``tutorial-ko.png`` (tutorial 4 in Korean), ``config-reference.png`` (the generated config reference)
and ``gates-figure.png`` (the gates figure as the tutorial page shows it). The site is served from a local
port; the browser may reach nothing else. Chromium: Debian's ``chromium`` package (``CHROMIUM`` overrides
the path) or ``python -m playwright install chromium``; Korean text needs a Korean font (``fonts-nanum``).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = [  # (file, page under the site, CSS selector of the element to shoot or None for the window)
    ("tutorial-ko.png", "ko/tutorials/t04_lstm_gates/", None),
    ("config-reference.png", "reference/config/", None),
    ("gates-figure.png", "tutorials/t04_lstm_gates/", "img[src*='t04_gates']"),
]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files without a log line per request."""

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(site: Path) -> http.server.ThreadingHTTPServer:
    """A static file server for ``site`` on a free local port, in a daemon thread."""
    handler = functools.partial(QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def shoot(site: Path, out: Path, width: int = 1280, height: int = 1400) -> list[Path]:
    """Screenshot each page of :data:`PAGES`; returns the files written."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    server = serve(site)
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    executable = os.environ.get("CHROMIUM") or shutil.which("chromium")
    written = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=1)
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base) else r.abort())
            for name, path, selector in PAGES:
                page.goto(base + path, wait_until="networkidle")
                target = out / name
                if selector:  # the whole element: no sticky header over it
                    page.add_style_tag(content=".md-header, .md-tabs { display: none !important; }")
                    page.locator(selector).first.screenshot(path=str(target))
                else:
                    page.screenshot(path=str(target))
                written.append(target)
                print(f"screenshot = {target}")
            browser.close()
    finally:
        server.shutdown()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=ROOT / "site")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    shoot(args.site, args.out)


if __name__ == "__main__":
    main()
