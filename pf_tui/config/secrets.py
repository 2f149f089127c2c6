"""Secrets from the environment, from files (Kubernetes Secret mounts) or inline, and mode checks.

A secret key ``x`` may be given as ``x_env`` (an environment variable's name), ``x_file`` (a file
whose content, less one trailing newline, is the secret), ``x_credential`` (a systemd credential:
the file of that name in ``$CREDENTIALS_DIRECTORY``, where ``LoadCredential=`` puts it, mode 0400
and readable by the service alone) or ``x`` (inline). Exactly one may be set.
Files, and the config itself, must not be readable by group or others; for a Kubernetes Secret
volume (``/run/secrets/key`` -> ``..data/key`` -> ``..2024_01_01/key``) the mode of the file the
symlinks resolve to is what counts, since the links themselves are always 0777.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from pf_tui.config.schema import Section, resolve_path
from pf_tui.secret import Secret

log = logging.getLogger("pf_tui.config")

MAX_SECRET_BYTES = 16_384
"""A key or token file larger than this is the wrong file."""


def mode_problem(path: Path) -> tuple[str, str] | None:
    """``(message, fix)`` when ``path`` (symlinks followed) is open to group or others; else None.

    0600 and 0400 pass; any group or other permission bit (0640, 0644, 0604, 0660...) fails. On
    Windows, POSIX modes mean nothing and the check is skipped.
    """
    if os.name == "nt":
        return None
    real = Path(os.path.realpath(path))
    mode = stat.S_IMODE(os.stat(real).st_mode)
    if mode & 0o077 == 0:
        return None
    shown = f"{path}" if real == Path(os.path.abspath(path)) else f"{path} (resolved to {real})"
    return (
        f"{shown} has mode {mode:04o}: group or others can read it",
        f"run chmod 600 {real} (a Kubernetes Secret volume: set defaultMode: 0400)",
    )


def read_secret_file(section: Section, key: str, path: Path) -> str:
    """The content of a key file, less one trailing newline, after the mode check."""
    shown = str(path)
    if not path.exists():
        raise section.error(
            key, f"{shown} does not exist", "create it with mode 600, or fix the path"
        )
    if not path.is_file():
        raise section.error(
            key, f"{shown} is not a regular file", "point it at the file that holds the secret"
        )
    problem = mode_problem(path)
    if problem is not None:
        raise section.error(key, *problem)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise section.error(
            key, f"cannot read {shown}: {exc.strerror}", "check the file's owner and mode"
        ) from None
    if len(data) > MAX_SECRET_BYTES:
        raise section.error(
            key,
            f"{shown} is larger than {MAX_SECRET_BYTES} bytes",
            "point it at the key file itself",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise section.error(
            key, f"{shown} is not UTF-8 text", "write the secret as plain text"
        ) from None
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    return text


CREDENTIALS_ENV = "CREDENTIALS_DIRECTORY"
"""Where systemd puts a unit's credentials (``LoadCredential=``, ``SetCredentialEncrypted=``)."""


def credential_path(section: Section, key: str, name: str, what: str) -> Path:
    """``$CREDENTIALS_DIRECTORY/<name>``, or an error saying what is missing."""
    if not name.strip() or "/" in name or name in (".", ".."):
        raise section.error(
            key, f"{name!r} is not a credential name", "give the name from LoadCredential=NAME:..."
        )
    directory = section.ctx.env.get(CREDENTIALS_ENV)
    if not directory:
        raise section.error(
            key,
            f"${CREDENTIALS_ENV} is not set",
            f"run pf-tui under systemd with LoadCredential={name}:/path/to/{what.replace(' ', '-')}"
            " (deploy/systemd/pf-tui.service), or use a _file or _env source",
        )
    return Path(directory) / name


def read_secret(section: Section, base: str, *, what: str, resolve: bool = True) -> Secret | None:
    """The secret ``base`` from ``base_env`` / ``base_file`` / ``base`` in ``section``.

    ``None`` when no source is given. More than one source, an unset variable, a missing or
    exposed file, or an empty value is a :class:`~pf_tui.config.errors.ConfigError` that names the
    source but never the value. With ``resolve=False`` only the keys are checked (a disabled
    notifier need not have its variable set).
    """
    keys = (base + "_env", base + "_file", base + "_credential", base)
    given = [k for k in keys if section.has(k)]
    if len(given) > 1:
        raise section.ctx.error(
            section.where,
            f"{' and '.join(given)} are both set",
            f"keep exactly one of {', '.join(keys)} for the {what}",
        )
    if not given:
        return None
    key = given[0]
    raw = section.string(key, None, max_len=4096)
    assert raw is not None
    if key.endswith("_env"):
        if not raw.strip():
            raise section.error(
                key, "is empty", f"name the environment variable that holds the {what}"
            )
        if not resolve:
            return None
        value = section.ctx.env.get(raw)
        if value is None:
            raise section.error(key, f"{raw} is not set", f"export it or use {keys[1]}")
        source, origin = f"env:{raw}", raw
    elif key.endswith("_credential"):
        path = credential_path(section, key, raw, what)
        if not resolve:
            return None
        value = read_secret_file(section, key, path)
        source, origin = f"credential:{raw}", str(path)
    elif key.endswith("_file"):
        if not raw.strip():
            raise section.error(key, "is empty", f"give the path of the file that holds the {what}")
        path = resolve_path(raw, section.ctx.base_dir)
        if not resolve:
            return None
        value = read_secret_file(section, key, path)
        source, origin = f"file:{path}", str(path)
    else:
        value, source, origin = raw, "config", ""
    if not value:
        raise section.error(key, f"{origin} is empty".lstrip(), f"put the {what} there")
    if not value.isprintable() or value != value.strip():
        raise section.error(
            key,
            f"the {what} from {source} has a line break, a control character or surrounding spaces",
            "store the bare value (one trailing newline in a file is fine)",
        )
    log.debug("%s: %s from %s", section.where or "config", base, source)
    return Secret(value, source)
