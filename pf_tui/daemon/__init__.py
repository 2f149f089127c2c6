"""``pf-tui --headless``: the alert daemon (no screen, no Textual).

- :mod:`~pf_tui.daemon.loop`: the event loop: poller -> fleet state -> alert rules -> outbox ->
  receivers, signals, ``--once``;
- :mod:`~pf_tui.daemon.logs`: JSON-lines logs with every configured secret masked;
- :mod:`~pf_tui.daemon.metrics`: the Prometheus ``/metrics`` registry.
"""
