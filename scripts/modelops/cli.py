"""The `modelops` entry point: parse, dispatch to a command, map typed errors to exit codes.

Each module in `modelops.commands` registers its own subcommands and imports its flow only when run,
so `modelops --help` never pays for mlflow, sklearn or kubernetes.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

from modelops import __version__
from modelops.errors import EXIT_EXTERNAL, ModelOpsError


def common_parent() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
    parent.add_argument(
        "--repo",
        metavar="DIR",
        help="repository holding models.yaml (default: found from the current directory)",
    )
    return parent


def build_parser() -> argparse.ArgumentParser:
    from modelops import commands

    parser = argparse.ArgumentParser(
        prog="modelops",
        description="GitOps delivery of ML models: train, gate, promote by pull request, roll back by commit.",
        epilog="Exit codes: 0 ok, 1 a gate or policy said no, 2 bad input, 3 an external system failed.",
    )
    parser.add_argument("--version", action="version", version=f"modelops {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    parent = common_parent()
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"modelops.commands.{info.name}")
        module.register(sub, parent)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
        return code
    except ModelOpsError as exc:
        print(f"modelops: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("modelops: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug, not a user error: one line unless asked for the trace
        if os.environ.get("MODELOPS_DEBUG"):
            raise
        print(
            f"modelops: internal error: {type(exc).__name__}: {exc} (set MODELOPS_DEBUG=1 for the trace)",
            file=sys.stderr,
        )
        return EXIT_EXTERNAL


if __name__ == "__main__":
    raise SystemExit(main())
