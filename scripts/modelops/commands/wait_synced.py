from __future__ import annotations

import argparse

from modelops.output import emit


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser
) -> None:
    p = sub.add_parser(
        "wait-synced",
        parents=[parent],
        help="wait until Argo CD and KServe serve what models.yaml pins for a model in an environment",
        description="Poll the Argo CD Application <model>-<env> (namespace argocd) until it is Synced at the "
        "expected git revision (HEAD by default) and Healthy, and the InferenceService <model> in the "
        "environment's namespace, on its destination cluster (Argo CD's own, or the kubeconfig context whose "
        "cluster has that server URL), is Ready, serves the pinned version's storageUri and splits traffic as the canary in models.yaml says "
        "(in the environment's KServe deployment_mode: Knative reports revisions and traffic, Standard neither). "
        "Uses KUBECONFIG (or ~/.kube/config, or the in-cluster account). Exit 0 in sync, 1 on a mismatch at the "
        "timeout, or at once when the Application is Degraded or KServe reports what waiting cannot change (a "
        "failed model load, a stopped service, another deployment mode), 3 when the cluster cannot be reached.",
    )
    p.add_argument("--model", required=True, help="model name in models.yaml")
    p.add_argument("--env", required=True, help="environment name in models.yaml")
    p.add_argument("--timeout", type=float, required=True, metavar="S", help="give up after S seconds")
    p.add_argument(
        "--interval", type=float, default=5.0, metavar="S", help="seconds between polls (default 5)"
    )
    p.add_argument("--revision", metavar="SHA", help="git revision Argo CD must report (default: HEAD)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from modelops.context import Context
    from modelops.errors import BadInput
    from modelops.flows.wait_synced import wait_synced
    from modelops.output import progress

    if args.timeout < 0 or args.interval <= 0:
        raise BadInput("--timeout must be ≥ 0 and --interval > 0 (seconds)")
    seen: list[str] = []

    def report(observation: object) -> None:
        detail = getattr(observation, "detail", "")
        if not seen or seen[-1] != detail:
            progress(detail)
        seen.append(detail)

    result = wait_synced(
        Context.discover(args.repo),
        args.model,
        args.env,
        timeout=args.timeout,
        interval=args.interval,
        revision=args.revision,
        on_poll=report,
    )
    emit(args, result.as_dict(), ("in sync: " if result.ok else "NOT in sync: ") + result.detail)
    return 0 if result.ok else 1
