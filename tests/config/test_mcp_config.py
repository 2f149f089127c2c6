"""``[mcp]``: which agents MCP clients may move money for, and the per-call and per-hour limits."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from pf_tui.config import ConfigError, McpConfig

from .helpers import load_text

AGENTS = (
    '[[agents]]\nid = "ag_0123456789ab"\nlabel = "alpha"\n'
    '[[agents]]\nid = "ag_fedcba987654"\nlabel = "beta"\n'
    '[[agents]]\nid = "ag_aaaaaaaaaaaa"\nlabel = "beta"\n'
)


def test_defaults_refuse_every_write(tmp_path: Path) -> None:
    config = load_text(tmp_path, AGENTS)
    assert config.mcp == McpConfig()
    assert config.mcp.write_agents == ()
    assert (config.mcp.max_call_usd, config.mcp.max_hour_usd) == (Decimal(10), Decimal(50))


def test_agents_by_id_or_label_become_ids(tmp_path: Path) -> None:
    text = AGENTS + '[mcp]\nwrite_agents = ["alpha", "ag_fedcba987654", "ag_0123456789ab"]\n'
    text += 'max_call_usd = "2.50"\nmax_hour_usd = 20\n'
    mcp = load_text(tmp_path, text).mcp
    assert mcp.write_agents == ("ag_0123456789ab", "ag_fedcba987654")
    assert mcp.max_call_usd == Decimal("2.50") and mcp.max_hour_usd == Decimal(20)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('write_agents = ["gamma"]', "mcp.write_agents: 'gamma' names no agent in [[agents]]"),
        ('write_agents = ["beta"]', "'beta' is the label of several agents"),
        ('write_agents = ""', "mcp.write_agents: expected an array of strings"),
        ("write_agents = [1]", "mcp.write_agents: expected an array of strings"),
        ('write_agents = ["\\u001b[2J"]', "an entry names no agent"),
        ("max_call_usd = 0", "mcp.max_call_usd: must be more than 0"),
        ("max_call_usd = 1e2", "mcp.max_call_usd: uses an exponent"),
        ("max_hour_usd = 2000000", "mcp.max_hour_usd: 2000000 is out of range"),
        ("max_call_usd = 60\nmax_hour_usd = 50", "mcp.max_call_usd: 60 is above max_hour_usd 50"),
        ("writes = true", "mcp.writes: unknown key"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_text(tmp_path, AGENTS + "[mcp]\n" + body + "\n")
