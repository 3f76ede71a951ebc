from __future__ import annotations

import argparse

from modelops.core.version import version_arg


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser
) -> None:
    p = sub.add_parser(
        "serve",
        parents=[parent],
        help="serve a model's pinned version on the KServe model server (loopback by default)",
        description="Load the version models.yaml pins for MODEL in ENV from the registry, warm it up, and "
        "serve it with KServe's model server: POST /v1/models/MODEL:predict (v1) or /v2/models/MODEL/infer, "
        "GET /metrics, GET /v1/models/MODEL/summaries (drift snapshot), GET|POST /admin/fault (loopback or "
        "MODELOPS_ADMIN_TOKEN). Faults can also be set at start with MODELOPS_FAULT_ERROR_RATE (0-1) and "
        "MODELOPS_FAULT_LATENCY_MS. Runs until SIGTERM/SIGINT; exit 3 when the version cannot load.",
    )
    p.add_argument("--model", required=True, help="model name in models.yaml (also the endpoint name)")
    p.add_argument("--env", required=True, help="environment whose pinned version to serve")
    p.add_argument("--port", type=int, default=8080, help="HTTP port (default 8080; 0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument(
        "--version", type=version_arg, help="serve this registry version instead of the pinned one"
    )
    p.add_argument(
        "--follow",
        action="store_true",
        help="re-read models.yaml and hot-swap to each newly pinned version (warm up, then switch)",
    )
    p.add_argument(
        "--poll-interval",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="how often --follow checks (default 2)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from modelops.context import Context
    from modelops.flows.serve import serve
    from modelops.output import emit

    def ready(url: str, loaded: object) -> None:
        version = getattr(loaded, "version", "?")
        run_id = getattr(loaded, "run_id", "")
        emit(
            args,
            {
                "model": args.model,
                "env": args.env,
                "version": version,
                "run_id": run_id,
                "url": url,
                "predict": f"{url}/v1/models/{args.model}:predict",
            },
            f"serving {args.model} v{version} ({args.env}, run {run_id}) at {url}/v1/models/{args.model}",
        )

    ctx = Context.discover(args.repo)
    serve(
        ctx,
        args.model,
        args.env,
        port=args.port,
        host=args.host,
        version=args.version,
        follow=args.follow,
        poll_seconds=args.poll_interval,
        on_ready=ready,
    )
    return 0
