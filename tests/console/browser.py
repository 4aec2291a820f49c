"""A live server and Debian's Chromium, for the console's browser journeys.

The server is the real app under uvicorn, on a thread with its own event loop, on a free port, with the
embedded scheduler (so the dispatcher offers work as in `make run`), on the test database of the backend.
Chromium is Debian's (`make system-deps` installs it): Playwright cannot download its own browsers here.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from pathlib import Path
from typing import Self

import uvicorn

from service.app import create_app
from service.settings import Settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1366, "height": 768}  # the call centre's screens
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveServer:
    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._settings = settings.model_copy(update={"scheduler_enabled": True})
        self._server: uvicorn.Server | None = None
        self._thread = threading.Thread(target=self._run, name="console-live-server", daemon=True)

    def _run(self) -> None:
        app = create_app(self._settings, run_scheduler=True)
        self._server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        )
        asyncio.run(self._server.serve())

    async def __aenter__(self) -> Self:
        self._thread.start()
        for _ in range(600):
            if self._server is not None and self._server.started:
                return self
            await asyncio.sleep(0.05)
        raise RuntimeError("the live server did not start")

    async def __aexit__(self, *exc) -> None:
        if self._server is not None:
            self._server.should_exit = True
        await asyncio.to_thread(self._thread.join, 30)


class Shots:
    """Screenshots of the main pages: into docs/screenshots/ when HOMECARE_SCREENSHOTS=docs (how the README's
    pictures are refreshed), else into the test's temporary folder, so a test run leaves the tree clean."""

    def __init__(self, fallback: Path) -> None:
        self.folder = DOCS_SCREENSHOTS if os.environ.get("HOMECARE_SCREENSHOTS") == "docs" else fallback
        self.folder.mkdir(parents=True, exist_ok=True)

    async def take(self, page, name: str) -> Path:
        path = self.folder / f"{name}.png"
        await page.screenshot(path=str(path), full_page=False)
        return path
