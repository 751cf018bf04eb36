"""The `netcheck` command line: the parser and the mapping of errors to exit codes.

The commands themselves live in `netcheck.commands`, one module each.
Exit codes: 0 go, 1 no-go, 2 usage or topology error, 130 interrupted (a
partial report is still printed). A report that could not be delivered (stdout
closed or full, `-o` unwritable) is exit 2 whatever its verdict: a broken pipe
must never read as GO.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NoReturn, TextIO, cast

from netcheck import __version__
from netcheck.errors import NetcheckError, OutputError, UsageError

# the commands (and everything they import) load inside main(), so a Ctrl-C during
# a slow start-up is an interruption (exit 130), not an import traceback
_EXIT_INTERRUPTED = 130  # = netcheck.commands.common.EXIT_INTERRUPTED

__all__ = ["main", "run"]

_DESCRIPTION = """\
netcheck tests the network paths an Azure Site Recovery failback needs, before
you fail back: every documented port between the failed-over Azure VMs, the
process server, the configuration server (and each of its NICs), the master
target and vCenter/ESXi, over the VPN or ExpressRoute. It says GO or NO-GO, and
for every failing cell where and why it breaks and what to change.

Start here:
  netcheck sweep topologies/local-demo.yaml     # the whole matrix on this machine
  netcheck plan  my-site.yaml                    # what would be probed (no packets)
  netcheck validate my-site.yaml                 # check a topology file
"""


_ENVIRONMENT = """\
environment:
  NETCHECK_DB               the sweep history database (--db wins); default
                            $XDG_DATA_HOME/netcheck/netcheck.db (~/.local/share/...),
                            %LOCALAPPDATA%\\netcheck\\netcheck.db on Windows
  NETCHECK_KNOWN_HOSTS      the known_hosts file SSH host keys are checked against
                            (--known-hosts wins); default ~/.ssh/known_hosts
  XDG_CACHE_HOME            the built agent is cached in $XDG_CACHE_HOME/netcheck
                            (default ~/.cache/netcheck)
  NETCHECK_AGENT_CACHE_DIR  on each host: where the agent unpacks itself (default
                            ~/.cache/netcheck-agent, %LOCALAPPDATA%\\netcheck-agent)
  NETCHECK_AGENT_NO_SCAPY   on each host: set to 1, the agent runs as if scapy were absent
  NO_COLOR                  set (non-empty): no colour unless --color=always
  COLUMNS                   the width the terminal report fits (default: the terminal's)
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        # "netcheck: error: " is main's prefix; a subcommand names itself
        sub = self.prog.removeprefix("netcheck").strip()
        raise UsageError(f"{sub}: {message}" if sub else message)


def _add_output_options(p: argparse.ArgumentParser, top: bool) -> None:
    """-v, -q, --details and --color, before the subcommand or after it.

    After it they land in their own attributes (a subcommand's defaults would
    otherwise overwrite what was given before it); `_merge_output_options` joins them.
    """
    suffix, default = ("", None) if top else ("_sub", argparse.SUPPRESS)
    g = p.add_argument_group("output") if not top else p
    g.add_argument(
        "-v",
        "--verbose",
        action="count",
        dest="verbose" + suffix,
        default=0 if top else default,
        help="every section of the report in full, and log to stderr (-vv: debug)",
    )
    g.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        dest="quiet" + suffix,
        default=False if top else default,
        help="print only the verdict line and the failing items; no progress",
    )
    g.add_argument(
        "--details",
        action="store_true",
        dest="details" + suffix,
        default=False if top else default,
        help="every section of the report in full (as -v, without the log)",
    )
    g.add_argument(
        "--color",
        "--colour",
        choices=["auto", "always", "never"],
        dest="color" + suffix,
        default="auto" if top else default,
        help="colour the verdicts and failing cells: auto (default) on a terminal unless "
        "NO_COLOR is set",
    )


def _merge_output_options(args: argparse.Namespace) -> None:
    args.verbose += getattr(args, "verbose_sub", 0)
    args.quiet = args.quiet or getattr(args, "quiet_sub", False)
    args.details = args.details or getattr(args, "details_sub", False)
    args.color = getattr(args, "color_sub", args.color)
    if args.quiet and (args.verbose or args.details):
        raise UsageError("-q and -v/--details ask for opposite things; give one of them")


def _build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    from netcheck.commands import register_commands
    from netcheck.commands.common import EXIT_CODES_TEXT

    parser = _Parser(
        prog="netcheck",
        description=_DESCRIPTION,
        epilog=EXIT_CODES_TEXT + "\n\n" + _ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"netcheck {__version__}")
    _add_output_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    register_commands(sub, argv)
    for p in sub.choices.values():
        _add_output_options(p, top=False)
    return parser


