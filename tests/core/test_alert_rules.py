"""The demo profile's time scaling, as pure functions: durations shrink, thresholds stay."""

from __future__ import annotations

import pytest

from modelops.core.alert_rules import (
    Profile,
    alertmanager_for,
    format_duration,
    parse_duration,
    referenced_series,
    rule_groups_of,
    scale_duration,
    scale_expr,
    scale_rule_groups,
    scale_unit_tests,
)
from modelops.errors import BadInput


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("5m", 300_000),
        ("1h30m", 5_400_000),
        ("250ms", 250),
        ("1d", 86_400_000),
        ("2w", 1_209_600_000),
        ("0", 0),
    ],
)
def test_durations_parse_as_prometheus_reads_them(text: str, ms: int) -> None:
    assert parse_duration(text) == ms


@pytest.mark.parametrize("text", ["", "5", "5 m", "m5", "1.5h", "-5m", "5M"])
def test_malformed_durations_are_refused_with_the_value_named(text: str) -> None:
    with pytest.raises(BadInput, match="not a Prometheus duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("ms", "text"), [(90_000, "1m30s"), (0, "0s"), (7_200_000, "2h"), (1_500, "1s500ms")]
)
def test_durations_print_in_their_shortest_form(ms: int, text: str) -> None:
    assert format_duration(ms) == text


@pytest.mark.parametrize(
    ("text", "factor", "scaled"),
    [
        ("5m", 30, "10s"),
        ("1h", 30, "2m"),
        ("6h", 30, "12m"),
        ("30s", 30, "1s"),
        ("15m", 30, "30s"),
        # Whole seconds, rounded, never below one second.
        ("5s", 30, "1s"),
        ("100ms", 30, "1s"),
        ("1m", 7, "9s"),
        ("0s", 30, "0s"),
        ("5m", 1, "5m"),
        ("1h30m", 1, "1h30m"),
    ],
)
def test_scaling_divides_a_duration_into_whole_seconds_of_at_least_one(
    text: str, factor: int, scaled: str
) -> None:
    assert scale_duration(text, factor) == scaled


def test_scaling_shrinks_range_windows_subqueries_and_offsets() -> None:
    expr = "rate(a[5m]) + max_over_time(b[1h:1m]) - c offset 30m + d[6h:] + e offset -1h"
    assert (
        scale_expr(expr, 30)
        == "rate(a[10s]) + max_over_time(b[2m:2s]) - c offset 1m + d[12m:] + e offset -2m"
    )


def test_scaling_shrinks_the_burn_in_age_but_no_threshold() -> None:
    expr = (
        'rate(x{outcome="error"}[5m]) / rate(x[5m]) > 0.02\n'
        "and on (model, env, version) (time() - modelops_version_start_time_seconds) > 300"
    )
    scaled = scale_expr(expr, 30)
    assert "(time() - modelops_version_start_time_seconds) > 10" in scaled
    assert "> 0.02" in scaled
    assert "[10s]" in scaled


def test_an_age_with_a_label_selector_is_a_duration_too() -> None:
    expr = '(time() - start{env="production"}) >= 600'
    assert scale_expr(expr, 30) == '(time() - start{env="production"}) >= 20'


def test_string_literals_and_comments_are_never_rewritten() -> None:
    expr = 'x{path=~"[5m]", note="offset 5m"} offset 5m # keep [1h] here\n+ y[1h]'
    assert scale_expr(expr, 30) == 'x{path=~"[5m]", note="offset 5m"} offset 10s # keep [1h] here\n+ y[2m]'


def test_production_expressions_are_returned_unchanged() -> None:
    expr = "histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m]))) > 0.5"
    assert scale_expr(expr, 1) is expr


def test_rule_groups_scale_interval_and_for_but_keep_labels_and_annotations() -> None:
    groups = [
        {
            "name": "g",
            "interval": "30s",
            "rules": [
                {"alert": "A", "expr": "rate(x[5m]) > 0.02", "for": "5m", "labels": {"action": "rollback"}},
                {"record": "r", "expr": "sum(rate(x[1h]))"},
            ],
        }
    ]
    scaled = scale_rule_groups(groups, 30)
    assert scaled == [
        {
            "name": "g",
            "interval": "1s",
            "rules": [
                {"alert": "A", "expr": "rate(x[10s]) > 0.02", "for": "10s", "labels": {"action": "rollback"}},
                {"record": "r", "expr": "sum(rate(x[2m]))"},
            ],
        }
    ]
    assert groups[0]["interval"] == "30s", "the source must not be modified"


def test_a_prometheus_rule_yields_its_groups() -> None:
    doc = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "spec": {"groups": [{"name": "g"}]},
    }
    assert rule_groups_of(doc, "f.yaml") == [{"name": "g"}]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"apiVersion": "v1", "kind": "ConfigMap"}, "expected apiVersion monitoring.coreos.com/v1"),
        ({"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule", "spec": {}}, "spec.groups"),
    ],
)
def test_anything_but_a_prometheus_rule_is_refused_naming_the_file(
    doc: dict[str, object], message: str
) -> None:
    with pytest.raises(BadInput, match=rf"f\.yaml: .*{message}"):
        rule_groups_of(doc, "f.yaml")


