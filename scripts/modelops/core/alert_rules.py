"""Monitoring as code: from the PrometheusRule sources to the rule files a given profile runs.

The rules under monitoring/rules are written once, for production. A demo or an end-to-end test cannot
wait five minutes of burn-in and five more of `for:`, so the demo profile derives its files from the
same sources by dividing every duration by a factor and keeping every threshold:

- `for:` and `interval:` of rule groups and rules;
- range and subquery windows in PromQL (`[5m]`, `[1h:1m]`) and `offset` durations;
- ages in seconds compared with `time() - <series>` (the burn-in `(time() - start) > 300`), because a
  number there is a duration too;
- Alertmanager's group_wait, group_interval, repeat_interval and resolve_timeout;
- the timing fields of promtool unit tests (evaluation_interval, interval, eval_time), so the same
  unit tests hold for every profile.

A scaled duration is rounded to whole seconds and never drops below one second (Prometheus cannot
evaluate faster than that in a meaningful way); zero stays zero. Ratios, quantiles and counts do not
depend on the time scale, so the alerts fire on the same data, only sooner.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from modelops.errors import BadInput

PROMETHEUS_RULE_API = "monitoring.coreos.com/v1"
PROMETHEUS_RULE_KIND = "PrometheusRule"
# The receiver in alertmanager.yml that delivers to the webhook relay; the demo re-points it.
RELAY_RECEIVER = "modelops-relay"

DEMO_FACTOR = 30

_UNIT_MS = {
    "y": 365 * 24 * 3600 * 1000,
    "w": 7 * 24 * 3600 * 1000,
    "d": 24 * 3600 * 1000,
    "h": 3600 * 1000,
    "m": 60 * 1000,
    "s": 1000,
    "ms": 1,
}
_DURATION = re.compile(r"^(?:(\d+)(ms|y|w|d|h|m|s))+$")
_DURATION_PART = re.compile(r"(\d+)(ms|y|w|d|h|m|s)")


@dataclass(frozen=True)
class Profile:
    """How rules are rendered: production keeps every duration, demo divides them by `factor`."""

    name: str
    factor: int

    @classmethod
    def named(cls, name: str, factor: int | None = None) -> Profile:
        if name == "production":
            if factor not in (None, 1):
                raise BadInput("--factor: the production profile keeps durations as written; drop --factor")
            return cls("production", 1)
        if name == "demo":
            chosen = DEMO_FACTOR if factor is None else factor
            if chosen < 1:
                raise BadInput(f"--factor {chosen}: must be a whole number of at least 1")
            return cls("demo", chosen)
        raise BadInput(f"--profile {name}: unknown profile; use production or demo")


def parse_duration(text: str) -> int:
    """A Prometheus duration (`1h30m`, `90s`, `250ms`) in milliseconds."""
    value = str(text).strip()
    if value == "0":
        return 0
    if not _DURATION.match(value):
        raise BadInput(f"duration {text!r}: not a Prometheus duration such as 30s, 5m or 1h30m")
    return sum(int(n) * _UNIT_MS[unit] for n, unit in _DURATION_PART.findall(value))


def format_duration(ms: int) -> str:
    """Milliseconds as the shortest Prometheus duration (`90000` → `1m30s`), like Prometheus prints it."""
    if ms == 0:
        return "0s"
    parts = []
    remaining = ms
    for unit in ("w", "d", "h", "m", "s", "ms"):
        count, remaining = divmod(remaining, _UNIT_MS[unit])
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def scale_seconds(seconds: float, factor: int) -> int:
    """A span in seconds divided by `factor`: whole seconds, at least one, zero stays zero."""
    if seconds == 0:
        return 0
    return max(1, round(seconds / factor))


def scale_duration(text: str, factor: int) -> str:
    if factor == 1:
        return str(text)
    ms = parse_duration(text)
    return format_duration(scale_seconds(ms / 1000, factor) * 1000)


# A burn-in: an age `time() - series` compared with a number of seconds.
_AGE_COMPARISON = re.compile(
    r"(time\(\)\s*-\s*[A-Za-z_:][\w:]*\s*(?:\{[^}]*\})?\s*\)\s*(?:>=|<=|>|<)\s*(?:bool\s+)?)(\d+(?:\.\d+)?)"
)
_RANGE = re.compile(r"\[\s*([0-9a-z]+)\s*(?::\s*([0-9a-z]*)\s*)?\]")
_OFFSET = re.compile(r"(\boffset\s+)(-?)([0-9][0-9a-z]*)")


def _code_and_strings(expr: str) -> list[tuple[bool, str]]:
    """Split PromQL into (is_code, text) pieces so string literals and comments are never rewritten."""
    pieces: list[tuple[bool, str]] = []
    code_start = i = 0
    while i < len(expr):
        ch = expr[i]
        if ch in "\"'`":
            end = i + 1
            while end < len(expr) and expr[end] != ch:
                end += 2 if expr[end] == "\\" and ch != "`" else 1
            end = min(end + 1, len(expr))
        elif ch == "#":
            end = expr.find("\n", i)
            end = len(expr) if end == -1 else end
        else:
            i += 1
            continue
        pieces.append((True, expr[code_start:i]))
        pieces.append((False, expr[i:end]))
        code_start = i = end
    pieces.append((True, expr[code_start:]))
    return [p for p in pieces if p[1]]


def scale_expr(expr: str, factor: int) -> str:
    """PromQL with its windows, offsets and burn-in ages divided by `factor` (see the module doc)."""
    if factor == 1:
        return expr

    def window(match: re.Match[str]) -> str:
        rng = scale_duration(match.group(1), factor)
        if match.group(2) is None:
            return f"[{rng}]"
        step = scale_duration(match.group(2), factor) if match.group(2) else ""
        return f"[{rng}:{step}]"

    def offset(match: re.Match[str]) -> str:
        return match.group(1) + match.group(2) + scale_duration(match.group(3), factor)

    def age(match: re.Match[str]) -> str:
        return match.group(1) + str(scale_seconds(float(match.group(2)), factor))

    out = []
    for is_code, text in _code_and_strings(expr):
        if is_code:
            text = _OFFSET.sub(offset, _RANGE.sub(window, text))
        out.append(text)
    return _AGE_COMPARISON.sub(age, "".join(out))


def rule_groups_of(document: Mapping[str, Any], source: str) -> list[dict[str, Any]]:
    """The `spec.groups` of a PrometheusRule: what a plain Prometheus rule file holds."""
    if document.get("apiVersion") != PROMETHEUS_RULE_API or document.get("kind") != PROMETHEUS_RULE_KIND:
        raise BadInput(
            f"{source}: expected apiVersion {PROMETHEUS_RULE_API}, kind {PROMETHEUS_RULE_KIND}; "
            f"got {document.get('apiVersion')}/{document.get('kind')}"
        )
    groups = (document.get("spec") or {}).get("groups")
    if not isinstance(groups, list) or not groups:
        raise BadInput(f"{source}: spec.groups must be a non-empty list of rule groups")
    return copy.deepcopy(groups)


def scale_rule_groups(groups: Iterable[Mapping[str, Any]], factor: int) -> list[dict[str, Any]]:
    scaled = []
    for group in groups:
        new_group = copy.deepcopy(dict(group))
        if "interval" in new_group:
            new_group["interval"] = scale_duration(new_group["interval"], factor)
        rules = []
        for rule in new_group.get("rules") or []:
            new_rule = dict(rule)
            new_rule["expr"] = scale_expr(str(new_rule["expr"]), factor)
            if "for" in new_rule:
                new_rule["for"] = scale_duration(new_rule["for"], factor)
            rules.append(new_rule)
        new_group["rules"] = rules
        scaled.append(new_group)
    return scaled


def scale_unit_tests(document: Mapping[str, Any], factor: int) -> dict[str, Any]:
    """A promtool unit-test file whose clock runs `factor` times faster, to test a scaled profile."""
    scaled = copy.deepcopy(dict(document))
    if "evaluation_interval" in scaled:
        scaled["evaluation_interval"] = scale_duration(scaled["evaluation_interval"], factor)
    for test in scaled.get("tests") or []:
        if "interval" in test:
            test["interval"] = scale_duration(test["interval"], factor)
        for case in [*(test.get("alert_rule_test") or []), *(test.get("promql_expr_test") or [])]:
            case["eval_time"] = scale_duration(case["eval_time"], factor)
    return scaled


_ROUTE_TIMERS = ("group_wait", "group_interval", "repeat_interval")


def _scale_route(route: dict[str, Any], factor: int) -> None:
    for key in _ROUTE_TIMERS:
        if key in route:
            route[key] = scale_duration(route[key], factor)
    for child in route.get("routes") or []:
        _scale_route(child, factor)


def alertmanager_for(
    config: Mapping[str, Any],
    factor: int,
    relay_url: str | None = None,
    relay_token_file: str | None = None,
) -> dict[str, Any]:
    """The Alertmanager config of a profile: timers scaled, the relay receiver optionally re-pointed.

    With a relay URL but no token file the relay receiver sends no Authorization header, for a relay
    that runs without a token on loopback.
    """
    rendered = copy.deepcopy(dict(config))
    global_section = rendered.get("global") or {}
    if "resolve_timeout" in global_section:
        global_section["resolve_timeout"] = scale_duration(global_section["resolve_timeout"], factor)
    if "route" not in rendered:
        raise BadInput("alertmanager.yml: no top-level route")
    _scale_route(rendered["route"], factor)
    if relay_url is None and relay_token_file is None:
        return rendered
    relay = next((r for r in rendered.get("receivers") or [] if r.get("name") == RELAY_RECEIVER), None)
    if relay is None or not relay.get("webhook_configs"):
        raise BadInput(f"alertmanager.yml: no receiver {RELAY_RECEIVER!r} with webhook_configs to re-point")
    for hook in relay["webhook_configs"]:
        if relay_url is not None:
            hook["url"] = relay_url
        http_config = hook.setdefault("http_config", {})
        if relay_token_file is not None:
            http_config["authorization"] = {"type": "Bearer", "credentials_file": relay_token_file}
        else:
            http_config.pop("authorization", None)
        if not http_config:
            del hook["http_config"]
    return rendered


# PromQL words that look like series names but are not.
_KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and", "or", "unless"}
    | {"inf", "nan", "atan2", "start", "end"}
)
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w.:$])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()")
_TEMPLATE_VARIABLE = re.compile(r"\$\{[^}]*\}|\$\w+")


def referenced_series(expr: str) -> set[str]:
    """Metric names a PromQL expression reads (Grafana `$variables` allowed), for contract checks."""
    code = "".join(text if is_code else '""' for is_code, text in _code_and_strings(expr))
    code = _TEMPLATE_VARIABLE.sub("0", code)
    code = re.sub(r"\{[^}]*\}", "", code)
    code = re.sub(r"\[[^\]]*\]", "", code)
    code = _GROUPING.sub("", code)
    return {name for name in _IDENTIFIER.findall(code) if name.lower() not in _KEYWORDS}


def histogram_series(name: str) -> tuple[str, str, str]:
    return (f"{name}_bucket", f"{name}_sum", f"{name}_count")