class _StdoutError(OutputError):
    """Standard output could not be written: the report was not delivered."""


class _GuardedOutput:
    """Standard output whose write errors become an OutputError (exit 2).

    Python ignores SIGPIPE, so `netcheck sweep ... | head` and `> /dev/full` surface
    as OSError from a write or the final flush; neither may end as a traceback, nor
    (a broken pipe) as exit 0.
    """

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner

    def write(self, text: str) -> int:
        with _stdout_errors():
            return self._inner.write(text)

    def flush(self) -> None:
        with _stdout_errors():
            self._inner.flush()

    def isatty(self) -> bool:
        return self._inner.isatty()

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


@contextlib.contextmanager
def _stdout_errors() -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        why = exc.strerror or str(exc)
        if isinstance(exc, BrokenPipeError):
            why += ": the reading end of the pipe closed before the report was read"
        raise _StdoutError(
            f"could not write the report to standard output ({why}); it was not delivered, "
            "so the exit code is 2 whatever the verdict"
        ) from None


def _silence_stdout() -> None:
    """After a failed write to stdout, point it at /dev/null so the interpreter's own
    flush at exit neither fails again nor prints "Exception ignored"."""
    real = sys.__stdout__
    if real is None or sys.stdout is not real:  # replaced (tests capture it): leave it be
        return
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, real.fileno())
        os.close(devnull)


def _inputs(args: argparse.Namespace) -> list[tuple[str, Path]]:
    """Every file argument a command reads (or keeps: --db), by option name."""
    found = []
    for name, value in vars(args).items():
        if name == "output":
            continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, Path) or (name == "identity" and isinstance(item, str)):
                found.append((name, Path(item)))
    return found


def refuse_output_over_input(args: argparse.Namespace) -> None:
    """`-o` naming a file the command reads (`sweep site.yaml -o site.yaml`) would
    truncate it before it is read: refused before anything starts (same file: same
    device and inode, so links and other spellings of the path are caught too)."""
    output = getattr(args, "output", None)
    if not isinstance(output, Path):
        return
    try:
        out = output.stat()
    except OSError:
        return  # a new file: it cannot be an input
    for name, path in _inputs(args):
        with contextlib.suppress(OSError):
            st = path.stat()
            if (st.st_dev, st.st_ino) == (out.st_dev, out.st_ino):
                what = "the topology file" if name == "topology" else f"the --{name} file"
                raise UsageError(
                    f"-o {output}: that is {what} ({path}); writing the report there would "
                    "overwrite it. Choose another output file"
                )


def run() -> NoReturn:
    """The `netcheck` command (console script and `python -m netcheck`): `main`, then
    exit without the interpreter's teardown.

    By then the report is written and flushed, the store committed and closed, every
    agent and connection closed; what is left is freeing a large sweep's objects one
    by one, which took a tenth of a 5,000-cell sweep's whole time. `main` itself
    returns normally (tests and embedders call it).
    """
    code = main()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        code = _main(argv)
    except KeyboardInterrupt:  # during the commands' imports, before _main's own handler
        sys.stderr.write("netcheck: interrupted\n")
        return _EXIT_INTERRUPTED
    from netcheck.commands.common import EXIT_GO, EXIT_NO_GO, EXIT_USAGE

    # What an error path left in the buffer must not fail later, at the interpreter's
    # exit ("Exception ignored", exit 120): flush it now, and never let it say GO.
    try:
        sys.stdout.flush()
    except OSError as exc:
        _silence_stdout()
        if code in (EXIT_GO, EXIT_NO_GO):
            sys.stderr.write(f"netcheck: error: could not write to standard output ({exc})\n")
            return EXIT_USAGE
    return code


def _main(argv: Sequence[str] | None) -> int:
    from netcheck.commands.common import EXIT_INTERRUPTED, EXIT_USAGE

    argv = sys.argv[1:] if argv is None else list(argv)
    parser = _build_parser(argv)
    try:
        args = parser.parse_args(argv)
        _merge_output_options(args)
        logging.basicConfig(
            level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
            format="%(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
        if args.command is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        refuse_output_over_input(args)
        handler = args.handler
        out = _GuardedOutput(sys.stdout)
        code = int(handler(args, cast(TextIO, out)))
        out.flush()  # a full disk or a closed pipe shows here for a short report
        return code
    except NetcheckError as exc:
        if isinstance(exc, _StdoutError):
            _silence_stdout()
        sys.stderr.write(f"netcheck: error: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("netcheck: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # written around the guard (argparse's --help): never GO
        _silence_stdout()
        sys.stderr.write("netcheck: error: broken pipe (the reader of the output went away)\n")
        return EXIT_USAGE


if __name__ == "__main__":
    run()
