"""Which Chromium the browser tests and the Studio benchmark drive, and its flags.

Debian's ``chromium``; elsewhere (a CI runner image) whichever Chromium-based browser is
on PATH, or ``TREEFLOW_CHROMIUM``. Playwright's own browser download is never used.
"""

from __future__ import annotations

import os
import shutil

CHROMIUM = (
    os.environ.get("TREEFLOW_CHROMIUM")
    or shutil.which("chromium")
    or shutil.which("google-chrome")
    or "/usr/bin/chromium"
)
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
