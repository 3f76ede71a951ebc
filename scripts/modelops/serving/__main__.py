"""The serving container's entry point: `python -m modelops.serving --model_name NAME --model_dir DIR`.

KServe's storage initializer puts the pinned version's MLflow model in --model_dir (/mnt/models). The
rendered InferenceService says which version it is, through the environment:
  MODELOPS_MODEL, MODELOPS_ENV, MODELOPS_VERSION, MODELOPS_RUN_ID (labels and response headers);
  MODELOPS_TASK (the model's gate.task, binary|multiclass|regression: what its outputs mean; binary
  when unset);
  MLFLOW_TRACKING_URI (optional: lets the runtime fetch the run's data_profile.json);
  MODELOPS_FAULT_ERROR_RATE, MODELOPS_FAULT_LATENCY_MS (drills; off by default);
  MODELOPS_ADMIN_TOKEN (enables POST /admin/fault with a bearer token; there is no loopback access in
  the cluster, where a sidecar proxy makes every client look local, unless MODELOPS_ADMIN_LOOPBACK=1).
Arguments KServe passes that this runtime does not use are ignored.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from modelops.errors import ModelOpsError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m modelops.serving", description=__doc__.splitlines()[0])
    parser.add_argument("--model_name", default=os.environ.get("MODELOPS_MODEL", "model"))
    parser.add_argument("--model_dir", default="/mnt/models")
    parser.add_argument("--http_port", type=int, default=8080)
    parser.add_argument("--host", default="0.0.0.0")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    env = os.environ
    args, _ = build_parser().parse_known_args(argv)
    try:
        from modelops.serving.fault import Fault
        from modelops.serving.server import ServeOptions, serve
        from modelops.serving.sources import DirectorySource

        serve(
            ServeOptions(
                name=args.model_name,
                model=env.get("MODELOPS_MODEL") or args.model_name,
                env=env.get("MODELOPS_ENV") or "unknown",
                source=DirectorySource(
                    Path(args.model_dir),
                    version=env.get("MODELOPS_VERSION") or "unknown",
                    run_id=env.get("MODELOPS_RUN_ID") or None,
                    tracking_uri=env.get("MLFLOW_TRACKING_URI") or None,
                    task=env.get("MODELOPS_TASK") or "binary",
                ),
                host=args.host,
                port=args.http_port,
                fault=Fault.from_env(env),
                admin_loopback=env.get("MODELOPS_ADMIN_LOOPBACK") == "1",
                admin_token=env.get("MODELOPS_ADMIN_TOKEN") or None,
                grace_seconds=int(env.get("MODELOPS_GRACE_SECONDS") or 30),
            )
        )
    except ModelOpsError as exc:
        print(f"modelops-serving: error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
