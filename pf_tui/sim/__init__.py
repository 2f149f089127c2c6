"""The embedded Purple Flea simulator.

Pure state (``state``, ``accounts``, ``market``, ``casino``, ``escrow``, ``faucet``, ``fleet``, ...)
lives apart from the HTTP layer (``http``, ``routes_*``, ``app``, ``server``). Nothing here imports
``pf_tui.api`` or ``pf_tui.core``, so a client test against the simulator can fail when either is
wrong. Build an app with :func:`pf_tui.sim.http.app.create_app`, serve it with
:class:`pf_tui.sim.http.server.SimServer`.
"""
