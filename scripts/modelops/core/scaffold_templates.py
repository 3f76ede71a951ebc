"""The text `modelops init model` writes for a new Model, one template per file (string.Template, `$name`).

Kept apart from the planning in core/scaffold.py so the templates read as the files they become.
"""

from __future__ import annotations

from string import Template

TRAINING_SCRIPT = Template('''"""Train $name ($task): the skeleton `modelops init model` wrote. Replace the estimator with yours.

modelops runs it as `train.command` (models.yaml) inside an MLflow run it has already started, with
  MLFLOW_TRACKING_URI, MLFLOW_RUN_ID   the registry and the active run (mlflow.start_run() resumes it);
  MODELOPS_TRAIN_DATA                  the DVC-verified training table (CSV);
  MODELOPS_PARAMS_JSON                 this model's section of params.yaml, as JSON.
Its job: fit, log whatever it wants, and log exactly one MLflow model named `model` with a signature
and an input example (README, "Bring your own model"). Any flavour works; the gate reads what
`gate.task` says the outputs mean. Exit 2 means "my parameters are wrong".
"""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    import mlflow
    import mlflow.sklearn
    import pandas as pd
    import skops.io
    from mlflow.models import infer_signature
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import $estimator
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    params = json.loads(os.environ["MODELOPS_PARAMS_JSON"])
    numeric = list(params["features"].get("numeric") or [])
    categorical = list(params["features"].get("categorical") or [])
    train = dict(params.get("train") or {})
    random_state = int(train.pop("random_state", 0))
    validation_fraction = float(train.pop("validation_fraction", 0.2))

    frame = pd.read_csv(os.environ["MODELOPS_TRAIN_DATA"], dtype={c: str for c in categorical})
    frame[numeric] = frame[numeric].astype("float64")
    x, y = frame[numeric + categorical], frame[params["target"]]
    x_fit, x_val, y_fit, y_val = train_test_split(
        x, y, test_size=validation_fraction, random_state=random_state
    )
    try:
        estimator = $estimator(random_state=random_state, **train)
    except TypeError as exc:
        print(f"$name.train: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    pipe = Pipeline(
        [
            ("preprocess", ColumnTransformer([("categorical", onehot, categorical)], remainder="passthrough")),
            ("estimator", estimator),
        ]
    )
    with mlflow.start_run():
        mlflow.log_params({**train, "random_state": random_state})
        pipe.fit(x_fit, y_fit)
        # $score_name on held-out rows; the gate judges the candidate on the golden set later.
        mlflow.log_metrics({"validation_score": float(pipe.score(x_val, y_val)), "train_rows": len(y_fit)})
        example = x_fit.head(5)
        mlflow.sklearn.log_model(
            pipe,
            name="model",
            signature=infer_signature(example, pipe.predict(example)),
            input_example=example,
            serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_SKOPS,
            skops_trusted_types=skops.io.get_untrusted_types(data=skops.io.dumps(pipe)),
            pip_requirements=mlflow.sklearn.get_default_pip_requirements(include_skops=True),
        )


if __name__ == "__main__":
    main()
''')

DATA_SCRIPT = Template('''"""Synthetic data for $name, written by `modelops init model`: REPLACE this stage with your own data.

The DVC stage `$stage` (dvc.yaml) runs it and records the md5s of what it writes in dvc.lock:
  data/$name/train.csv    what training/$name.py learns from;
  data/$name/golden.csv   the frozen golden set the gate judges every candidate on (never trained on).
Your replacement must write both files with the columns params.yaml's `$name` section names (features
and target), deterministically, so the md5s reproduce. Here: `rows` rows from a fixed seed, with a
signal the skeleton model can learn, so the loop works before your data exists.

    python training/${name}_data.py [--out data/$name] [--params params.yaml]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import yaml


def main() -> None:
    import pandas as pd

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="data/$name")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    section = yaml.safe_load(Path(args.params).read_text("utf-8"))["$name"]
    settings = section["data"]
    rng = np.random.default_rng(int(settings["seed"]))
    rows = int(settings["rows"])
    x1, x2, x3 = rng.normal(size=(3, rows))
    segment = rng.choice(["a", "b", "c"], size=rows)
    signal = 1.5 * x1 - 1.0 * x2 + 0.5 * x3 + np.where(segment == "a", 0.8, 0.0)
    # $target_comment
    target = $target_expression
    frame = pd.DataFrame({"x1": x1, "x2": x2, "x3": x3, "segment": segment, section["target"]: target})
    golden_rows = int(round(float(settings["golden_fraction"]) * rows))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    frame.iloc[:golden_rows].to_csv(out / "golden.csv", index=False, float_format="%.6g")
    frame.iloc[golden_rows:].to_csv(out / "train.csv", index=False, float_format="%.6g")


if __name__ == "__main__":
    main()
''')

# What the target is, per task: a label drawn from the signal (binary, multiclass) or a noisy value.
TARGETS = {
    "binary": (
        "P(label = 1) rises with the signal.",
        "(rng.random(rows) < 1.0 / (1.0 + np.exp(-signal))).astype(int)",
    ),
    "multiclass": (
        "three classes 0, 1, 2: the noisy signal cut at two thresholds.",
        "np.digitize(signal + rng.normal(scale=0.7, size=rows), [-0.8, 0.8])",
    ),
    "regression": (
        "a value around 5 that follows the signal, with noise.",
        "np.round(5.0 + 2.0 * signal + rng.normal(scale=0.5, size=rows), 4)",
    ),
}

