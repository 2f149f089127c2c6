"""The Textual console: the only package that draws (with :mod:`pf_tui.cli`'s lazy import of it).

- :mod:`~pf_tui.tui.app`: composes the tabs and the chrome, binds the app-wide keys, forwards.
- :mod:`~pf_tui.tui.tabs`: the five tabs, each drawing itself from a :class:`Frame`; the money
  keys live on the Escrows and Fleet tabs.
- :mod:`~pf_tui.tui.dialogs`: modal screens; :mod:`~pf_tui.tui.dialogs.money` holds the money
  dialogs and :class:`~pf_tui.tui.dialogs.money.flow.MoneyFlow`, the steps every money key shares.
- :mod:`~pf_tui.tui.widgets`: the keyed table, cards, chart, status bar;
  :mod:`~pf_tui.tui.widgets.datatable_internals` is the one place Textual's privates are touched.
- :mod:`~pf_tui.tui.keymap` (every binding), :mod:`~pf_tui.tui.format` (styled figures),
  :mod:`~pf_tui.tui.sanitize` (untrusted text to the screen), :mod:`~pf_tui.tui.state_file`,
  :mod:`~pf_tui.tui.alert_sync`, :mod:`~pf_tui.tui.gc_pacer`, :mod:`~pf_tui.tui.commands`.

What needs no Textual (views, the tick policy, the state file's content) is :mod:`pf_tui.views`.
"""
