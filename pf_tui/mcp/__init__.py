"""``pf-tui mcp``: an MCP server over stdio for AI agents (issue 14), on the official SDK.

- :mod:`~pf_tui.mcp.server`: the server, its nine tools and their hints, logging on stderr.
- :mod:`~pf_tui.mcp.tools`: what each tool does, through the scripted-money facade
  (:mod:`pf_tui.ops`) and so through the console's own money core.
- :mod:`~pf_tui.mcp.policy`: ``[mcp]`` (the agents writes may act for, per-call and per-hour
  limits) applied to each previewed action.
- :mod:`~pf_tui.mcp.models`, :mod:`~pf_tui.mcp.convert`: the typed results (money as exact
  decimal strings, untrusted text escaped).

Nothing here imports Textual or Rich (an import-linter contract).
"""
