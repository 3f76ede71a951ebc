"""`python -m bench [--quick] [--only NAME] [--write-readme] [--json FILE]`: run every bench/bench_*.py.

Each module's `run(quick)` returns rows measured against a baseline taken in the same run, so the
ratios mean something on any machine. `--write-readme` replaces the table between the README's
bench markers.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def _modules(only: str | None) -> list[str]:
    names = sorted(p.stem for p in (ROOT / "bench").glob("bench_*.py"))
    return [n for n in names if only is None or only in n]


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def table(rows: list[dict[str, object]]) -> str:
    lines = [
        "| benchmark | value | baseline (same run) | ratio | goal | met |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['benchmark']} | {_fmt(r['value'])} {r.get('unit', '')} | {r['baseline']}: "
            f"{_fmt(r['baseline_value'])} | {_fmt(r['ratio'])} | {r['goal']} | {'yes' if r['met'] else '**no**'} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--only", help="run the modules whose name contains this")
    parser.add_argument("--write-readme", action="store_true", help="write the table into README.md")
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    rows: list[dict[str, object]] = []
    failed = []
    for name in _modules(args.only):
        started = time.perf_counter()
        print(f"… {name}", file=sys.stderr, flush=True)
        try:
            module = importlib.import_module(f"bench.{name}")
            got = module.run(args.quick)
        except Exception:
            traceback.print_exc()
            failed.append(name)
            continue
        for row in got:
            row.setdefault("module", name)
        rows.extend(got)
        print(
            f"  {name}: {len(got)} rows in {time.perf_counter() - started:.1f}s", file=sys.stderr, flush=True
        )
    text = table(rows)
    print(text)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    if args.json:
        Path(args.json).write_text(
            json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n", encoding="utf-8"
        )
    if args.write_readme and not args.only:
        readme = ROOT / "README.md"
        body = readme.read_text("utf-8")
        if START in body and END in body:
            head, rest = body.split(START, 1)
            _, tail = rest.split(END, 1)
            stamp = time.strftime("%Y-%m-%d")
            mode = " (quick)" if args.quick else ""
            block = f"{START}\nMeasured {stamp}{mode} on {machine} by `make bench`.\n\n{text}\n{END}"
            readme.write_text(head + block + tail, encoding="utf-8")
    if failed:
        print(f"bench: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
