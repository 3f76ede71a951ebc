from __future__ import annotations

import argparse

from modelops.output import emit


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser
) -> None:
    p = sub.add_parser(
        "validate",
        parents=[parent],
        help="check models.yaml against its JSON Schema and the semantic rules",
        description="Check models.yaml against scripts/modelops/schema/models.schema.json and the rules the "
        "schema cannot say (previous ≠ version, no pin made after its version was quarantined elsewhere, "
        "canary 1-99 %, staging and production present unless a pipeline is declared; the pipeline: no "
        "upstream cycles, unknown upstreams or unreachable environments, soaks that are durations, canary steps within the admission limit of "
        "policies/promotion.yaml, no auto_promote into a protected environment). A pin older than another environment's quarantine "
        "is shown as a warning. Exit 0 valid, 2 invalid.",
    )
    p.add_argument("file", nargs="?", help="the file to check (default: the repository's models.yaml)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from modelops.context import Context
    from modelops.core.document import ModelsDocument
    from modelops.core.pipeline import PipelineLimits
    from modelops.core.policy import PolicyConfig
    from modelops.errors import EXIT_BAD_INPUT, BadInput

    try:
        ctx: Context | None = Context.discover(args.repo)
    except BadInput:
        if not args.file:
            raise
        ctx = None  # a file outside any repository: the policy's defaults
    path = Path(args.file) if args.file else ctx.models_path  # type: ignore[union-attr]
    doc = ModelsDocument.load(path)
    # The pipeline rules read the promotion policy: protected environments and the admission limit.
    config = PolicyConfig.load(ctx.repo) if ctx is not None else PolicyConfig()
    problems = doc.problems(PipelineLimits(config.protected_environments, config.max_canary_traffic))
    problems = problems or doc.pin_problems()  # only validate: a rollback must still read the file
    warnings = [] if problems else doc.pin_warnings()
    if not problems:
        doc.check_round_trip()
    if not args.json:
        import sys

        for warning in warnings:
            print(f"warning: {warning.render(str(path))}", file=sys.stderr)
    emit(
        args,
        {
            "file": str(path),
            "valid": not problems,
            "problems": [p.__dict__ for p in problems],
            "warnings": [w.__dict__ for w in warnings],
        },
        f"{path}: valid" if not problems else None,
    )
    if problems:
        if not args.json:
            import sys

            for problem in problems:
                print(problem.render(str(path)), file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0
