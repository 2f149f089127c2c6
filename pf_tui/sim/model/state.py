"""The Simulator: all pure state, its clock and jobs, conservation, the request log.

Nothing here knows about HTTP; routes call these methods and tests may too.
"""

from __future__ import annotations

import heapq
import math
import random
import time
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import TypeAlias

from pf_tui.sim.model.accounts import Accounts, Agent
from pf_tui.sim.model.casino import Casino
from pf_tui.sim.model.clock import SimClock
from pf_tui.sim.model.errors import ApiError
from pf_tui.sim.model.escrow import Escrow, EscrowBook
from pf_tui.sim.model.faucet import REGISTRATION_BUCKET, Faucet
from pf_tui.sim.model.faults import Faults
from pf_tui.sim.model.fleet import Fleet
from pf_tui.sim.model.idempotency import IdempotencyStore
from pf_tui.sim.model.ids import Ids
from pf_tui.sim.model.limits import RateLimiter
from pf_tui.sim.model.market import Market
from pf_tui.sim.model.num import num
from pf_tui.sim.model.story import Story
from pf_tui.sim.model.telegram import TelegramStandIn
from pf_tui.usd import JSON

LoggedRequest: TypeAlias = tuple[
    int, float, str, str, str | None, str, str | None, int, bool, str | None
]
"""One line of the request log: seq, time, method, path, agent id, IP, Idempotency-Key, status,
whether the handler ran, and the fault kind that fired (see :meth:`Simulator.requests_wire`)."""

HOUSE_BANKROLL = Decimal("1000000")
REQUEST_LOG = 100_000
MAX_CATCH_UP_S = 300


