from __future__ import annotations

import argparse

from modelops.output import emit


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser
) -> None:
    p = sub.add_parser(
        "labels",
        parents=[parent],
        help="record a batch of delayed labels for the canary analysis",
        description="Add a batch of labelled outcomes (a CSV with columns version and outcome, one row "
        "per prediction, outcome correct or wrong; the version is the one that served it, from "
        "X-Model-Version) to the running totals of modelops_labelled_predictions_total in a Pushgateway "
        "(--pushgateway or MODELOPS_PUSHGATEWAY_URL; MODELOPS_PUSHGATEWAY_AUTH as user:password). A bad "
        "row refuses the whole batch (exit 2) and nothing is published. Run one label job per model and "
        "environment at a time: two at once may lose a batch. Exit 0 recorded, 2 bad input, 3 the "
        "Pushgateway failed.",
    )
    p.add_argument("--model", required=True)
    p.add_argument("--env", required=True)
    p.add_argument("--file", required=True, metavar="CSV", help="the batch: columns version, outcome")
    p.add_argument("--pushgateway", metavar="URL", help="default: MODELOPS_PUSHGATEWAY_URL")
    p.add_argument(
        "--scrape-interval",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how often Prometheus scrapes the Pushgateway (default 30): a version new to the totals is "
        "first published at zero for two of these, so its first batch counts",
    )
    p.add_argument("--dry-run", action="store_true", help="count and show the totals, publish nothing")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from modelops.context import Context
    from modelops.errors import BadInput
    from modelops.flows.labels import record_labels

    if not 0 <= args.scrape_interval <= 600:
        raise BadInput(f"--scrape-interval: {args.scrape_interval:g} is not between 0 and 600 seconds")
    result = record_labels(
        Context.discover(args.repo),
        args.model,
        args.env,
        Path(args.file),
        pushgateway_url=args.pushgateway,
        scrape_interval_s=args.scrape_interval,
        dry_run=args.dry_run,
    )
    emit(args, result.as_dict(), result.summary())
    return 0
