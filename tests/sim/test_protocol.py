"""The simulator's HTTP protocol (pf_tui/sim/http/protocol.py): each reply in one write, and
plain reads answered from the parser with the very reply the full pipeline gives."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from pf_tui.sim.http.protocol import OneWriteTransport, SimProtocol
from pf_tui.sim.http.server import SimServer

from .helpers import auth, demo_agents


class Wire:
    """A transport that records what it is asked to do."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        assert not self.closed, "write after close"
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: object = None) -> object:
        return {"peername": ("127.0.0.1", 5)}.get(name, default)


async def test_head_and_body_go_out_as_one_write() -> None:
    wire = Wire()
    t = OneWriteTransport(wire, asyncio.get_running_loop())  # type: ignore[arg-type]
    t.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    assert wire.writes == []
    t.write(b"{}")
    assert wire.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]
    await asyncio.sleep(0)  # the scheduled flush finds nothing held
    assert len(wire.writes) == 1


async def test_a_lone_write_goes_out_when_the_loop_comes_round() -> None:
    wire = Wire()
    t = OneWriteTransport(wire, asyncio.get_running_loop())  # type: ignore[arg-type]
    t.write(b"HTTP/1.1 200 OK\r\n\r\n")
    await asyncio.sleep(0)
    assert wire.writes == [b"HTTP/1.1 200 OK\r\n\r\n"]
    # The next reply's head is held again, and joins its own body.
    t.write(b"head")
    t.write(bytearray(b"body"))
    assert wire.writes[1:] == [b"headbody"]


async def test_close_sends_what_is_held_first_and_abort_drops_it() -> None:
    loop = asyncio.get_running_loop()
    wire = Wire()
    t = OneWriteTransport(wire, loop)  # type: ignore[arg-type]
    t.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    t.close()
    assert wire.writes == [b"HTTP/1.1 400 Bad Request\r\n\r\n"] and wire.closed
    await asyncio.sleep(0)  # the scheduled flush must not write after the close
    assert len(wire.writes) == 1

    wire = Wire()
    t = OneWriteTransport(wire, loop)  # type: ignore[arg-type]
    t.write(b"HTTP/1.1 200 OK\r\n\r\n")
    t.abort()
    await asyncio.sleep(0)
    assert wire.writes == [] and wire.aborted


async def test_everything_else_is_the_transports_own() -> None:
    wire = Wire()
    t = OneWriteTransport(wire, asyncio.get_running_loop())  # type: ignore[arg-type]
    assert t.get_extra_info("peername") == ("127.0.0.1", 5)
    assert not t.is_closing()
    wire.close()
    assert t.is_closing()


def _exchange(sock: socket.socket, request: bytes) -> bytes:
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def test_the_simulator_serves_through_it_keeping_connections_alive() -> None:
    with SimServer(agents=1, seed=1, motion=False) as server:
        assert server._server is not None
        assert server._server.config.http_protocol_class is SimProtocol
        with socket.create_connection((server.host, server.port), timeout=5) as sock:
            for _ in range(3):  # three requests on one kept-alive connection
                reply = _exchange(sock, b"GET /_sim/agents HTTP/1.1\r\nHost: sim\r\n\r\n")
                assert reply.startswith(b"HTTP/1.1 200 ")
                assert reply.endswith((b"]", b"}"))


def _seen(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers but the date, body."""
    headers = [(k, v) for k, v in response.headers.multi_items() if k != "date"]
    return response.status_code, headers, response.content


def test_plain_reads_skip_the_asgi_task_and_give_the_pipelines_reply(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Breaking it: a quick path that answers another reply than the pipeline (headers, status,
    body, errors), that still starts a task per read, or that answers while a fault rule is
    set (rules must fire, count and log as before)."""
    tasks = []
    start = SimProtocol._start_asgi_task

    def counted(self: SimProtocol, cycle: object, app: object) -> None:
        tasks.append(cycle)
        start(self, cycle, app)  # type: ignore[arg-type]

    monkeypatch.setattr(SimProtocol, "_start_asgi_task", counted)
    with (
        SimServer(agents=2, seed=3, motion=False) as server,
        httpx.Client(base_url=server.url, timeout=10) as c,
    ):
        keys = demo_agents(c)[0]["keys"]
        reads = [
            ("/casino/api/v1/auth/balance", auth(keys["casino"])),
            ("/trading/v1/trade/positions", auth(keys["trading"])),
            ("/trading/v1/trade/pnl-history?days=7", auth(keys["trading"])),
            ("/trading/v1/trade/positions", auth("no-such-key")),  # 401 from the handler
            ("/trading/v1/trade/positions", {}),  # 401: no key at all
            ("/casino/api/v1/auth/balance", auth(keys["trading"])),  # a key of another kind
        ]

        def read_all() -> list[tuple[int, list[tuple[str, str]], bytes]]:
            return [_seen(c.get(path, headers=headers)) for path, headers in reads]

        routed = read_all()  # the router resolves each path once, through a task
        assert len(tasks) > 0
        before, logged = len(tasks), server.sim.request_seq
        quick = read_all()
        assert len(tasks) == before, "a plain read of a resolved path started an ASGI task"
        assert server.sim.request_seq == logged + len(reads)  # each read is in the request log
        assert quick == routed
        assert [status for status, _, _ in quick] == [200, 200, 200, 401, 401, 401]
        # A rule that matches none of these reads still sends every read the full pipeline way.
        rule = {"route": "/nowhere/*", "kind": "error", "status": 503}
        assert c.post("/_sim/faults", json=rule).status_code == 200
        before = len(tasks)
        assert read_all() == quick
        assert len(tasks) >= before + len(reads)
        # And a rule that matches fires on a path the quick way had answered.
        rule = {"route": "/casino/api/v1/auth/balance", "kind": "error", "status": 503}
        assert c.post("/_sim/faults", json=rule).status_code == 200
        assert c.get(reads[0][0], headers=reads[0][1]).status_code == 503
        assert c.delete("/_sim/faults").status_code == 200
        assert _seen(c.get(reads[0][0], headers=reads[0][1])) == quick[0]
