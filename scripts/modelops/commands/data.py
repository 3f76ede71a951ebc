from __future__ import annotations

import argparse

from modelops.output import emit


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parent: argparse.ArgumentParser
) -> None:
    p = sub.add_parser(
        "data",
        help="generate the churn data set (run by `dvc repro`)",
        description="Data tasks. `generate` writes the seeded churn table: train.csv and the frozen golden.csv.",
    )
    data_sub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    gen = data_sub.add_parser(
        "generate", parents=[parent], help="write train.csv and golden.csv from params.yaml's `data` section"
    )
    gen.add_argument("--out", required=True, metavar="DIR", help="output directory, e.g. data/churn")
    gen.add_argument("--params", default="params.yaml", metavar="FILE", help="parameters file")
    gen.set_defaults(handler=run_generate)


def run_generate(args: argparse.Namespace) -> int:
    from pathlib import Path

    import yaml

    from modelops.errors import BadInput
    from modelops.sandbox.datagen import write_dataset

    try:
        params = yaml.safe_load(Path(args.params).read_text("utf-8")) or {}
    except FileNotFoundError:
        raise BadInput(f"{args.params}: file not found") from None
    except yaml.YAMLError as exc:
        raise BadInput(f"{args.params}: not valid YAML ({str(exc).splitlines()[0]})") from None
    paths = write_dataset(Path(args.out), params)
    emit(args, {k: str(v) for k, v in paths.items()}, "\n".join(f"wrote {p}" for p in paths.values()))
    return 0
