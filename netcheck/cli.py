"""The `netcheck` command line: the parser and the mapping of errors to exit codes.

The commands themselves live in `netcheck.commands`, one module each.
Exit codes: 0 go, 1 no-go, 2 usage or topology error, 130 interrupted (a
partial report is still printed).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from netcheck import __version__
from netcheck.errors import NetcheckError, UsageError

# the commands (and everything they import) load inside main(), so a Ctrl-C during
# a slow start-up is an interruption (exit 130), not an import traceback
_EXIT_INTERRUPTED = 130  # = netcheck.commands.common.EXIT_INTERRUPTED

__all__ = ["main"]

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


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise UsageError(f"{self.prog}: {message}")


def _build_parser() -> argparse.ArgumentParser:
    from netcheck.commands import COMMANDS
    from netcheck.commands.common import EXIT_CODES_TEXT

    parser = _Parser(
        prog="netcheck",
        description=_DESCRIPTION,
        epilog=EXIT_CODES_TEXT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"netcheck {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log to stderr (-vv: debug)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:
        sys.stderr.write("netcheck: interrupted\n")
        return _EXIT_INTERRUPTED


def _main(argv: Sequence[str] | None) -> int:
    from netcheck.commands.common import EXIT_GO, EXIT_INTERRUPTED, EXIT_USAGE

    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
        logging.basicConfig(
            level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
            format="%(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
        if args.command is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        handler = args.handler
        return int(handler(args, sys.stdout))
    except NetcheckError as exc:
        sys.stderr.write(f"netcheck: error: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("netcheck: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_GO


if __name__ == "__main__":
    sys.exit(main())
