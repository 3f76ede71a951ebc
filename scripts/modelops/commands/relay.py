from __future__ import annotations

import argparse


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser
) -> None:
    p = sub.add_parser(
        "relay",
        parents=[parent],
        help="receive Alertmanager webhooks and roll back (or request a retrain) once per incident",
        description="HTTP receiver for Alertmanager webhook v4 payloads on POST /alerts. A firing alert "
        "labelled action=rollback rolls its model back in its environment: through the rollback.yml "
        "workflow on GitHub when GITHUB_TOKEN (or a GitHub App: MODELOPS_APP_CLIENT_ID and "
        "MODELOPS_APP_PRIVATE_KEY_FILE, whose installation tokens the relay mints and renews) and "
        "GITHUB_REPOSITORY are set (outside a sandbox), else by running the rollback here. "
        "action=retrain asks for a retrain, debounced in the retrain ledger under --state, and on GitHub "
        "starts retrain.yml the same way. Each incident "
        "(model, env, version, alertname, startsAt) is acted on once, across re-sends and restarts. "
        "Authenticate senders with MODELOPS_RELAY_TOKEN (bearer) and/or MODELOPS_RELAY_HMAC_SECRET "
        "(X-Modelops-Signature: sha256=<hex>). Also serves GET /healthz and GET /metrics. "
        "Logs one JSON object per line on stderr.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument(
        "--port", type=int, default=9095, help="port to listen on; 0 picks a free one (default: 9095)"
    )
    p.add_argument(
        "--state",
        metavar="DIR",
        help="directory of the incident log and the retrain ledger (default: the repository's state directory)",
    )
    p.add_argument(
        "--github-dispatch",
        choices=("repository", "workflow"),
        default="repository",
        help="on GitHub, start rollback.yml and retrain.yml by repository_dispatch (default; the token "
        "needs contents: write) or workflow_dispatch (actions: write)",
    )
    p.add_argument(
        "--github-ref", metavar="REF", help="branch for workflow_dispatch (default: GITHUB_REF_NAME or main)"
    )
    p.add_argument(
        "--insecure-no-auth",
        action="store_true",
        help="accept unauthenticated webhooks (local demos only; ignored when a token or secret is set)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from modelops.context import MODELS_FILE, Context
    from modelops.errors import BadInput
    from modelops.relay.dispatch import dispatcher_for
    from modelops.relay.server import Auth, open_relay, serve

    if not 0 <= args.port <= 65535:
        raise BadInput(f"--port {args.port}: expected 0-65535")
    ctx = Context.discover(args.repo)
    auth = Auth.from_env(ctx.env, insecure=args.insecure_no_auth)
    state_dir = Path(args.state).resolve() if args.state else ctx.state_dir / "relay"
    # The retrain ledger sits beside the incident log, on the relay's volume: the repository is a
    # read-only git-sync checkout in the relay's pod.
    dispatcher = dispatcher_for(
        ctx, github_mode=args.github_dispatch, github_ref=args.github_ref, ledger_dir=state_dir
    )
    # Keep --repo's symlinks: git-sync swaps a symlink to each new checkout, and the relay must follow
    # the link to see models.yaml change, not hold on to the checkout it resolved at start-up.
    models_path = Path(args.repo).absolute() / MODELS_FILE if args.repo else ctx.models_path
    relay, _lock = open_relay(models_path, state_dir, dispatcher)
    try:
        serve(relay, auth, args.host, args.port)
    except OSError as exc:
        raise BadInput(
            f"--host {args.host} --port {args.port}: cannot listen ({exc.strerror or exc})"
        ) from None
    return 0
