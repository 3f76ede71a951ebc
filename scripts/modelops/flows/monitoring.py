"""`modelops monitoring render`: the plain Prometheus and Alertmanager files of a profile.

Sources (in the repository, synced by Argo CD as they are):
  monitoring/rules/*.yaml              PrometheusRule objects
  monitoring/tests/*.test.yaml         promtool unit tests of those rules
  monitoring/alertmanager/alertmanager.yml
Output (for promtool, a local Prometheus and Alertmanager):
  OUT/rules/<name>.yaml                the spec.groups of each PrometheusRule
  OUT/tests/<name>.test.yaml           the unit tests, runnable as `promtool test rules OUT/tests/*.yaml`
  OUT/alertmanager.yml
The demo profile scales durations as modelops.core.alert_rules describes; production copies them.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from modelops.core.alert_rules import (
    Profile,
    alertmanager_for,
    rule_groups_of,
    scale_rule_groups,
    scale_unit_tests,
)
from modelops.errors import BadInput

RULES_DIR = Path("monitoring") / "rules"
TESTS_DIR = Path("monitoring") / "tests"
ALERTMANAGER_FILE = Path("monitoring") / "alertmanager" / "alertmanager.yml"


@dataclass
class Rendered:
    profile: str
    factor: int
    out: str
    rules: list[str] = field(default_factory=list)
    tests: list[str] = field(default_factory=list)
    alertmanager: str | None = None
    evaluation_interval: str | None = None
    shortest_window: str | None = None

    @property
    def files(self) -> list[str]:
        return [*self.rules, *self.tests, *([self.alertmanager] if self.alertmanager else [])]

    def as_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "factor": self.factor,
            "out": self.out,
            "files": self.files,
            "rules": self.rules,
            "tests": self.tests,
            "alertmanager": self.alertmanager,
            "evaluation_interval": self.evaluation_interval,
            "shortest_window": self.shortest_window,
        }


class _BlockStyleDumper(yaml.SafeDumper):
    """Multi-line PromQL stays readable as a YAML block scalar."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockStyleDumper.add_representer(str, _str_representer)


def dump_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_BlockStyleDumper, sort_keys=False, allow_unicode=True, width=1000)


class _GoLikeLoader(yaml.SafeLoader):
    """Reads numbers as Go's YAML does: `0x40` in a promtool series is a value notation, not 64."""


_GoLikeLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:int"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_DECIMAL_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$")
for _first in "-+0123456789":
    _GoLikeLoader.add_implicit_resolver("tag:yaml.org,2002:int", _DECIMAL_INT, [_first])


def load_yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text("utf-8"), Loader=_GoLikeLoader)
    except FileNotFoundError:
        raise BadInput(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise BadInput(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None


def _write_atomically(files: dict[Path, str]) -> None:
    """Write every file or none: all go to temp files first, then each is renamed into place."""
    staged: list[tuple[str, Path]] = []
    try:
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            staged.append((tmp, path))
        for tmp, path in staged:
            os.replace(tmp, path)
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)


def _windows(groups: list[dict[str, Any]]) -> list[str]:
    return [m for g in groups for r in g["rules"] for m in re.findall(r"\[([0-9a-z]+)[:\]]", str(r["expr"]))]


def render(
    repo: Path,
    profile: Profile,
    out: Path,
    relay_url: str | None = None,
    relay_token_file: str | None = None,
) -> Rendered:
    from modelops.core.alert_rules import parse_duration

    rules_dir = repo / RULES_DIR
    sources = sorted(rules_dir.glob("*.yaml"))
    if not sources:
        raise BadInput(f"{rules_dir}: no PrometheusRule files (*.yaml) to render")
    result = Rendered(profile=profile.name, factor=profile.factor, out=str(out))
    files: dict[Path, str] = {}
    all_groups: list[dict[str, Any]] = []
    for source in sources:
        groups = scale_rule_groups(rule_groups_of(load_yaml(source) or {}, str(source)), profile.factor)
        all_groups.extend(groups)
        target = out / "rules" / source.name
        files[target] = f"# Rendered from {RULES_DIR / source.name} (profile {profile.name}); do not edit.\n"
        files[target] += dump_yaml({"groups": groups})
        result.rules.append(str(target))
    for source in sorted((repo / TESTS_DIR).glob("*.yaml")):
        tests = scale_unit_tests(load_yaml(source) or {}, profile.factor)
        target = out / "tests" / source.name
        files[target] = f"# Rendered from {TESTS_DIR / source.name} (profile {profile.name}); do not edit.\n"
        files[target] += dump_yaml(tests)
        result.tests.append(str(target))
    am_source = repo / ALERTMANAGER_FILE
    alertmanager = alertmanager_for(load_yaml(am_source) or {}, profile.factor, relay_url, relay_token_file)
    target = out / "alertmanager.yml"
    files[target] = f"# Rendered from {ALERTMANAGER_FILE} (profile {profile.name}); do not edit.\n"
    files[target] += dump_yaml(alertmanager)
    result.alertmanager = str(target)
    intervals = [str(g["interval"]) for g in all_groups if "interval" in g]
    result.evaluation_interval = min(intervals, key=parse_duration) if intervals else None
    windows = _windows(all_groups)
    result.shortest_window = min(windows, key=parse_duration) if windows else None
    _write_atomically(files)
    return result


def describe(result: Rendered) -> str:
    lines = [f"profile {result.profile} (durations ÷ {result.factor}) → {result.out}"]
    lines += [f"  wrote {path}" for path in result.files]
    if result.evaluation_interval:
        lines.append(
            f"  evaluation interval {result.evaluation_interval}, shortest window {result.shortest_window}"
        )
    return "\n".join(lines)
