from __future__ import annotations

import argparse

from modelops.output import emit


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "validate",
        parents=[parent],
        help="check models.yaml against its JSON Schema and the semantic rules",
        description="Check models.yaml against scripts/modelops/schema/models.schema.json and the rules the "
        "schema cannot say (previous ≠ version, no quarantined pin, canary 1-99 %, staging and production "
        "present). Exit 0 valid, 2 invalid.",
    )
    p.add_argument("file", nargs="?", help="the file to check (default: the repository's models.yaml)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from modelops.context import Context
    from modelops.core.document import ModelsDocument
    from modelops.errors import EXIT_BAD_INPUT

    path = Path(args.file) if args.file else Context.discover(args.repo).models_path
    doc = ModelsDocument.load(path)
    problems = doc.problems()
    if not problems:
        doc.check_round_trip()
    emit(
        args,
        {"file": str(path), "valid": not problems, "problems": [p.__dict__ for p in problems]},
        f"{path}: valid" if not problems else None,
    )
    if problems:
        if not args.json:
            import sys

            for problem in problems:
                print(problem.render(str(path)), file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0