class Simulator:
    """Purple Flea in one object. ``create_app`` wraps it in HTTP; tests can drive it directly."""

    def __init__(
        self,
        *,
        seed: int = 0,
        agents: int = 8,
        faults: list[JSON] | None = None,
        limits: str = "production",
        motion: bool = True,
        story: bool = True,
        start_time: float | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.seed = seed
        self.initial_story = story
        self.n_agents = agents
        self.initial_faults = list(faults or [])
        self.initial_limits = limits
        self.initial_motion = motion
        self.start_time = start_time
        self.wall = wall
        self.reset()

    def reset(self) -> None:
        """Back to the state right after construction (same seed, same start time)."""
        seed = self.seed

        def rng(name: str) -> random.Random:
            return random.Random(f"{seed}:{name}")

        self.clock = SimClock(self.start_time, paused=not self.initial_motion, wall=self.wall)
        self.ids = Ids(rng("ids"))
        self.accounts = Accounts(self.ids)
        self.casino = Casino(self.accounts, self.ids, rng("casino"))
        self.market = Market(self.accounts, self.ids, rng("market"))
        self.escrows = EscrowBook(self.accounts, self.ids)
        self.faucet = Faucet(self.accounts, self.ids)
        self.limiter = RateLimiter(self.initial_limits)
        self.casino.play_limit = self.limiter.limit_of("game_play")
        self.idempotency = IdempotencyStore()
        self.faults = Faults(rng("faults"))
        self.faults.add(self.initial_faults)
        self.telegram = TelegramStandIn()
        self.idempotency_on_classic = True
        self.requests: deque[LoggedRequest] = deque(maxlen=REQUEST_LOG)
        self.request_seq = 0
        self.motion = self.initial_motion
        self._jobs: list[tuple[float, int, str]] = []
        self._job_seq = 0
        self._at: float | None = None
        now = self.clock.now()
        self.accounts.house = HOUSE_BANKROLL
        self.fleet = Fleet(self, rng("fleet"))
        self.story = Story(self, now, enabled=self.initial_story)
        self.fleet.setup(self.n_agents, now)
        self.accounts.initial_total = self.total()
        self._next_step = math.floor(now) + 1
        self.epoch = getattr(self, "epoch", 0) + 1

    # --- time --------------------------------------------------------------------------------

    def now(self) -> float:
        """Simulator time; while a due job runs, the time it was due."""
        at = self._at
        return at if at is not None else self.clock.now()

    def _next_due(self) -> float:
        job = self._jobs[0][0] if self._jobs else math.inf
        step = self._next_step if self.motion else math.inf
        return min(job, step)

    def run_until(self, target: float) -> int:
        """Run the jobs due at or before ``target`` (escrow timeouts, fleet steps) in time order."""
        ran = 0
        try:
            while True:
                job = self._jobs[0][0] if self._jobs else math.inf
                step = self._next_step if self.motion else math.inf
                due = min(job, step)
                if due > target:
                    break
                self._at = due
                if job <= step:
                    _, _, escrow_id = heapq.heappop(self._jobs)
                    esc = self.escrows.escrows.get(escrow_id)
                    if esc is not None:
                        self.escrows.time_out(esc, due)
                else:
                    self._next_step += 1
                    self.fleet.step(due)
                ran += 1
        finally:
            self._at = None
        return ran

    def tick(self) -> None:
        """Catch up with real time (called per request and by the background task)."""
        now = self.clock.now()
        if self.motion and now - self._next_step > MAX_CATCH_UP_S:
            # After a stall (a suspended laptop), skip ahead instead of replaying hours of motion.
            self._next_step = math.floor(now) - MAX_CATCH_UP_S
        if self._next_due() <= now:
            self.run_until(now)

    def advance(self, seconds: float) -> int:
        """Move simulator time forward by ``seconds``, running what falls due on the way."""
        if seconds < 0 or not math.isfinite(seconds):
            raise ValueError("advance_s must be a finite number >= 0")
        target = self.clock.now() + seconds
        ran = self.run_until(target)
        self.clock.advance(seconds)
        return ran

    def pause(self) -> None:
        self.clock.pause()

    def resume(self) -> None:
        self.clock.resume()

    def set_motion(self, on: bool) -> None:
        if on and not self.motion:
            self._next_step = math.floor(self.clock.now()) + 1
        self.motion = on

    def set_story(self, on: bool) -> None:
        """Run or stop the demo's scripted incidents (stopping ends one in progress)."""
        if on:
            self.story.enabled = True
        else:
            self.story.stop(self.now())

    # --- agents --------------------------------------------------------------------------------

    def register(self, referral_code: JSON) -> tuple[Agent, str]:
        """A new casino agent and its key; then the server's own faucet claim (one bucket)."""
        at = self.now()
        referrer = (
            self.accounts.by_code.get(referral_code) if isinstance(referral_code, str) else None
        )
        agent = self.accounts.create(at, referred_by=referrer.agent_id if referrer else None)
        key = self.ids.casino_key()
        self.accounts.add_key(agent, "casino", key)
        try:
            self.faucet.claim({"agent_casino_id": agent.agent_id}, REGISTRATION_BUCKET, at)
        except ApiError:
            pass  # production's registration claim fails silently once its bucket is used
        return agent, key

    def create_escrow(self, creator: Agent, *, dialect: str, **fields: JSON) -> Escrow:
        """Create an escrow and schedule its timeout."""
        esc = self.escrows.create(creator, dialect=dialect, at=self.now(), **fields)
        self._job_seq += 1
        heapq.heappush(self._jobs, (esc.auto_release_at, self._job_seq, esc.escrow_id))
        return esc

    # --- conservation --------------------------------------------------------------------------

    def total(self) -> Decimal:
        """Agents (casino + trading) + escrow holdings + house."""
        return self.accounts.agents_total() + self.escrows.held_total() + self.accounts.house

    def conserved(self) -> bool:
        return self.total() == self.accounts.initial_total + self.accounts.granted

    def state_wire(self) -> dict[str, JSON]:
        agents = [
            {"agent_id": a.agent_id, "casino_usd": num(a.casino), "trading_usd": num(a.trading)}
            for a in self.accounts.agents.values()
        ]
        escrows = [
            {
                "escrow_id": e.escrow_id,
                "dialect": e.dialect,
                "status": e.status,
                "amount_usd": num(e.amount),
                "released_usd": num(e.released),
                "held_usd": num(e.held),
                "creator_id": e.creator_id,
                "counterparty_id": e.payee_id,
            }
            for e in self.escrows.escrows.values()
        ]
        total = self.total()
        return {
            "now": self.now(),
            "agents": agents,
            "escrows": escrows,
            "house_usd": num(self.accounts.house),
            "faucet_granted_usd": num(self.accounts.granted),
            "initial_total_usd": num(self.accounts.initial_total),
            "total_usd": num(total),
            "conserved": total == self.accounts.initial_total + self.accounts.granted,
            "prices": {c: num(p) for c, p in self.market.prices.items()},
        }

    # --- request log ---------------------------------------------------------------------------

    def log_request(
        self,
        method: str,
        path: str,
        agent: Agent | None,
        ip: str,
        idempotency_key: str | None,
        status: int,
        executed: bool,
        fault: str | None,
    ) -> None:
        at = self.clock.now()
        self.request_seq += 1
        self.requests.append(
            (
                self.request_seq,
                at,
                method,
                path,
                agent.agent_id if agent else None,
                ip,
                idempotency_key,
                status,
                executed,
                fault,
            )
        )
        if agent is not None:
            agent.requests.append((at, status >= 400))

    def requests_wire(self, since: float | None, since_seq: int | None) -> list[dict[str, JSON]]:
        out = []
        for seq, t, method, path, agent_id, ip, key, status, executed, fault in self.requests:
            if since is not None and t < since:
                continue
            if since_seq is not None and seq <= since_seq:
                continue
            out.append(
                {
                    "seq": seq,
                    "t": t,
                    "method": method,
                    "path": path,
                    "agent_id": agent_id,
                    "ip": ip,
                    "idempotency_key": key,
                    "status": status,
                    "executed": executed,
                    "fault": fault,
                }
            )
        return out
