"""The command line: usage errors exit 2 with a clear line, config errors name file/key/fix."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pf_tui.cli import main


def run(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PF_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pf_tui", *argv],
        capture_output=True,
        text=True,
        env=full_env,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )


def test_help_lists_every_command() -> None:
    result = run("--help")
    assert result.returncode == 0
    for word in (
        "--demo",
        "--headless",
        "--once",
        "--metrics-port",
        "--read-only",
        "--config",
        "sim",
        "init",
        "check",
    ):
        assert word in result.stdout


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("pf-tui ")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--once"], "--once needs --headless"),
        (["--metrics-port", "9100"], "--metrics-port needs --headless"),
        (
            ["--headless", "--metrics-port", "0"],
            "--metrics-port 0: choose a port between 1 and 65535",
        ),
        (["--demo", "--agents", "0"], "--agents 0: choose between 1 and 5000"),
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["sim", "--port", "x"], "argument --port: invalid int value: 'x'"),
    ],
)
def test_bad_usage_exits_2_with_one_clear_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Try 'pf-tui" in err


def test_first_run_without_config_points_at_init_and_demo(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "config.toml"
    result = run("--config", str(missing), env={"PF_TUI_FORCE_TTY": "1"})
    assert result.returncode == 2
    assert str(missing) in result.stderr
    assert "pf-tui init" in result.stderr
    assert "pf-tui --demo" in result.stderr


def test_env_config_path_is_used(tmp_path: Path) -> None:
    missing = tmp_path / "env.toml"
    result = run("check", env={"PF_TUI_CONFIG": str(missing)})
    assert result.returncode == 2
    assert str(missing) in result.stderr + result.stdout


def test_init_writes_0600_and_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "config.toml"
    first = run("init", "--config", str(path))
    assert first.returncode == 0, first.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "[[agents]]" in path.read_text()
    again = run("init", "--config", str(path))
    assert again.returncode == 2
    assert str(path) in again.stderr
    forced = run("init", "--config", str(path), "--force")
    assert forced.returncode == 0


def test_bad_config_names_file_key_and_fix(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[polling]\nbalanse = 10\n")
    path.chmod(0o600)
    result = run("check", "--config", str(path))
    assert result.returncode == 2
    assert str(path) in result.stderr + result.stdout
    assert "balanse" in result.stderr + result.stdout
    assert "balance" in result.stderr + result.stdout  # the did-you-mean hint


def test_world_readable_config_is_refused_with_chmod_hint(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('profile = "x"\n')
    path.chmod(0o644)
    result = run("check", "--config", str(path))
    assert result.returncode == 2
    assert "chmod 600" in result.stderr + result.stdout


def test_console_without_a_terminal_says_so(tmp_path: Path) -> None:
    result = run("--demo")
    assert result.returncode == 2
    assert "needs a terminal" in result.stderr


def test_sim_rejects_a_bad_fault_spec() -> None:
    result = run("sim", "--port", "0", "--faults", "[{not json")
    assert result.returncode == 2
    assert "faults" in (result.stderr + result.stdout).lower()


def test_the_console_starts_with_the_collector_off_and_gets_it_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Start-up runs with the automatic collector off (its passes over the objects start-up
    makes were a tenth of the demo's cold start, pf_tui/tui/gc_pacer.py); however the console
    ends, the collector is on again afterwards."""
    import gc

    from pf_tui import cli

    seen: list[bool] = []

    def console(config: object, args: object) -> int:
        seen.append(gc.isenabled())
        raise KeyboardInterrupt  # the console ending early, the hard way

    monkeypatch.setenv("PF_TUI_FORCE_TTY", "1")
    monkeypatch.setattr(cli, "_run_console", console)
    assert main(["--demo"]) == 0
    assert seen == [False]
    assert gc.isenabled()
