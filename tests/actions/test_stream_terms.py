"""The preview of an open, a release and a close carries the stream's terms: payee, rate, unit,
budget, batch and the 1% fee over the whole budget (what the confirmation shows)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pf_tui.core.money.types import StreamMode, StreamUnit
from pf_tui.sim.http.server import SimServer

from .helpers import Harness, open_intent


async def test_native_open_preview_carries_the_terms(sim: SimServer, tmp_path: Path) -> None:
    async with Harness(sim.url, tmp_path / "s.sqlite3") as h:
        intent = open_intent(sim.url, rate="0.02", budget="3", batch="3")
        preview = await h.engine.preview(intent)
        terms = preview.terms
        assert terms is not None
        assert (terms.payee, terms.rate, terms.unit) == (
            intent.payee,
            Decimal("0.02"),
            StreamUnit.CALL,
        )
        assert (terms.budget, terms.batch) == (Decimal("3"), Decimal("3"))
        assert terms.fee_total == Decimal("0.03") and terms.net_total == Decimal("2.97")
        assert preview.fee == 0  # opening releases nothing: the fee is paid per release


async def test_tranche_fee_total_counts_each_tranche(sim: SimServer, tmp_path: Path) -> None:
    async with Harness(sim.url, tmp_path / "s.sqlite3") as h:
        intent = open_intent(sim.url, budget="2.50", batch="1", mode=StreamMode.TRANCHE)
        preview = await h.engine.preview(intent)
        terms = preview.terms
        assert terms is not None and terms.batch == Decimal("1")
        # two tranches of $1.00 (1 cent each) and one of $0.50 (half a cent)
        assert terms.fee_total == Decimal("0.025")
        assert preview.tranche_fee == Decimal("0.01")
