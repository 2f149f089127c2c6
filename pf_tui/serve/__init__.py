"""``pf-tui serve``: the console in a browser, through textual-serve's app runner, made safe.

textual-serve runs one copy of the app per browser WebSocket and relays the terminal stream; on
its own it has no authentication and accepts a WebSocket from any Origin, so any page the
operator visits could drive the money keys. This package keeps its app runner (``AppService``)
and its page and scripts, and puts its own aiohttp server around them:

- ``auth.py``: the access token (generated, or from a file or ``$PF_TUI_SERVE_TOKEN``), the
  session cookie derived from it, and the Origin rule;
- ``server.py``: the routes, the guard on every request, the session limit, the child command
  (read-only unless ``--write``).

Nothing here imports Textual or Rich: each session's app is a child process (``pf-tui``).
"""
