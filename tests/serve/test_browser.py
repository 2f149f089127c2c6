"""``pf-tui serve --demo`` in a real headless Chromium (Debian's, driven by Playwright, no
browser download): the Overview renders, a key switches tabs, and the guard holds against a
browser too. Every request that is not for 127.0.0.1 is aborted and counted: none may happen.

In the ``slow`` set: it starts Chromium and a console with its own simulator (about 20 s).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from tests.daemon.helpers import free_port
from tests.deploy.tools import need_tool

pytestmark = pytest.mark.slow

TOKEN = "browser-test-token-0123456789abcdef"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\x1b[()][A-Z0-9]")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``pf-tui serve --demo`` as an operator starts it, token from the environment."""
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {**os.environ, "PF_TUI_SERVE_TOKEN": TOKEN}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pf_tui", "serve", "--demo", "--agents", "3",
             "--port", str(port)],
            stdout=out, stderr=out, env=env,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(base + "/", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None:
                    pytest.fail(log.read_text())
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert TOKEN not in log.read_text(), "the token was logged"


@asynccontextmanager
async def browser() -> AsyncIterator[tuple[object, list[str]]]:
    """A Chromium context whose every non-loopback request is aborted and recorded."""
    chromium = need_tool("chromium", "chromium")
    from playwright.async_api import Route, async_playwright

    outside: list[str] = []

    async def loopback_only(route: Route) -> None:
        host = re.match(r"^[a-z]+://([^/:]+)", route.request.url)
        if host is not None and host.group(1) == "127.0.0.1":
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    async with async_playwright() as pw:
        chrome = await pw.chromium.launch(executable_path=chromium, args=FLAGS, headless=True)
        context = await chrome.new_context(viewport={"width": 1200, "height": 800})
        await context.route("**/*", loopback_only)
        try:
            yield context, outside
        finally:
            await chrome.close()


async def _screen_text(frames: list[bytes], needle: str) -> str:
    """The terminal stream the page received (escapes stripped), once it shows ``needle``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    text = ""
    while loop.time() < deadline:
        text = ANSI.sub("", b"".join(frames).decode("utf-8", "replace"))
        if needle in text:
            return text
        await asyncio.sleep(0.2)
    raise AssertionError(f"{needle!r} never reached the page; last: {text[-500:]!r}")


async def test_renders_the_overview_and_switches_tabs(served: str, tmp_path: Path) -> None:
    async with browser() as (context, outside):
        page = await context.new_page()  # type: ignore[attr-defined]
        frames: list[bytes] = []

        def on_socket(ws: object) -> None:
            ws.on("framereceived", lambda f: frames.append(f if isinstance(f, bytes) else b""))  # type: ignore[attr-defined]

        page.on("websocket", on_socket)
        await page.goto(f"{served}/?token={TOKEN}")
        assert page.url == served + "/"  # the token left the address bar
        cookies = await context.cookies()  # type: ignore[attr-defined]
        (session,) = cookies
        assert session["httpOnly"] and session["sameSite"] == "Strict"
        text = await _screen_text(frames, "Sharpe 7d")
        for card in ("Balance", "P&L today", "Escrow exposure", "Referral funnel"):
            assert card in text
        assert "READ-ONLY" in text  # no --write: the console cannot move money
        await page.screenshot(path=str(tmp_path / "overview.png"))
        await page.click("#terminal")
        frames.clear()
        await page.keyboard.press("3")
        fleet = await _screen_text(frames, "Strategy")
        assert "Status" in fleet or "Agent" in fleet
        await page.screenshot(path=str(tmp_path / "fleet.png"))
    assert outside == []


async def test_no_token_and_cross_origin_are_refused_in_the_browser(served: str) -> None:
    async with browser() as (context, outside):
        page = await context.new_page()  # type: ignore[attr-defined]
        reply = await page.goto(served + "/")
        assert reply is not None and reply.status == 401
        assert await context.cookies() == []  # type: ignore[attr-defined]
        # Signed in, a page from another origin (served here from a data: URL, so no network)
        # tries the WebSocket: the browser sends its true Origin and the server refuses it.
        await page.goto(f"{served}/?token={TOKEN}")
        evil = await context.new_page()  # type: ignore[attr-defined]
        await evil.set_content("<p>elsewhere</p>")
        outcome = await evil.evaluate(
            """url => new Promise(done => {
                const ws = new WebSocket(url);
                ws.onopen = () => done("opened");
                ws.onerror = () => done("refused");
            })""",
            served.replace("http", "ws") + "/ws",
        )
        assert outcome == "refused"
    assert outside == []
