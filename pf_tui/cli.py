"""The `pf-tui` command line: flags and subcommands, dispatched lazily.

Nothing heavy is imported at module level, so `pf-tui --help`, `pf-tui check` and the headless
daemon start quickly and the daemon never pulls in Textual. Exit codes (docs/design.md, "CLI"):
0 ok, 1 runtime failure, 2 bad usage or bad config (the message names the file, key and fix), 3
from `--headless --once` when an alert is firing.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from pf_tui import __version__

if TYPE_CHECKING:
    from pf_tui.config import Config
    from pf_tui.shard import Shard

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_USAGE = 2
_OPS_COMMANDS = ("escrow", "stream", "faucet", "payroll")
"""The scripted commands (pf_tui/ops/commands.py), dispatched to ``run_command``."""
WEB_DRIVER = "textual.drivers.web_driver:WebDriver"
"""What textual-serve sets ``$TEXTUAL_DRIVER`` to for the app it runs."""

_EPILOG = """\
commands:
  pf-tui                 the console, using your config file
  pf-tui --demo          the console against the embedded simulator (no account, no keys)
  pf-tui --headless      the alert daemon (Telegram, webhook, JSON log, /metrics)
  pf-tui serve           the console in a browser (token, loopback, read-only unless --write)
  pf-tui sim             run the Purple Flea simulator on 127.0.0.1
  pf-tui init            write a documented starter config (mode 0600)
  pf-tui check           validate config, secrets' sources, permissions and reachability
  pf-tui escrow ...      list, show, create, release, release-partial, close, dispute,
                         complete escrows
  pf-tui payroll         release the fleet's escrows older than --older-than (cron, hourly)
  pf-tui stream ...      open, release, pause, resume, close pf-tui's payment streams
  pf-tui faucet claim    claim the faucet for an agent (not claimable exits 0 with a reason)
  pf-tui mcp             an MCP server on stdio for AI agents (writes per [mcp] in the config)
  pf-tui watch-jobs      the Kubernetes Job operator: a Job's escrow released or disputed

scripting: money commands ask on a terminal and need --yes off one; --json prints one object;
--idempotency-key makes a rerun reuse its action. Exit codes 0 done, 1 failed, 2 usage or
config, 4 refused (limit, brake, read-only), 5 outcome unknown (docs/cli.md).

shards: --shard i/n makes the console or the daemon watch only shard i of n (0-based) of the
agents, chosen by a stable hash of each agent id, with a store of its own (docs/design.md, Scale).

config: --config PATH, else $PF_TUI_CONFIG, else the platform config dir.

keys: ? lists every key; q, ctrl+q or ctrl+c quits (SIGTERM and SIGHUP quit the same way).
"""

_SIM_EPILOG = """\
the demo story (on unless --no-story; every 240 simulated seconds from the start):
  12-40 s    a casino outage: every /casino/api/v1/ request answers 503
  55-80 s    a casino grinder moves all but $40 to its trading account (low balance), then back
  The last demo agent is a newcomer with no deposit: the faucet (f) works for it.

controls (JSON; docs/api.md section 6):
  GET    /_sim/agents          the demo fleet: ids, labels, keys (what --demo --sim reads)
  GET    /_sim/state           balances, escrows, house, conservation check
  GET    /_sim/story           the story's schedule and what is happening now
  GET    /_sim/requests?since_seq=N   every request seen (status, fault, idempotency key)
  GET|POST|DELETE /_sim/faults list, add or clear fault rules:
           {"route": "/casino/api/v1/*", "kind": "error", "status": 503, "rate": 1}
           kinds: latency error rate_limit reset hang truncate malformed html empty db_fallback
  GET|POST /_sim/config        {"limits": "production|off|xN", "motion": bool, "story": bool,
                                "idempotency_on_classic": bool}
  GET|POST /_sim/clock         {"advance_s": 60} moves simulated time, running what falls due
  POST   /_sim/pause, /_sim/resume, /_sim/reset
  GET    /telegram/_sent       what the Telegram stand-in was sent

