"""Ids and keys drawn from a seeded RNG, so a seed fixes every id the simulator hands out."""

from __future__ import annotations

import random
import uuid

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


class Ids:
    """Id factory over one ``random.Random``."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def hex(self, n: int) -> str:
        """``n`` lowercase hex digits."""
        return f"{self._rng.getrandbits(4 * n):0{n}x}"

    def agent(self) -> str:
        return "ag_" + self.hex(12)

    def referral(self) -> str:
        return "ref_" + self.hex(8)

    def escrow(self) -> str:
        return "esc_" + self.hex(16)

    def position(self) -> str:
        return "pos_" + str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def bet(self) -> str:
        return "bet_" + self.hex(16)

    def claim(self) -> str:
        return "clm_" + self.hex(16)

    def casino_key(self) -> str:
        return "sk_live_" + self.hex(48)

    def trading_key(self) -> str:
        return "sk_trade_" + self.hex(48)

    def wallet_key(self) -> str:
        return "pk_live_" + self.hex(48)

    def base_address(self) -> str:
        return "0x" + self.hex(40)

    def solana_address(self) -> str:
        return "".join(self._rng.choice(_B58) for _ in range(44))
