"""Where pf-tui's files live, the starter config for ``pf-tui init``, and the run-time state file.

Paths come from platformdirs: the config at ``user_config_dir("pf-tui")/config.toml`` (or
``PF_TUI_CONFIG``, or ``--config``, which wins), the state file beside it, the SQLite store under
``user_data_dir("pf-tui")``. Everything pf-tui writes here is created 0600 in 0700 folders and
replaced atomically, so a crash never leaves half a file.
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import tomli_w
from platformdirs import user_config_dir, user_data_dir

from pf_tui.config.errors import ConfigError
from pf_tui.files import atomic_write, make_private_dir

log = logging.getLogger("pf_tui.config")

APP_NAME = "pf-tui"
CONFIG_ENV = "PF_TUI_CONFIG"
"""Environment variable naming the config file (``--config`` wins over it)."""
EXAMPLE_NAME = "config.example.toml"


def default_config_path() -> Path:
    """``user_config_dir("pf-tui")/config.toml``."""
    return Path(user_config_dir(APP_NAME)) / "config.toml"


def default_store_path() -> Path:
    """``user_data_dir("pf-tui")/pf-tui.db``: the SQLite store unless ``[store] path`` is set."""
    return Path(user_data_dir(APP_NAME)) / "pf-tui.db"


def resolve_config_path(cli_path: str | None, *, env: Mapping[str, str] | None = None) -> Path:
    """The config file to use: ``--config`` if given, else ``$PF_TUI_CONFIG``, else the default."""
    environ = os.environ if env is None else env
    if cli_path:
        return Path(cli_path).expanduser()
    from_env = environ.get(CONFIG_ENV, "").strip()
    if from_env:
        return Path(from_env).expanduser()
    return default_config_path()


def state_path_for(config_path: Path) -> Path:
    """The state file beside ``config_path``.

    ``state.toml`` for ``config.toml``, else ``<stem>.state.toml``: two profiles in one folder so
    keep separate state.
    """
    name = "state.toml" if config_path.name == "config.toml" else f"{config_path.stem}.state.toml"
    return config_path.with_name(name)


def example_config_text() -> str:
    """The packaged, commented example config."""
    return resources.files("pf_tui").joinpath(EXAMPLE_NAME).read_text(encoding="utf-8")


def write_starter_config(path: Path, *, force: bool = False) -> Path:
    """Write the packaged example config to ``path`` with mode 0600, comments kept.

    Refuses to overwrite an existing file (a :class:`ConfigError`) unless ``force``; then the old
    file is replaced atomically. Returns ``path``.
    """
    path = Path(path).expanduser()
    data = example_config_text().encode("utf-8")
    make_private_dir(path.parent)
    if force:
        atomic_write(path, data)
        return path
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(
            path, "", "already exists", "edit it, or run `pf-tui init --force` to replace it"
        ) from None
    try:
        os.fchmod(fd, 0o600)  # the umask can only remove bits; make the mode exact anyway
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def save_state(path: Path, state: Mapping[str, Any]) -> None:
    """Save the TUI's run-time state (sort, filters, theme, silences) as TOML, 0600, atomically.

    Values must be TOML-representable (str, int, bool, Decimal, datetime, lists, tables); a
    ``TypeError`` says which is not, before anything is written.
    """
    data = tomli_w.dumps(dict(state)).encode("utf-8")
    atomic_write(Path(path), data)


def load_state(path: Path) -> dict[str, Any]:
    """The saved state, ``{}`` when there is none.

    A state file that is not valid TOML is moved aside to ``<name>.corrupt`` (kept for the
    operator, never deleted) and ``{}`` is returned, so a bad state file never stops the TUI.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        log.warning(
            "state file %s unreadable (%s); starting with defaults", path, type(exc).__name__
        )
        return {}
    try:
        from decimal import Decimal

        return tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        aside = path.with_name(path.name + ".corrupt")
        try:
            os.replace(path, aside)
        except OSError as move_exc:
            log.warning(
                "state file %s is not valid TOML (%s) and could not be moved aside (%s)",
                path,
                exc,
                move_exc.strerror,
            )
            return {}
        log.warning("state file %s is not valid TOML (%s); moved to %s", path, exc, aside)
        return {}
