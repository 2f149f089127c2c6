"""What the console shows and decides, without Textual or Rich (an import-linter contract).

- :mod:`~pf_tui.views.model`: the frozen views a tick puts on screen (:class:`FleetView`).
- :mod:`~pf_tui.views.feed`: the engine's fleet state to those views, incrementally.
- :mod:`~pf_tui.views.ticker`: when a new view is made (the tick policy the TUI's worker follows).
- :mod:`~pf_tui.views.alert_log` and :mod:`~pf_tui.views.daemon_alerts`: the Alerts tab's log
  and the daemon's rows and heartbeat read from the shared store.
- :mod:`~pf_tui.views.money_desk`: the console's one door to the money-actions core.
- :mod:`~pf_tui.views.saved_state`: what the state file holds and how a loaded one is read.
- :mod:`~pf_tui.views.times`: times, ages and durations as plain text.

:mod:`pf_tui.tui` draws these; tests check them without a terminal.
"""