def test_unit_tests_run_on_the_same_scaled_clock() -> None:
    doc = {
        "rule_files": ["../rules/a.yaml"],
        "evaluation_interval": "30s",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": "x", "values": "0+1x10"}],
                "alert_rule_test": [{"eval_time": "15m", "alertname": "A"}],
                "promql_expr_test": [{"eval_time": "1h", "expr": "x"}],
            }
        ],
    }
    scaled = scale_unit_tests(doc, 30)
    assert scaled["evaluation_interval"] == "1s"
    assert scaled["tests"][0]["interval"] == "2s"
    assert scaled["tests"][0]["alert_rule_test"][0]["eval_time"] == "30s"
    assert scaled["tests"][0]["promql_expr_test"][0]["eval_time"] == "2m"
    assert scaled["tests"][0]["input_series"] == doc["tests"][0]["input_series"]


ALERTMANAGER = {
    "global": {"resolve_timeout": "5m"},
    "route": {
        "receiver": "ticket",
        "group_wait": "30s",
        "routes": [
            {
                "receiver": "modelops-relay",
                "group_wait": "5s",
                "group_interval": "1m",
                "repeat_interval": "1h",
            }
        ],
    },
    "receivers": [
        {
            "name": "modelops-relay",
            "webhook_configs": [
                {
                    "url": "http://modelops-relay.modelops.svc:8080/alerts",
                    "send_resolved": True,
                    "http_config": {"authorization": {"type": "Bearer", "credentials_file": "/etc/token"}},
                }
            ],
        },
        {"name": "ticket"},
    ],
}


def test_the_demo_alertmanager_scales_its_timers_and_points_at_the_given_relay() -> None:
    rendered = alertmanager_for(ALERTMANAGER, 30, "http://127.0.0.1:9/alerts", "/tmp/token")
    assert rendered["global"]["resolve_timeout"] == "10s"
    assert rendered["route"]["group_wait"] == "1s"
    assert rendered["route"]["routes"][0] == {
        "receiver": "modelops-relay",
        "group_wait": "1s",
        "group_interval": "2s",
        "repeat_interval": "2m",
    }
    assert rendered["receivers"][0]["webhook_configs"][0] == {
        "url": "http://127.0.0.1:9/alerts",
        "send_resolved": True,
        "http_config": {"authorization": {"type": "Bearer", "credentials_file": "/tmp/token"}},
    }
    assert ALERTMANAGER["global"]["resolve_timeout"] == "5m", "the source must not be modified"


def test_a_relay_without_a_token_file_gets_no_authorization_header() -> None:
    rendered = alertmanager_for(ALERTMANAGER, 30, "http://127.0.0.1:9/alerts")
    assert rendered["receivers"][0]["webhook_configs"][0] == {
        "url": "http://127.0.0.1:9/alerts",
        "send_resolved": True,
    }


def test_production_alertmanager_is_the_source_unchanged() -> None:
    assert alertmanager_for(ALERTMANAGER, 1) == ALERTMANAGER


def test_re_pointing_a_config_without_the_relay_receiver_is_refused() -> None:
    config = {"route": {"receiver": "ticket"}, "receivers": [{"name": "ticket"}]}
    with pytest.raises(BadInput, match="modelops-relay"):
        alertmanager_for(config, 30, "http://127.0.0.1:9/alerts")


@pytest.mark.parametrize(
    ("name", "factor", "expected"),
    [
        ("production", None, Profile("production", 1)),
        ("demo", None, Profile("demo", 30)),
        ("demo", 12, Profile("demo", 12)),
    ],
)
def test_profiles(name: str, factor: int | None, expected: Profile) -> None:
    assert Profile.named(name, factor) == expected


@pytest.mark.parametrize(
    ("name", "factor", "message"),
    [("production", 30, "--factor"), ("demo", 0, "--factor 0"), ("staging", None, "--profile staging")],
)
def test_invalid_profiles_are_refused(name: str, factor: int | None, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        Profile.named(name, factor)


@pytest.mark.parametrize(
    ("expr", "series"),
    [
        (
            'histogram_quantile(0.99, sum by (model, le) (rate(lat_bucket{env="$env"}[$__rate_interval]))) > 0.5',
            {"lat_bucket"},
        ),
        ("a > on () group_left () (10 * (1 - rec:ratio))", {"a", "rec:ratio"}),
        ("sum(x) by (model) / ignoring(outcome) y offset 5m and bool z unless w", {"x", "y", "z", "w"}),
        ('up{job="r"} == 0 or absent(up{job="r"})', {"up"}),
        ("vector(0.995) * 1e3 + time()", set()),
    ],
)
def test_referenced_series_names_what_an_expression_reads(expr: str, series: set[str]) -> None:
    assert referenced_series(expr) == series