MODELS_ENTRY = Template("""\
$name:
  registered_model: $name
  description: $description
  owners: [$owners]
  train:
    # The training code is yours: a plain script that logs one MLflow model named `model`.
    command: python training/$name.py
  gate:
    task: $task
    primary_metric: $metric
    # Promote only when the 95 % CI lower bound of the gain (challenger over champion) clears the
    # margin; the floor is the worst acceptable $metric, checked even without a champion. Tune both
    # on your golden set (bench/bench_gate.py trades false blocks against missed regressions).
    margin: $margin
    floor: $floor
    bootstrap_samples: 2000
    seed: $seed
    latency_budget_ms: 200
  drift:
    psi_watch: 0.1
    psi_drift: 0.2
    sustained_windows: 2
    cooldown_hours: 6
  promotion:
    canary_steps: [10]
    auto_merge_staging: true
  environments:
$environments""")

PARAMS_SECTION = Template("""\
$name:
  target: label
  features:
    numeric: [x1, x2, x3]
    categorical: [segment]
  # Read by training/${name}_data.py (the DVC stage $stage): replace it with your own data stage.
  data:
    seed: 1
    rows: 600
    golden_fraction: 0.25
  # Everything in `train` goes to training/$name.py's estimator ($estimator).
  train:
    learning_rate: 0.1
    max_iter: 100
    max_depth: 3
    validation_fraction: 0.2
    random_state: 0
""")

DVC_STAGE = Template("""\
$stage:
  # Synthetic data from `modelops init model`: replace the command (and deps) with your own data
  # preparation; it must write both files, and the golden set is never trained on.
  cmd: python training/${name}_data.py --out data/$name
  deps:
    - training/${name}_data.py
  params:
    - $name.data
  outs:
    - data/$name/train.csv
    - data/$name/golden.csv
""")

ALERT_RULES = Template("""\
# $name's own alerts, written by `modelops init model`. The shared rules (model-rollback.yaml,
# model-slo.yaml, model-drift.yaml) already cover $name through its `model` label; this file holds
# what only $name knows: its latency budget, gate.latency_budget_ms in models.yaml ($budget_ms ms).
# Unit tests: monitoring/tests/model-$name.test.yaml.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: modelops-model-$name
  labels:
    app.kubernetes.io/part-of: modelops
    prometheus: k8s
    role: alert-rules
spec:
  groups:
    - name: modelops.model.$name
      interval: 30s
      rules:
        - alert: ModelLatencyOverBudget
          expr: |
            histogram_quantile(0.99,
              sum by (model, env, version, le) (rate(modelops_request_latency_seconds_bucket{model="$name"}[5m]))
            ) > $budget_seconds
            and on (model, env, version)
              (time() - modelops_version_start_time_seconds) > 300
          for: 15m
          labels:
            action: ticket
            severity: warning
          annotations:
            summary: "{{ $$labels.model }} v{{ $$labels.version }} in {{ $$labels.env }} is over its latency budget: p99 {{ $$value | humanizeDuration }}"
            description: "The 99th percentile latency of version {{ $$labels.version }} of {{ $$labels.model }} in {{ $$labels.env }} has been {{ $$value | humanizeDuration }} for 15 minutes, over the model's budget of ${budget_ms}ms (gate.latency_budget_ms). Not a rollback: a ticket for the model's owners."
            runbook_url: monitoring/RUNBOOK.md#modellatencyoverbudget
""")

ALERT_TESTS = Template("""\
# promtool unit tests of rules/model-$name.yaml (written by `modelops init model`). Run them through
# the renderer: modelops monitoring render --profile production --out /tmp/m && promtool test rules /tmp/m/tests/*.yaml
rule_files: [../rules/model-$name.yaml]
evaluation_interval: 30s

tests:
  - name: $name over its latency budget for 15 minutes gets a ticket; another model as slow does not
    interval: 1m
    input_series:
      - series: modelops_version_start_time_seconds{model="$name",env="production",version="3"}
        values: 0x40
      # Per minute: none of 100 requests answers within the budget, all within twice it: p99 = 1.99 × budget.
      - series: modelops_request_latency_seconds_bucket{model="$name",env="production",version="3",le="$below"}
        values: 0+0x40
      - series: modelops_request_latency_seconds_bucket{model="$name",env="production",version="3",le="$upper"}
        values: 0+100x40
      - series: modelops_request_latency_seconds_bucket{model="$name",env="production",version="3",le="+Inf"}
        values: 0+100x40
      - series: modelops_version_start_time_seconds{model="other-$name",env="production",version="3"}
        values: 0x40
      - series: modelops_request_latency_seconds_bucket{model="other-$name",env="production",version="3",le="$below"}
        values: 0+0x40
      - series: modelops_request_latency_seconds_bucket{model="other-$name",env="production",version="3",le="$upper"}
        values: 0+100x40
      - series: modelops_request_latency_seconds_bucket{model="other-$name",env="production",version="3",le="+Inf"}
        values: 0+100x40
    alert_rule_test:
      # The burn-in ends at 5m; `for: 15m` then holds the alert pending until 20m.
      - eval_time: 19m
        alertname: ModelLatencyOverBudget
        exp_alerts: []
      - eval_time: 21m
        alertname: ModelLatencyOverBudget
        exp_alerts:
          - exp_labels: {model: $name, env: production, version: "3", action: ticket, severity: warning}
            exp_annotations:
              summary: "$name v3 in production is over its latency budget: p99 $p99"
              description: "The 99th percentile latency of version 3 of $name in production has been $p99 for 15 minutes, over the model's budget of ${budget_ms}ms (gate.latency_budget_ms). Not a rollback: a ticket for the model's owners."
              runbook_url: monitoring/RUNBOOK.md#modellatencyoverbudget
""")
