"""The simulator's HTTP protocol (pf_tui/sim/http/protocol.py): plain reads answered from the
parser with the very reply the full pipeline gives, and HTTP/1.1 as uvicorn serves it around
them (pipelining, the keep-alive timer, half-closed connections, an internal error)."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from pf_tui.sim.http.pipeline import Endpoint
from pf_tui.sim.http.protocol import SimProtocol
from pf_tui.sim.http.server import SimServer

from .helpers import auth, demo_agents


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


def _replies(sock: socket.socket, count: int) -> list[tuple[bytes, bytes]]:
    """Up to ``count`` whole replies (head, body) read from ``sock``, fewer if it closes first."""
    data = b""
    out: list[tuple[bytes, bytes]] = []
    while len(out) < count:
        while b"\r\n\r\n" in data:
            head, _, rest = data.partition(b"\r\n\r\n")
            length = int(
                next(
                    line.split(b":", 1)[1]
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
            )
            if len(rest) < length:
                break
            out.append((head, rest[:length]))
            data = rest[length:]
            if len(out) == count:
                return out
        chunk = sock.recv(65536)
        if not chunk:
            return out
        data += chunk
    return out


def _get(path: str, key: str = "") -> bytes:
    auth_line = f"Authorization: Bearer {key}\r\n" if key else ""
    return f"GET {path} HTTP/1.1\r\nHost: sim\r\n{auth_line}\r\n".encode()


@pytest.fixture
def served() -> object:
    with SimServer(agents=2, seed=3, motion=False) as server:
        with httpx.Client(base_url=server.url, timeout=10) as c:
            key = demo_agents(c)[0]["keys"]["casino"]
            # Each path once through the router, so the next reads of it can be answered quickly.
            assert c.get("/casino/api/v1/auth/balance", headers=auth(key)).status_code == 200
            assert c.get("/casino/health").status_code == 200
        yield server, key


def test_pipelined_reads_come_back_whole_and_in_order(served: tuple[SimServer, str]) -> None:
    """Breaking it: a quick reply overtaking a reply still being made uvicorn's way, or one
    lost, when both come in one packet."""
    server, key = served
    balance = "/casino/api/v1/auth/balance"
    packet = (
        _get(balance, key)  # quick
        + _get("/casino/%68ealth")  # a percent-encoded path: uvicorn's way, through a task
        + _get(balance, key)  # quick again, but only after the one before it
        + _get("/casino/health")
    )
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(packet)
        replies = _replies(sock, 4)
    assert [head.split(b"\r\n")[0] for head, _ in replies] == [b"HTTP/1.1 200 OK"] * 4
    assert b"balance_usd" in replies[0][1] and b"balance_usd" in replies[2][1]
    assert b'"status":"ok"' in replies[1][1] and b'"status":"ok"' in replies[3][1]


def test_a_request_served_uvicorns_way_after_a_quick_one_is_not_timed_out(
    served: tuple[SimServer, str],
) -> None:
    """A quick reply arms uvicorn's keep-alive timer; a request that follows in the same packet
    and waits for its body must not be cut off by it. Breaking it: the timer left armed."""
    server, _ = served
    assert server._server is not None
    server._server.config.timeout_keep_alive = 0.3  # read by each new connection
    post = b"POST /_sim/clock HTTP/1.1\r\nHost: sim\r\nContent-Length: 2\r\n\r\n"
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(_get("/casino/health") + post)
        time.sleep(0.8)  # past the keep-alive timeout, with the POST's body still to come
        sock.sendall(b"{}")
        replies = _replies(sock, 2)
    assert len(replies) == 2, "the connection was closed under the second request"
    assert replies[1][0].startswith(b"HTTP/1.1 200 ")


def test_a_half_closed_connection_still_gets_its_reply(served: tuple[SimServer, str]) -> None:
    """A client that sends its request and then shuts its side (``SHUT_WR``) is answered, the
    quick way or uvicorn's (a HEAD has no body write to join)."""
    server, key = served
    for request, status in (
        (_get("/casino/api/v1/auth/balance", key), b"200"),
        (b"HEAD /casino/health HTTP/1.1\r\nHost: sim\r\n\r\n", b"405"),  # GET-only route
    ):
        with socket.create_connection((server.host, server.port), timeout=5) as sock:
            sock.sendall(request)
            sock.shutdown(socket.SHUT_WR)
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        assert data.startswith(b"HTTP/1.1 " + status + b" ") and b"\r\n\r\n" in data, request


def test_an_internal_error_answers_500_closes_and_serves_nothing_after(
    served: tuple[SimServer, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Breaking it: the error escaping into the parser (uvicorn would answer 400 "Invalid HTTP
    request"), no ``connection: close``, or the requests after it in the same packet still run
    (ticking the clock, spending the rate limit, logging)."""
    server, key = served
    respond = Endpoint.respond

    def boom(self: Endpoint, scope: dict[str, object], raw: bytes) -> object:
        if any(name == b"x-boom" for name, _ in scope["headers"]):  # type: ignore[attr-defined]
            raise RuntimeError("a bug in the simulator")
        return respond(self, scope, raw)  # type: ignore[arg-type]

    monkeypatch.setattr(Endpoint, "respond", boom)
    first = b"GET /casino/health HTTP/1.1\r\nHost: sim\r\nX-Boom: 1\r\n\r\n"
    logged = server.sim.request_seq
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(first + _get("/casino/api/v1/auth/balance", key))
        replies = _replies(sock, 2)
    assert len(replies) == 1
    head, body = replies[0]
    assert head.startswith(b"HTTP/1.1 500 ") and b"connection: close" in head.lower()
    assert body == b"Internal Server Error"
    assert server.sim.request_seq == logged