break something (with the console or daemon pointed at this simulator):
  pf-tui --demo --sim http://127.0.0.1:8787                    (in a second terminal)
  curl -X POST http://127.0.0.1:8787/_sim/faults \\
       -d '{"route": "/escrow/*", "kind": "error", "status": 503}'
  watch the status bar and the Alerts tab (5), then: curl -X DELETE .../_sim/faults
"""


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one clear line (and a pointer to --help) on bad usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\nTry '{self.prog} --help'.\n")


def _add_config_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="config file (default: $PF_TUI_CONFIG, else the platform config dir)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The whole command line, for `main` and for tests."""
    parser = _Parser(
        prog="pf-tui",
        description="Operator console for fleets of AI agents on Purple Flea.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"pf-tui {__version__}")
    _add_config_flag(parser)
    parser.add_argument(
        "--demo", action="store_true", help="run against the embedded simulator (no account needed)"
    )
    parser.add_argument(
        "--headless", action="store_true", help="run as the alert daemon, no screen"
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="with --headless: poll once, evaluate every rule, exit 3 if any alert fires",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        metavar="N",
        help="with --headless: serve Prometheus /metrics on 127.0.0.1:N",
    )
    parser.add_argument(
        "--metrics-host",
        metavar="ADDR",
        default="127.0.0.1",
        help="with --metrics-port: the address to bind (default 127.0.0.1; 0.0.0.0 in a pod)",
    )
    parser.add_argument(
        "--read-only", action="store_true", help="hide and refuse every money action"
    )
    parser.add_argument(
        "--shard",
        metavar="I/N",
        help="watch only shard I of N (0-based) of the agents; each shard has its own store",
    )
    parser.add_argument(
        "--agents",
        type=int,
        default=8,
        metavar="N",
        help="with --demo: how many simulated agents (default 8)",
    )
    parser.add_argument(
        "--seed", type=int, default=42, metavar="S", help="with --demo: simulator seed (default 42)"
    )
    parser.add_argument(
        "--sim",
        metavar="URL",
        help="with --demo: use the simulator already running at URL (see 'pf-tui sim') "
        "instead of starting one",
    )

    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    sim = sub.add_parser(
        "sim",
        help="run the Purple Flea simulator",
        description="Run the embedded Purple Flea simulator (docs/api.md) on loopback.",
        epilog=_SIM_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sim.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sim.add_argument(
        "--port", type=int, default=8787, help="port (default 8787; 0 picks a free one)"
    )
    sim.add_argument("--agents", type=int, default=8, help="demo agents (default 8)")
    sim.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sim.add_argument(
        "--faults", metavar="SPEC", help="fault rules: a JSON list, or a path to a JSON file"
    )
    sim.add_argument(
        "--limits",
        default="production",
        metavar="production|off|xN",
        help="rate limits (default production)",
    )
    sim.add_argument(
        "--no-motion", dest="motion", action="store_false", help="freeze the demo fleet's motion"
    )
    sim.add_argument(
        "--no-story",
        dest="story",
        action="store_false",
        help="leave out the demo story's scripted incidents",
    )

    serve = sub.add_parser(
        "serve",
        help="the console in a browser",
        description=(
            "Serve the console to a browser through textual-serve: on 127.0.0.1 by default,"
            " behind an access token (generated and printed once, or --token-file, or"
            " $PF_TUI_SERVE_TOKEN), WebSockets only from the public URL's origin, read-only"
            " unless --write. Each browser tab runs its own console (a full poller), so at most"
            " --max-sessions run at once."
        ),
    )
    _add_config_flag(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument(
        "--public-url",
        metavar="URL",
        help="the URL browsers use, behind a tunnel or proxy (default http://HOST:PORT)",
    )
    serve.add_argument(
        "--token-file", metavar="PATH", help="read the access token from this file (mode 600)"
    )
    serve.add_argument("--write", action="store_true", help="allow money actions from the browser")
    serve.add_argument(
        "--max-sessions",
        type=int,
        default=2,
        metavar="N",
        help="browser sessions at once, 1..16 (default 2; each polls the whole fleet)",
    )
    serve.add_argument(
        "--demo", action="store_true", help="serve the demo (each session its own simulator)"
    )
    serve.add_argument("--agents", type=int, default=8, help="with --demo: agents (default 8)")
    serve.add_argument("--seed", type=int, default=42, help="with --demo: seed (default 42)")

    init = sub.add_parser(
        "init",
        help="write a starter config",
        description="Write the documented starter config with mode 0600.",
    )
    _add_config_flag(init)
    init.add_argument("--force", action="store_true", help="overwrite an existing file")

    check = sub.add_parser(
        "check",
        help="validate config and reachability",
        description=(
            "Validate config, secrets' sources, permissions, and check each service is reachable."
        ),
    )
    _add_config_flag(check)

    mcp = sub.add_parser(
        "mcp",
        help="an MCP server on stdio for AI agents",
        description=(
            "Serve the Model Context Protocol on stdin/stdout for an AI agent's MCP client:"
            " fleet_status, agent_status, escrow_list, escrow_status, and the writes"
            " escrow_create, escrow_release, escrow_close, escrow_dispute, faucet_claim."
            " Writes are refused unless [mcp] write_agents names the acting agent, within"
            " [mcp] max_call_usd and max_hour_usd. Logs go to stderr."
        ),
    )
    _add_config_flag(mcp)
    mcp.add_argument("--read-only", action="store_true", help="refuse every write tool")

    jobs = sub.add_parser(
        "watch-jobs",
        help="the Kubernetes Job operator: release or dispute a Job's escrow when it ends",
        description=(
            "Watch the batch/v1 Jobs of one namespace. A Job annotated purpleflea.com/escrow-id "
            "has that escrow released when it completes and disputed when it fails, exactly once "
            "per Job uid and outcome, through the same money core as the console; the outcome is "
            "written back as the purpleflea.com/escrow-outcome annotation (README, Kubernetes "
            "Job operator). Kubernetes access: the pod's service account, else $KUBECONFIG or "
            "~/.kube/config, or --kube-url. JSON-line logs on stderr; SIGTERM stops it."
        ),
    )
    _add_config_flag(jobs)
    jobs.add_argument(
        "--namespace",
        metavar="NS",
        default=None,
        help="the namespace to watch (default: the pod's own, else 'default')",
    )
    jobs.add_argument(
        "--kube-url",
        metavar="URL",
        default=None,
        help="talk to this API server as is, without credentials (kubectl proxy, tests)",
    )
    jobs.add_argument(
        "--resync",
        metavar="SECONDS",
        type=float,
        default=60.0,
        help="list every Job again this often; unknown outcomes are retried then (default 60)",
    )

    from pf_tui.ops.commands import add_parsers

    add_parsers(sub, _add_config_flag)
    return parser


def _validate(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.command == "watch-jobs" and not 5 <= args.resync <= 3600:
        parser.error(f"--resync {args.resync:g}: choose between 5 and 3600 seconds")
    if args.command == "serve":
        if not 0 < args.port < 65536:
            parser.error(f"--port {args.port}: choose a port between 1 and 65535")
        if not 1 <= args.max_sessions <= 16:
            parser.error(f"--max-sessions {args.max_sessions}: choose between 1 and 16")
        if args.demo and getattr(args, "config", None):
            parser.error("--demo builds its own config; drop --config")
        if args.public_url is not None:
            from urllib.parse import urlsplit

            parts = urlsplit(args.public_url)
            if parts.scheme not in ("http", "https") or not parts.hostname or parts.password:
                parser.error(f"--public-url {args.public_url!r}: give an http(s) URL, no password")
    if args.command in _OPS_COMMANDS and getattr(args, "shard", None) is not None:
        from pf_tui.shard import ShardError, parse_shard

        try:
            parse_shard(args.shard)
        except ShardError as exc:
            parser.error(f"--shard: {exc}")
    if args.command is None:
        if args.once and not args.headless:
            parser.error("--once needs --headless")
        if args.metrics_port is not None and not args.headless:
            parser.error("--metrics-port needs --headless")
        if args.metrics_host != "127.0.0.1":
            import ipaddress

            if args.metrics_port is None:
                parser.error("--metrics-host needs --metrics-port")
            try:
                ipaddress.ip_address(args.metrics_host)
            except ValueError:
                parser.error(f"--metrics-host {args.metrics_host!r}: give an IP address")
        if args.metrics_port is not None and not 0 < args.metrics_port < 65536:
            parser.error(f"--metrics-port {args.metrics_port}: choose a port between 1 and 65535")
        if not 1 <= args.agents <= 5000:
            parser.error(f"--agents {args.agents}: choose between 1 and 5000")
        if args.demo and getattr(args, "config", None):
            parser.error("--demo builds its own config; drop --config")
        if args.sim is not None and not args.demo:
            parser.error("--sim needs --demo")
        if args.shard is not None:
            from pf_tui.shard import ShardError, parse_shard

            try:
                parse_shard(args.shard)
            except ShardError as exc:
                parser.error(f"--shard: {exc}")


def _shard(args: argparse.Namespace) -> Shard | None:
    """``--shard`` as a :class:`~pf_tui.shard.Shard` (validated already), or None."""
    if getattr(args, "shard", None) is None:
        return None
    from pf_tui.shard import parse_shard

    return parse_shard(args.shard)


def _sharded(config: Config, args: argparse.Namespace) -> Config:
    """``config`` narrowed to ``--shard``'s agents and store (unchanged without the flag)."""
    shard = _shard(args)
    if shard is None:
        return config  # no import of the engine's wiring just to change nothing
    from pf_tui.wiring import shard_config

    return shard_config(config, shard)


def _config_path(args: argparse.Namespace) -> Path:
    from pf_tui.config import resolve_config_path

    return resolve_config_path(getattr(args, "config", None))


def _load(args: argparse.Namespace) -> Config:
    from pf_tui.config import load_config

    return load_config(_config_path(args))


def _cmd_sim(args: argparse.Namespace) -> int:
    from pf_tui.sim.http.server import main as sim_main

    return sim_main(args)


def _cmd_init(args: argparse.Namespace) -> int:
    from pf_tui.config import write_starter_config

    path = _config_path(args)
    written = write_starter_config(path, force=args.force)
    print(f"wrote {written} (mode 0600)")
    print(
        "next: edit the [[agents]] entries, export the key variables it names, "
        "then run 'pf-tui check'"
    )
    return EXIT_OK


def _cmd_check(args: argparse.Namespace) -> int:
    from pf_tui.check import run_check

    return run_check(_config_path(args), sys.stdout)


def _cmd_mcp(args: argparse.Namespace) -> int:
    config = _load(args)  # a bad config exits 2 before the protocol starts
    from pf_tui.mcp.server import run_mcp

    return run_mcp(config, read_only=args.read_only)


def _cmd_serve(args: argparse.Namespace) -> int:
    from pf_tui.serve.auth import TokenError, load_token
    from pf_tui.serve.server import ServeOptions, child_command, serve_forever

    config_path = None
    if not args.demo:
        config_path = _config_path(args)
        _load(args)  # a bad config is reported now, not in every browser tab
    try:
        token, generated = load_token(Path(args.token_file) if args.token_file else None)
    except (TokenError, OSError) as exc:
        print(f"pf-tui serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
    options = ServeOptions(
        token=token,
        command=child_command(
            config=config_path,
            demo=args.demo,
            agents=args.agents,
            seed=args.seed,
            write=args.write,
        ),
        host=args.host,
        port=args.port,
        public_url=args.public_url or "",
        max_sessions=args.max_sessions,
        write=args.write,
    )
    return serve_forever(options, generated=generated, out=sys.stdout)


def _cmd_ops(args: argparse.Namespace) -> int:
    from pf_tui.ops.commands import run_command

    return run_command(args, _load(args), read_only=args.read_only)


def _cmd_watch_jobs(args: argparse.Namespace) -> int:
    config = _load(args)  # config errors first
    try:
        from pf_tui.jobs.operator import main as jobs_main
    except ImportError as exc:
        print(
            f"pf-tui watch-jobs: the Kubernetes client is not installed ({exc.name}); "
            "install pf-tui[k8s]",
            file=sys.stderr,
        )
        return EXIT_USAGE
    return jobs_main(config, namespace=args.namespace, kube_url=args.kube_url, resync_s=args.resync)


def _cmd_headless(args: argparse.Namespace) -> int:
    from pf_tui.daemon.loop import main as daemon_main

    shard = _shard(args)
    if args.demo:
        from pf_tui.demo import demo_session

        with demo_session(agents=args.agents, seed=args.seed, sim_url=args.sim) as config:
            return daemon_main(
                _sharded(config, args),
                once=args.once,
                metrics_port=args.metrics_port,
                metrics_host=args.metrics_host,
                shard=shard,
            )
    return daemon_main(
        _sharded(_load(args), args),
        once=args.once,
        metrics_port=args.metrics_port,
        metrics_host=args.metrics_host,
        shard=shard,
    )


def _cmd_tui(args: argparse.Namespace) -> int:
    config = None if args.demo else _sharded(_load(args), args)  # config errors first
    # Under textual-serve (`pf-tui serve`) stdout is a pipe to the web driver, not a terminal.
    served = os.environ.get("TEXTUAL_DRIVER") == WEB_DRIVER
    if not served and not sys.stdout.isatty() and os.environ.get("PF_TUI_FORCE_TTY") != "1":
        print(
            "pf-tui: the console needs a terminal; "
            "use --headless for a daemon, or run it in a terminal",
            file=sys.stderr,
        )
        return EXIT_USAGE
    # Nearly every object start-up makes lives for the session, and the automatic collector's
    # passes over them were a tenth of the demo's cold start: off until the console's GC pacer
    # turns it back on after the first frame (pf_tui/tui/gc_pacer.py, "Start-up").
    gc.disable()
    try:
        return _run_console(config, args)
    finally:
        gc.enable()


def _run_console(config: Config | None, args: argparse.Namespace) -> int:
    """The console on ``config``, or on the demo's (``None``)."""
    if config is None:
        from pf_tui.demo import demo_session

        # The simulator starts (in its own thread) before Textual is imported, so the two overlap.
        with demo_session(agents=args.agents, seed=args.seed, sim_url=args.sim) as demo_config:
            from pf_tui.daemon.embedded import embedded_daemon
            from pf_tui.tui.app import run_app

            # The demo has no daemon of its own running: run one beside the console, so rule
            # alerts (error_rate, low_balance) reach the Alerts tab (pf_tui/daemon/embedded.py).
            config = _sharded(demo_config, args)
            with embedded_daemon(config):
                return run_app(config, demo=True, read_only=args.read_only)
    from pf_tui.tui.app import run_app

    return run_app(config, demo=False, read_only=args.read_only)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _validate(parser, args)
    from pf_tui.config import ConfigError

    try:
        if args.command == "sim":
            return _cmd_sim(args)
        if args.command == "init":
            return _cmd_init(args)
        if args.command == "check":
            return _cmd_check(args)
        if args.command == "serve":
            return _cmd_serve(args)
        if args.command == "mcp":
            return _cmd_mcp(args)
        if args.command in _OPS_COMMANDS:
            return _cmd_ops(args)
        if args.command == "watch-jobs":
            return _cmd_watch_jobs(args)
        if args.headless:
            return _cmd_headless(args)
        return _cmd_tui(args)
    except ConfigError as exc:
        print(f"pf-tui: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_OK
    except OSError as exc:
        # str(OSError) names the file and the reason; it never holds a secret value.
        print(f"pf-tui: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
