"""The one error type a bad configuration raises, and its first-run variant.

Every problem with a config file becomes a :class:`ConfigError` whose ``str`` is one line naming
the file, the key and the fix, so the CLI can print it and exit 2. Messages never contain a secret
value: callers describe a secret by its key and source only.
"""

from __future__ import annotations

from pathlib import Path


def one_line(text: str) -> str:
    """``text`` with every control, escape or bidi character replaced: one line, safe to print."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


class ConfigError(Exception):
    """A configuration problem: ``path: key: message; fix`` on one line."""

    def __init__(self, path: Path | str | None, key: str, message: str, fix: str = "") -> None:
        self.path = path
        """The file that holds the problem (``None`` for a config built in memory)."""
        self.key = key
        """Dotted key path inside the file, e.g. ``agents[2].casino_key_env`` ('' for the file)."""
        self.message = message
        """What is wrong."""
        self.fix = fix
        """What to do about it."""
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [str(self.path) if self.path is not None else "config"]
        if self.key:
            parts.append(self.key)
        text = ": ".join(parts) + ": " + self.message
        if self.fix:
            text += "; " + self.fix
        return one_line(text)


class MissingConfigError(ConfigError):
    """No config file yet: the first run. Says how to make one or how to try the demo."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(
            path,
            "",
            "no config here",
            "run `pf-tui init` to write one, or `pf-tui --demo` to try it against the simulator",
        )

    def __str__(self) -> str:
        return one_line(
            f"no config at {self.path}; run `pf-tui init` to write one, "
            "or `pf-tui --demo` to try it against the simulator"
        )
