"""From the engine's :class:`FleetState` to the screen's :class:`FleetView`, incrementally.

Rebuilding 1,000 agents' views on every tick would cost more than the frame budget, so the feed
keeps the last :class:`AgentView` per agent and rebuilds only the agents whose figures changed
(the ids :meth:`FleetState.apply_many` returned) or whose freshness flipped. Unchanged agents keep
the very same objects, which the views use to skip their rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from itertools import chain, repeat

from pf_tui.api.models import (
    CasinoStats,
    PnlChart,
    PnlHistory,
    PnlPoint,
    Positions,
    cumulative_by_day,
)
from pf_tui.core.fleet import derived
from pf_tui.core.fleet.state import AgentInfo, AgentState, FleetState
from pf_tui.core.polling.callstats import latency_summary
from pf_tui.core.polling.results import ALL_TYPES, DataType, EscrowSnapshot, ReferralSnapshot
from pf_tui.views.escrow_rows import FinishedRows, escrow_row, finished_per_agent, stream_row
from pf_tui.views.fleet_sums import FleetSums
from pf_tui.views.model import (
    SPARK_POINTS,
    AgentView,
    EscrowNote,
    EscrowView,
    FleetView,
    MoneyNotes,
    PositionView,
    ServiceView,
    StreamNote,
)

ZERO = Decimal(0)
_NO_NOTE = EscrowNote()
_NO_NOTES = MoneyNotes()
PRUNE_EVERY_S = 60.0
"""How often finished rows past their 24 hours are dropped."""
CHART_POINTS = 240
"""Fleet P&L points kept for the chart."""
SERVICE_OF: dict[DataType, str] = {
    DataType.BALANCE: "casino",
    DataType.CASINO: "casino",
    DataType.REFERRALS: "casino",
    DataType.POSITIONS: "trading",
    DataType.PNL: "trading",
    DataType.ESCROWS: "escrow",
}
"""The service each polled figure comes from (referrals ask three; the casino is the first)."""
SERVICES_SHOWN = ("casino", "trading", "escrow")


def _label_of(agents: Mapping[str, AgentState], agent_id: str | None) -> str:
    """A watched agent's label (an id otherwise): payees are often agents of the same fleet."""
    if agent_id is None:
        return "-"
    state = agents.get(agent_id)
    return (state.info.label if state is not None else "") or agent_id


def _count(value: Decimal | None) -> int | None:
    """A derived count (stored as a Decimal like every derived figure) as an int."""
    return None if value is None else int(value)


def _by_day(chart: Sequence[PnlPoint]) -> Iterator[tuple[str, Decimal]]:
    """A P&L chart's cumulative P&L by day (``YYYY-MM-DD``), oldest first."""
    return ((date[:10], value) for date, value in cumulative_by_day(chart))


def _dated(chart: PnlChart, days: list[int]) -> list[tuple[str, Decimal]]:
    """``(YYYY-MM-DD, cumulative P&L)`` of those days of ``chart``."""
    return [(date[:10], value) for date, value in map(chart.cumulative_on, days)]


def _moved_days(
    old: Sequence[PnlPoint], new: Sequence[PnlPoint]
) -> tuple[list[tuple[str, Decimal]], list[tuple[str, Decimal]]]:
    """The days of ``old`` to take out of the fleet's sums and those of ``new`` to put in: a
    new chart of the same days differs in its last one or two, and only those are unpacked."""
    if type(old) is PnlChart and type(new) is PnlChart and len(old) == len(new):
        moved = [day for day in range(len(new)) if not old.same_day(new, day)]
        if len(moved) < len(new):
            return _dated(old, moved), _dated(new, moved)
    return list(_by_day(old)), list(_by_day(new))


def _midnight(now: float) -> float:
    day = datetime.fromtimestamp(now, tz=UTC).date()
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


