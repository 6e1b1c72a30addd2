"""Debian's Chromium driven by Playwright's Python package, as the web page's tests and benchmark use it.

The browser is the system's (/usr/bin/chromium, installed by scripts/chromium.sh), never one Playwright downloads.
The flags keep it off the network (this machine reaches none: without them Chromium keeps trying) and need no
sandbox (we run as root); each launch gets a fresh profile folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

CHROMIUM = os.environ.get("WATTLENS_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def browser_context(**options: Any) -> Iterator[Any]:
    """A Playwright browser context in the system's Chromium with a fresh profile (removed afterwards)."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="wattlens-chromium-")
    try:
        with sync_playwright() as pw:
            # the fresh profile folder is the user data dir (Playwright passes --user-data-dir itself)
            context = pw.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, args=FLAGS, headless=True, **options
            )
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
