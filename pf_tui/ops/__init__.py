"""Money and reads for callers without a screen: the ``pf-tui`` commands and the MCP server.

The facade, small on purpose (docs/cli.md):

- :class:`~pf_tui.ops.session.OpsSession` (``async with OpsSession(config, operator=...)``):
  ``agent(ref)`` by id or label, ``select(agent, shard)``, ``escrows(agents)`` and
  ``balances(agents)`` (one read each), ``find_escrow(id)``, ``streams()``, ``stream(id)``,
  ``run(command, intent, idempotency_key=, confirm=, dry_run=)`` -> ``Outcome``, ``local(...)``
  for the stream changes that send nothing, and ``desk`` (the console's
  :class:`~pf_tui.views.money_desk.MoneyDesk`, the one door to the money core).
- :class:`~pf_tui.ops.outcome.Outcome` (``status``, ``exit_code``, ``to_json()``) and the exit
  codes ``EXIT_*``; :class:`~pf_tui.ops.outcome.OpsError` for a call that cannot go on.
- :func:`~pf_tui.ops.session.intent_key`, :func:`~pf_tui.ops.session.payroll_key`.
- :func:`~pf_tui.ops.preview.preview_lines`: the console's confirmation as plain lines.

Nothing here imports Textual or Rich (an import-linter contract).
"""