class FleetFeed:
    """Builds :class:`FleetView` objects from a fleet state, incrementally."""

    def __init__(self, fleet: FleetState, notes: Callable[[], MoneyNotes] | None = None) -> None:
        self.fleet = fleet
        self._notes_of = notes
        self._notes: MoneyNotes = _NO_NOTES
        """What pf-tui knows beyond the server (:meth:`MoneyDesk.escrow_notes`): the dialect of
        the escrows it created, its streams and their states, unsettled actions, the brake."""
        self._streams: dict[str, tuple[StreamNote, ...]] = {}
        """The notes' live streams by paying agent."""
        self._agents: dict[str, AgentView] = {}
        self._positions: dict[str, tuple[PositionView, ...]] = {}
        self._escrows: dict[str, tuple[EscrowView, ...]] = {}
        self._finished = FinishedRows()
        self._finished_view: tuple[EscrowView, ...] = ()
        self._finished_dirty = False
        self._pruned_at = 0.0
        self._stale: dict[str, bool] = {}
        self._fleet_version = -1
        self._check_at: dict[str, float] = {}
        """When each agent's staleness is next re-read if nothing new arrives for it."""
        self._daily: dict[str, Sequence[PnlPoint]] = {}
        """Each agent's P&L chart, as its fleet state holds it (packed: no point is kept)."""
        self._daily_sums: dict[str, Decimal] = {}
        self._daily_counts: dict[str, int] = {}
        """Per chart day: the sum of every agent's cumulative P&L, and how many agents report
        one, kept as agents change (exact: Decimal sums add and take back the same values)."""
        self._fleet_daily_view: tuple[tuple[str, Decimal], ...] | None = ()
        self._sums = FleetSums()
        self._charts: dict[
            str,
            tuple[object, AgentInfo, float | None],
        ] = {}
        """Per agent: the P&L chart last seen and the agent's info, with the Sharpe ratio
        derived from them."""
        self.last_error = ""
        self.budget: int | None = None
        """The most agents one :meth:`build` rebuilds when it is told which changed (``None``:
        no limit); the rest are :attr:`deferred` to the next build."""
        self.deferred: set[str] = set()
        """Agents whose new figures the last build left for the next one (see :attr:`budget`)."""
        self._index: dict[str, int] = {}
        self._index_version = -1

    def with_selected(self, view: FleetView, selected: str | None) -> FleetView:
        """``view`` with the P&L history of the agent now drilled into (a view is built with
        the history of the agent selected then only)."""
        return replace(view, agent_pnl_daily=self._selected_daily(selected))

    def _selected_daily(self, selected: str | None) -> dict[str, tuple[tuple[str, Decimal], ...]]:
        """The P&L history a view carries: the drilled-into agent's only (none for the fleet)."""
        if selected not in self.fleet.agents:
            return {}
        return {selected: tuple(_by_day(self._daily.get(selected, ())))}

    def note_error(self, text: str) -> None:
        """Remember the newest error text (untrusted) for the status bar."""
        self.last_error = text

    def build(
        self, now: float, changed: set[str] | None = None, *, selected: str | None = None
    ) -> FleetView:
        """The view at ``now``; ``changed`` names the agents to rebuild (``None``: all).

        ``selected`` is the agent drilled into: only its P&L history is copied into the view.
        """
        fleet = self.fleet
        if fleet.version != self._fleet_version:
            # Agents came or went (one may have gone and come back with the same id), an
            # agent's info or the intervals changed: every agent is rebuilt and rechecked.
            self._fleet_version = fleet.version
            self._check_at.clear()
            changed = None
        rebuilt: set[str] = set()
        midnight = _midnight(now)
        notes = self._notes_of() if self._notes_of is not None else self._notes
        renote = notes is not self._notes
        if renote:
            # An action, a reconciliation, the brake or another process taught the store
            # something about an escrow or a stream: every agent's escrow rows are rebuilt now
            # (not the rest of their figures), not whenever their figures next change.
            self._notes = notes
            by_agent: dict[str, list[StreamNote]] = {}
            for stream in notes.streams:
                by_agent.setdefault(stream.agent_id, []).append(stream)
            self._streams = {a: tuple(s) for a, s in by_agent.items()}
        check_at = self._check_at
        budget = self.budget if changed is not None else None
        put_off, self.deferred = self.deferred, set()
        visits: Iterable[str] = fleet.agents
        if changed is not None and put_off:
            # Last build's leftovers first: an agent put off is not put off again behind newer.
            changed = changed | put_off
            first = [a for a in put_off if a in fleet.agents]
            visits = chain(first, (a for a in fleet.agents if a not in put_off))
        for agent_id in visits:
            # Staleness is re-read only where it can have moved: agents with a new result, and
            # those whose freshest-to-expire figure passed its limit (FleetState.staleness_check;
            # a figure is stale only once ``now`` is past it, so at the limit itself nothing can
            # flip, and re-reading it then put it off over a budget build after build).
            if not (
                changed is None
                or agent_id in changed
                or now > check_at.get(agent_id, -math.inf)
                or agent_id not in self._agents
            ):
                if renote:
                    self._rebuild_escrows(agent_id, now)
                continue
            if budget is not None and len(rebuilt) >= budget and agent_id in self._agents:
                # Over this build's budget (a large fleet's burst): its view waits for the next
                # build, which comes as soon as this one is drawn (Ticker.views).
                self.deferred.add(agent_id)
                if renote:
                    self._rebuild_escrows(agent_id, now)
                continue
            stale, check_at[agent_id] = fleet.staleness_check(agent_id, now)
            flipped = self._stale.get(agent_id) != stale
            if changed is None or agent_id in changed or flipped or agent_id not in self._agents:
                self._stale[agent_id] = stale
                reason = fleet.agent_staleness(agent_id, now).reason if stale else ""
                self._rebuild(agent_id, now, midnight, stale, reason)
                rebuilt.add(agent_id)
            elif renote:
                self._rebuild_escrows(agent_id, now)
        if len(self._agents) > len(fleet.agents):  # it holds every watched agent by now
            for gone in [a for a in self._agents if a not in fleet.agents]:
                self._set_daily(gone, ())
                self._sums.drop(gone)
                caches = (self._agents, self._positions, self._escrows, self._stale, self._charts)
                for cache in (*caches, check_at):
                    cache.pop(gone, None)
                self._finished.forget(gone)
                self._finished_dirty = True
        order = list(fleet.agents)
        agents = tuple(map(self._agents.__getitem__, order))
        if self._index_version != fleet.version or len(self._index) != len(order):
            # A new mapping when the order may have moved: a view handed out keeps its own.
            self._index = {agent_id: place for place, agent_id in enumerate(order)}
            self._index_version = fleet.version
        fleet_daily = self._fleet_daily()
        totals = self._sums.view(tuple(v for _, v in fleet_daily[-SPARK_POINTS:]))
        positions = tuple(chain.from_iterable(map(self._positions.get, order, repeat(()))))
        escrows = tuple(chain.from_iterable(map(self._escrows.get, order, repeat(()))))
        return FleetView(
            at=now,
            agents=agents,
            totals=totals,
            positions=positions,
            escrows=escrows,
            finished_escrows=self._finished_rows(now),
            brake=notes.brake,
            services=self._services(),
            last_error=self.last_error,
            pnl_daily=fleet_daily,
            agent_pnl_daily=self._selected_daily(selected),
            changed_agents=frozenset(rebuilt) if changed is not None else None,
            index=self._index,
        )

    # ---- one agent --------------------------------------------------------------------------

    def _rebuild(
        self, agent_id: str, now: float, midnight: float, stale: bool, reason: str
    ) -> None:
        fleet = self.fleet
        state = fleet.agents[agent_id]
        info = state.info
        d = state.derived
        label = info.label or agent_id
        figures = state.figures
        casino = figures[DataType.CASINO].value
        pnl_hist = figures[DataType.PNL].value
        referrals = figures[DataType.REFERRALS].value
        escrows = figures[DataType.ESCROWS].value
        positions = figures[DataType.POSITIONS].value

        win = derived.win_rate_vs_expected(casino) if isinstance(casino, CasinoStats) else None
        latency = latency_summary(list(state.latencies), state.requests, state.errors)
        chart = self._charts.get(agent_id)
        if chart is None or chart[0] is not pnl_hist or chart[1] is not info:
            # What the P&L chart gives the row, worked out again only when the chart (a new
            # model from the client: an unchanged reply is the same object) or the agent did.
            sharpe = None
            if isinstance(pnl_hist, PnlHistory) and info.initial_balance:
                sharpe = derived.rolling_sharpe(pnl_hist.chart, info.initial_balance)
            chart = self._charts[agent_id] = (pnl_hist, info, sharpe)
        sharpe = chart[2]
        funnel = (
            derived.referral_funnel(referrals.stats)
            if isinstance(referrals, ReferralSnapshot)
            else None
        )
        escrow_items = escrows.escrows if isinstance(escrows, EscrowSnapshot) else ()
        fetched = [f.fetched_at for f in figures.values() if f.fetched_at is not None]
        errors = [f for f in figures.values() if f.error is not None]
        self._set_daily(agent_id, pnl_hist.chart if isinstance(pnl_hist, PnlHistory) else ())
        drawdown_pct = d.get("max_drawdown_pct")

        self._agents[agent_id] = AgentView(
            agent_id=agent_id,
            label=label,
            strategy=info.strategy,
            balance=d.get("balance"),
            pnl_today=self._pnl_today(agent_id, pnl_hist, now, midnight),
            pnl_total=d.get("pnl"),
            pnl_pct=d.get("pnl_pct"),
            open_positions=_count(d.get("positions")),
            referrals=_count(d.get("referrals")),
            referral_income=d.get("referral_income"),
            win_rate=win.actual if win else None,
            expected_win_rate=win.expected if win else None,
            casino_bets=win.bets if win else None,
            latency_p95_ms=latency.p95 * 1000 if latency.p95 is not None else None,
            error_rate=fleet.error_rate(agent_id),
            escrow_exposure=d.get("escrow_exposure"),
            sharpe_7d=sharpe,
            max_drawdown_pct=float(drawdown_pct) if drawdown_pct is not None else None,
            max_drawdown_usd=d.get("max_drawdown_usd"),
            dispute_rate=derived.escrow_dispute_rate(
                escrow_items,
                also_seen=escrows.settled_left_out if isinstance(escrows, EscrowSnapshot) else 0,
            ),
            funnel_referrals=funnel.registered if funnel else None,
            funnel_earning=funnel.transacted if funnel else None,
            updated_at=min(fetched) if fetched else None,
            stale=stale,
            stale_reason=reason if stale else "",
            last_error=str(errors[0].error) if errors else "",
        )
        self._sums.put(self._agents[agent_id])
        if isinstance(positions, Positions):
            self._positions[agent_id] = tuple(
                PositionView(
                    key=f"{agent_id}/{p.position_id}",
                    agent_id=agent_id,
                    agent_label=label,
                    pair=p.pair,
                    side=p.side,
                    size=p.size_usd if p.size_usd is not None else p.size,
                    entry=p.entry_price,
                    current=p.current_price,
                    unrealized_pnl=p.unrealized_pnl,
                    leverage=p.leverage,
                    liquidation=p.liquidation_price,
                )
                for p in positions.items
            )
        self._rebuild_escrows(agent_id, now)

    def _rebuild_escrows(self, agent_id: str, now: float) -> None:
        """The agent's escrow rows: active ones (and its live streams no polled escrow stands
        for) to :attr:`_escrows`, finished ones to the 24-hour keep."""
        fleet = self.fleet
        watched = fleet.agents
        value = watched[agent_id].figures[DataType.ESCROWS].value
        items = value.escrows if isinstance(value, EscrowSnapshot) else ()
        notes = self._notes
        brake = notes.brake

        def label(of: str | None) -> str:
            return _label_of(watched, of)

        active: list[EscrowView] = []
        finished: list[EscrowView] = []
        shown: set[str] = set()
        for e in items:
            # An escrow between two watched agents is listed once, under its creator.
            if not (e.creator_id in (None, agent_id) or e.creator_id not in watched):
                continue
            key = f"{agent_id}/{e.escrow_id}"
            first = self._finished.first_seen(key, now) if e.status.terminal else now
            row = escrow_row(
                agent_id,
                e,
                notes.escrows.get(e.escrow_id, _NO_NOTE),
                label=label,
                watched=watched,
                brake=brake,
                first_seen=first,
            )
            shown.add(e.escrow_id)
            (finished if row.finished else active).append(row)
        for stream in self._streams.get(agent_id, ()):
            if stream.escrow_id not in shown:
                note = notes.escrows.get(stream.escrow_id or "", _NO_NOTE)
                active.append(stream_row(stream, note, label=label, brake=brake))
        self._escrows[agent_id] = tuple(active)
        if finished or self._finished.keys(agent_id):
            self._finished.keep(agent_id, finished, now, finished_per_agent(len(watched)))
            self._finished_dirty = True

    def _finished_rows(self, now: float) -> tuple[EscrowView, ...]:
        """The last 24 hours' finished rows (rebuilt only when one changed, pruned each
        minute)."""
        if now - self._pruned_at >= PRUNE_EVERY_S:
            self._pruned_at = now
            self._finished.prune(now)
            self._finished_dirty = True
        if self._finished_dirty:
            self._finished_dirty = False
            self._finished_view = self._finished.rows(self.fleet.agents)
        return self._finished_view

    def _set_daily(self, agent_id: str, daily: Sequence[PnlPoint]) -> None:
        """Replace the agent's chart in the fleet's per-day sums (``()``: it has none)."""
        old = self._daily.pop(agent_id, ())
        if daily:
            self._daily[agent_id] = daily
        if old is daily:
            return
        gone, came = _moved_days(old, daily)
        if not gone and not came:
            return
        sums, counts = self._daily_sums, self._daily_counts
        for date, value in gone:
            left = counts[date] - 1
            if left:
                counts[date] = left
                sums[date] -= value
            else:
                del counts[date], sums[date]
        for date, value in came:
            counts[date] = counts.get(date, 0) + 1
            sums[date] = sums.get(date, ZERO) + value
        self._fleet_daily_view = None

    def _fleet_daily(self) -> tuple[tuple[str, Decimal], ...]:
        """Cumulative trading P&L per day summed over the agents that reported one."""
        if self._fleet_daily_view is None:
            self._fleet_daily_view = tuple(sorted(self._daily_sums.items()))[-CHART_POINTS:]
        return self._fleet_daily_view

    def _pnl_today(
        self, agent_id: str, pnl_hist: object, now: float, midnight: float
    ) -> Decimal | None:
        """Trading P&L of today's chart day plus the casino net made since UTC midnight."""
        today = datetime.fromtimestamp(now, tz=UTC).date().isoformat()
        total: Decimal | None = None
        if isinstance(pnl_hist, PnlHistory) and pnl_hist.chart:
            last = pnl_hist.chart[-1]
            total = last.daily_pnl if last.date[:10] == today else ZERO
        casino = self.fleet.since_midnight(agent_id, "casino_net", midnight)
        if casino is not None:
            total = (total or ZERO) + casino
        return total

    # ---- fleet ------------------------------------------------------------------------------

    def _services(self) -> tuple[ServiceView, ...]:
        """Per service health, fleet-wide: up, degraded (some failing) or down (all failing)."""
        views = []
        for service in SERVICES_SHOWN:
            kinds = [k for k in ALL_TYPES if SERVICE_OF[k] == service]
            polled = failing = 0
            for kind in kinds:
                p, f = self.fleet.polled_failing(kind)
                polled, failing = polled + p, failing + f
            if not polled:
                status = "idle"
            elif failing == 0:
                status = "up"
            elif failing == polled:
                status = "down"
            else:
                status = "degraded"
            views.append(
                ServiceView(service, status, error_rate=failing / polled if polled else None)
            )
        return tuple(views)
