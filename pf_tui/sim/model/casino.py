"""Casino games at the house edge (0.5%): coin-flip pays 1.99x, dice 0.995/p (docs/api.md §7)."""

from __future__ import annotations

import random
from decimal import Decimal

from pf_tui.sim.model.accounts import Accounts, Agent, GameTally
from pf_tui.sim.model.errors import ApiError
from pf_tui.sim.model.ids import Ids
from pf_tui.sim.model.num import ZERO, iso, num, parse_amount, q2, q4_down
from pf_tui.usd import JSON

MIN_BET = Decimal("0.01")
COIN_FLIP_MULTIPLIER = Decimal("1.99")
EDGE_FACTOR = Decimal("0.995")
GAME_PLAYS_PER_MINUTE = 60


def dice_multiplier(direction: str, threshold: int) -> Decimal:
    """0.995 / p, rounded down to 4 dp; p is the chance the roll lands on the chosen side."""
    p = Decimal(100 - threshold) / 100 if direction == "over" else Decimal(threshold) / 100
    return q4_down(EDGE_FACTOR / p)


class Casino:
    """Plays games against the house account; records bets and per-game stats on the agent."""

    def __init__(self, accounts: Accounts, ids: Ids, rng: random.Random) -> None:
        self.accounts = accounts
        self.ids = ids
        self.rng = rng
        self.play_limit: int | None = GAME_PLAYS_PER_MINUTE

    def check_play_rate(self, agent: Agent, at: float) -> None:
        """60 plays a minute per agent (fixed window), then 429 ``rate_limit_exceeded``."""
        if self.play_limit is None:
            return
        window = at - at % 60
        if agent.game_window[0] != window:
            agent.game_window[0] = window
            agent.game_window[1] = 0
        if agent.game_window[1] >= self.play_limit:
            raise ApiError(
                429,
                "rate_limit_exceeded",
                "too many game plays; slow down",
                reset_at=iso(window + 60),
            )
        agent.game_window[1] += 1

    def _stake(self, agent: Agent, raw: JSON) -> Decimal:
        amount = parse_amount(raw)
        if amount < 0:
            raise ApiError(400, "invalid_amount", "amount must be positive")
        if amount < MIN_BET:
            raise ApiError(400, "minimum_bet", "the minimum bet is 0.01")
        if amount > agent.casino:
            raise ApiError(
                400,
                "insufficient_balance",
                "balance too low for this bet",
                balance=num(agent.casino),
            )
        return amount

    def coin_flip(self, agent: Agent, side: JSON, raw_amount: JSON, at: float) -> dict[str, JSON]:
        amount = self._stake(agent, raw_amount)
        if side not in ("heads", "tails"):
            raise ApiError(400, "invalid_side", "side must be heads or tails")
        landed = "heads" if self.rng.random() < 0.5 else "tails"
        return self._settle(
            agent, "coin-flip", amount, landed == side, COIN_FLIP_MULTIPLIER, at, {"result": landed}
        )

    def dice(
        self, agent: Agent, direction: JSON, threshold: JSON, raw_amount: JSON, at: float
    ) -> dict[str, JSON]:
        amount = self._stake(agent, raw_amount)
        if direction not in ("over", "under"):
            raise ApiError(400, "invalid_direction", "direction must be over or under")
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, int)
            or not 1 <= threshold <= 99
        ):
            raise ApiError(
                400, "invalid_threshold", "threshold must be a whole number from 1 to 99"
            )
        roll = Decimal(self.rng.randrange(0, 10000)) / 100
        won = roll > threshold if direction == "over" else roll < threshold
        mult = dice_multiplier(direction, threshold)
        return self._settle(agent, "dice", amount, won, mult, at, {"roll": num(roll)})

    def _settle(
        self,
        agent: Agent,
        game: str,
        amount: Decimal,
        won: bool,
        mult: Decimal,
        at: float,
        extra: dict[str, JSON],
    ) -> dict[str, JSON]:
        bet_id = self.ids.bet()
        acc = self.accounts
        acc.post(agent, -amount, "bet", at, reason=f"{game} bet", reference=bet_id)
        acc.house += amount
        payout = q2(amount * mult) if won else ZERO
        if payout:
            acc.post(agent, payout, "win", at, reason=f"{game} win", reference=bet_id)
            acc.house -= payout
        agent.total_bets += 1
        agent.wins += int(won)
        agent.wagered += amount
        agent.won += payout
        tally = agent.by_game.setdefault(game, GameTally())
        tally.bets += 1
        tally.wagered += amount
        tally.won += payout
        tally.wins += int(won)
        agent.bets.append(
            (
                at,
                {
                    "id": bet_id,
                    "game": game,
                    "amount": num(amount),
                    "amount_won": num(payout),
                    "multiplier": num(mult),
                    "won": won,
                    "net": num(payout - amount),
                    "at": iso(at),
                },
            )
        )
        reply: dict[str, JSON] = {
            "bet_id": bet_id,
            "won": won,
            "amount_won": num(payout),
            "new_balance": num(agent.casino),
            "payout_multiplier": num(mult),
        }
        reply.update(extra)
        return reply
