"""Shards (``--shard i/n``): a stable hash of the agent id, the same in every process, and n
shards that partition the fleet exactly (docs/design.md, "Scale")."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pf_tui.config import Config
from pf_tui.shard import MAX_SHARDS, Shard, ShardError, jump_hash, parse_shard, shard_of
from pf_tui.wiring import shard_config

FLEET = [f"ag_{hashlib.sha256(str(i).encode()).hexdigest()[:12]}" for i in range(5000)]
"""5,000 agent ids of the production shape (``ag_`` + 12 hex)."""


def reference_shard(agent_id: str, count: int) -> int:
    """The documented rule, written out again from the module docstring and the paper.

    Breaking it: any change to the key (another hash, other bytes, little-endian) or to the jump
    loop makes the product disagree with this on most ids.
    """
    key = int.from_bytes(hashlib.sha256(agent_id.encode("utf-8")).digest()[:8], "big")
    b, j = -1, 0
    while j < count:
        b = j
        key = (key * 2862933555777941757 + 1) % 2**64
        j = int((b + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return b


def test_jump_hash_matches_published_vectors() -> None:
    """The vectors other implementations publish (the paper's C++ ported to Rust, Go, Python).

    Breaking it: a port slip (signed shift, float rounding, a missing 64-bit wrap) moves agents.
    """
    vectors = [(1, 1, 0), (42, 57, 43), (0xDEAD10CC, 1, 0), (0xDEAD10CC, 666, 361)]
    vectors += [(256, 1024, 520), (0, 60, 0), (1, 60, 55), (2, 60, 46)]
    assert [jump_hash(key, n) for key, n, _ in vectors] == [want for _, _, want in vectors]


def test_pinned_values_never_change() -> None:
    """Fixed answers for fixed ids: a process of any later release must agree with today's.

    Breaking it: shards of a running fleet would silently swap agents after an upgrade.
    """
    assert shard_of("ag_0123456789ab", 2) == 1
    assert shard_of("ag_0123456789ab", 7) == 1
    assert [shard_of(a, 4) for a in FLEET[:8]] == [reference_shard(a, 4) for a in FLEET[:8]]


@given(st.text(min_size=1, max_size=40), st.integers(min_value=1, max_value=MAX_SHARDS))
def test_matches_the_documented_rule(agent_id: str, count: int) -> None:
    assert shard_of(agent_id, count) == reference_shard(agent_id, count)


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8])
def test_n_shards_partition_the_fleet_exactly(count: int) -> None:
    """Every agent in exactly one shard; no agent lost or doubled; shards near equal."""
    shards = [Shard(i, count).select(FLEET, lambda a: a) for i in range(count)]
    assert sorted(a for shard in shards for a in shard) == sorted(FLEET)
    assert sum(len(shard) for shard in shards) == len(FLEET)
    for shard in shards:
        assert abs(len(shard) - len(FLEET) / count) < 0.1 * len(FLEET) / count + 20


def test_growing_by_one_shard_moves_agents_only_into_the_new_one() -> None:
    """Consistent hashing: from n to n+1 shards about 1/(n+1) of agents move, all to shard n."""
    for count in (1, 2, 4):
        moved = [a for a in FLEET if shard_of(a, count) != shard_of(a, count + 1)]
        assert all(shard_of(a, count + 1) == count for a in moved)
        assert abs(len(moved) - len(FLEET) / (count + 1)) < 0.1 * len(FLEET) / (count + 1)


def test_the_same_in_another_process_with_another_hash_seed() -> None:
    """Python's hash() is salted per process; the shard must not be."""
    code = (
        "import sys; from pf_tui.shard import shard_of; "
        "print(','.join(str(shard_of(a, 3)) for a in sys.argv[1:]))"
    )
    ids = FLEET[:50]
    here = ",".join(str(shard_of(a, 3)) for a in ids)
    for seed in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-c", code, *ids],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        assert out.stdout.strip() == here


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0/2", Shard(0, 2)), (" 1 / 2 ", Shard(1, 2)), ("0/1", Shard(0, 1)), ("9/10", Shard(9, 10))],
)
def test_parse(text: str, expected: Shard) -> None:
    assert parse_shard(text) == expected
    assert parse_shard(text).label == f"{expected.index}/{expected.count}"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("2/2", "the index runs from 0 to 1"),
        ("1/0", "choose between 1 and 1024"),
        ("0/5000", "choose between 1 and 1024"),
        ("-1/2", "write it as i/n"),
        ("a/b", "write it as i/n"),
        ("1", "write it as i/n"),
        ("", "write it as i/n"),
    ],
)
def test_parse_refuses(text: str, why: str) -> None:
    with pytest.raises(ShardError, match=why):
        parse_shard(text)


def _config(tmp_path: Path) -> Config:
    agents: list[dict[str, object]] = [
        {"agent_id": a, "label": f"agent-{i}", "keys": {"casino": f"sk_live_{i:048x}"}}
        for i, a in enumerate(FLEET[:40])
    ]
    return Config.demo("http://127.0.0.1:9", agents, store_path=tmp_path / "pf-tui.db")


def test_shard_config_keeps_its_agents_in_order_and_a_store_of_its_own(tmp_path: Path) -> None:
    config = _config(tmp_path)
    assert shard_config(config, None) is config
    parts = [shard_config(config, Shard(i, 3)) for i in range(3)]
    ids = [a.id for a in config.agents]
    for i, part in enumerate(parts):
        mine = [a.id for a in part.agents]
        assert mine == [a for a in ids if shard_of(a, 3) == i]  # config order kept
        assert part.store.path == tmp_path / f"pf-tui.shard-{i}-of-3.db"
        assert part.shard == f"{i}/3"
        assert part.profile == config.profile
    assert sorted(a.id for p in parts for a in p.agents) == sorted(ids)


@pytest.mark.parametrize(
    ("value", "message"),
    [("2/2", "the index runs from 0 to 1"), ("x", "write it as i/n")],
)
def test_cli_refuses_a_bad_shard_with_exit_2(value: str, message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pf_tui", "--headless", "--once", "--shard", value],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("PF_")},
    )
    assert result.returncode == 2
    assert f"--shard: shard {value!r}" in result.stderr or message in result.stderr
    assert message in result.stderr


def test_cli_help_explains_shards() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pf_tui", "--help"], capture_output=True, text=True, timeout=60
    )
    assert "--shard I/N" in result.stdout and "stable hash of each agent id" in result.stdout
