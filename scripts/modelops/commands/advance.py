from __future__ import annotations

import argparse

from modelops.output import emit


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser
) -> None:
    p = sub.add_parser(
        "advance",
        parents=[parent],
        help="propose every version that soaked upstream to the auto-promoting environment after it",
        description="For each environment with auto_promote and an upstream (models.yaml), propose the "
        "upstream's pinned version once it served there for the environment's soak without a rollback; "
        "the PR auto-merges under the policy. Idempotent: a version already served or proposed is left "
        "alone (one PR per version). Exit 0, also when nothing is due.",
    )
    p.add_argument("--dry-run", action="store_true", help="list what is due, propose nothing")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from modelops.context import Context
    from modelops.core.document import ModelsDocument
    from modelops.core.verification import due_promotions

    ctx = Context.discover(args.repo)
    state = ModelsDocument.load(ctx.models_path).state()
    due = due_promotions(list(state.models.values()), datetime.now(UTC))
    done = []
    for item in due:
        entry = {"model": item.model, "env": item.env, "version": item.version, "proof": item.proof.message}
        if not args.dry_run:
            from modelops.flows.chains import promote

            result = promote(ctx, item.model, item.version, item.env)
            entry.update(pr=result.pr, merged=result.merged)
        done.append(entry)
    lines = [
        f"{d['model']} v{d['version']} → {d['env']}: {d['proof']}"
        + (f" (PR #{d['pr']})" if "pr" in d else "")
        for d in done
    ]
    emit(args, done, "\n".join(lines) or "nothing has soaked long enough to advance")
    return 0
