"""``pf-tui serve``'s guard over real HTTP on 127.0.0.1: the token, the cookie, the Origin rule,
the session limit, the headers, and the console's command line."""

from __future__ import annotations

import os
from contextlib import nullcontext
from pathlib import Path

import aiohttp
import pytest

from pf_tui.cli import main
from pf_tui.serve.auth import COOKIE, TokenError, cookie_value, load_token, origin_of
from pf_tui.serve.server import child_command

from .helpers import TOKEN, serving


def client() -> aiohttp.ClientSession:
    # unsafe=True: aiohttp's jar ignores cookies from IP hosts (127.0.0.1); browsers keep them.
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def test_every_route_needs_the_cookie() -> None:
    async with serving() as base, client() as http:
        for path in ("/", "/static/js/textual.js", "/ws"):
            async with http.get(base + path) as resp:
                assert resp.status == 401, path
                assert resp.headers["X-Frame-Options"] == "DENY"
        async with http.get(base + "/?token=wrong-token-0123456789") as resp:
            assert resp.status == 401 and COOKIE not in resp.cookies


async def test_the_token_becomes_a_strict_httponly_cookie_and_leaves_the_url() -> None:
    """Without HttpOnly a script could read it; without SameSite=Strict another site's form could
    ride it; a token left in the URL would sit in the history."""
    async with serving() as base, client() as http:
        async with http.get(f"{base}/?token={TOKEN}&fontsize=14", allow_redirects=False) as resp:
            assert resp.status == 303
            assert resp.headers["Location"] == "/?fontsize=14"
            cookie = resp.cookies[COOKIE]
            assert cookie["httponly"] and cookie["samesite"] == "Strict" and not cookie["secure"]
            assert cookie.value == cookie_value(load_token(None, {"PF_TUI_SERVE_TOKEN": TOKEN})[0])
            assert TOKEN not in cookie.value
        async with http.get(base + "/") as resp:  # the session's cookie jar has it now
            page = await resp.text()
            assert resp.status == 200 and f"ws://{base.split('//')[1]}/ws" in page
            assert "googleapis" not in page and "/static/js/textual.js" in page
            assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
        async with http.get(base + "/static/js/textual.js") as resp:
            assert resp.status == 200


async def test_login_form() -> None:
    async with serving() as base, client() as http:
        async with http.post(base + "/login", data={"token": "nope"}) as resp:
            assert resp.status == 401
        other = {"Origin": "https://evil.example"}
        async with http.post(base + "/login", data={"token": TOKEN}, headers=other) as resp:
            assert resp.status == 403
        async with http.post(base + "/login", data={"token": TOKEN}) as resp:
            assert resp.status == 200 and "textual.js" in await resp.text()


async def test_websocket_from_another_origin_is_refused_even_with_the_cookie() -> None:
    async with serving() as base, client() as http:
        await (await http.get(f"{base}/?token={TOKEN}")).release()
        for origin in ("https://evil.example", "http://localhost:" + base.rsplit(":", 1)[1], None):
            headers = {"Origin": origin} if origin else {}
            with pytest.raises(aiohttp.WSServerHandshakeError) as info:
                await http.ws_connect(base + "/ws", headers=headers)
            assert info.value.status == 403, origin


async def test_session_limit_says_why_and_frees_on_close() -> None:
    """Over the limit a tab must be told why (not a blank page) and closed with 1013; closing a
    session frees its place."""
    async with serving(max_sessions=1) as base, client() as http:
        await (await http.get(f"{base}/?token={TOKEN}")).release()
        same = {"Origin": origin_of(base)}
        first = await http.ws_connect(base + "/ws", headers=same)
        second = await http.ws_connect(base + "/ws", headers=same)
        message = await second.receive(timeout=10)
        assert b"the limit (--max-sessions 1)" in message.data
        await second.receive(timeout=10)
        assert second.close_code == 1013
        await first.close()
        third = await http.ws_connect(base + "/ws", headers=same)
        await third.send_json(["ping", "x"])
        reply = await third.receive_json(timeout=10)
        assert reply == ["pong", "x"]
        await third.close()


def test_token_sources(tmp_path: Path) -> None:
    generated, fresh = load_token(None, {})
    assert fresh and len(generated.reveal()) >= 40 and str(generated) == "<secret>"
    token, fresh = load_token(None, {"PF_TUI_SERVE_TOKEN": TOKEN})
    assert not fresh and token.source == "env:PF_TUI_SERVE_TOKEN"
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o644)
    with pytest.raises(TokenError, match="group or others can read it"):
        load_token(path, {})
    path.chmod(0o600)
    token, fresh = load_token(path, {"PF_TUI_SERVE_TOKEN": "ignored-when-a-file-is-given"})
    assert token.reveal() == TOKEN and not fresh
    with pytest.raises(TokenError, match="at least 16") as info:
        load_token(None, {"PF_TUI_SERVE_TOKEN": "short"})
    assert "short" not in str(info.value)


def test_console_is_read_only_unless_write(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    assert child_command(config=config, demo=False)[-3:] == ("--config", str(config), "--read-only")
    assert "--read-only" not in child_command(config=config, demo=False, write=True)
    assert child_command(config=None, demo=True, agents=3)[3:7] == (
        "--demo",
        "--agents",
        "3",
        "--seed",
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["serve", "--max-sessions", "0"], "--max-sessions 0: choose between 1 and 16"),
        (["serve", "--public-url", "ftp://x"], "give an http(s) URL"),
        (["serve", "--demo", "--config", "x.toml"], "--demo builds its own config"),
    ],
)
def test_serve_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2 and message in capsys.readouterr().err


def test_the_console_starts_under_the_web_driver(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Off a terminal the console refuses, except under textual-serve's web driver."""
    monkeypatch.delenv("PF_TUI_FORCE_TTY", raising=False)
    monkeypatch.delenv("TEXTUAL_DRIVER", raising=False)
    started: list[bool] = []
    monkeypatch.setattr("pf_tui.tui.app.run_app", lambda *a, **k: started.append(True) or 0)
    monkeypatch.setattr("pf_tui.demo.demo_session", _fake_demo)
    monkeypatch.setattr("pf_tui.daemon.embedded.embedded_daemon", lambda _config: nullcontext())
    assert main(["--demo"]) == 2 and "needs a terminal" in capsys.readouterr().err
    monkeypatch.setenv("TEXTUAL_DRIVER", "textual.drivers.web_driver:WebDriver")
    assert main(["--demo"]) == 0 and started == [True]
    assert os.environ["TEXTUAL_DRIVER"].endswith("WebDriver")


class _fake_demo:
    def __init__(self, **kw: object) -> None:
        pass

    def __enter__(self) -> object:
        return object()

    def __exit__(self, *exc: object) -> None:
        return None
