"""The metric contract between the serving runtime, drift detection and monitoring/.

One place names every series, so the predictor that exports them, the alert rules that read them and
the dashboard that plots them cannot drift apart. Every series carries the labels model, env and version.
"""

from __future__ import annotations

SERVING_LABELS = ("model", "env", "version")

# Counter: predictions served, label outcome="ok"|"error".
REQUESTS_TOTAL = "modelops_requests_total"
# Histogram (seconds): end-to-end predict latency.
LATENCY_SECONDS = "modelops_request_latency_seconds"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0)
# Histogram: one score per prediction, by the model's task: P(positive) (binary), the top class's
# probability (multiclass), both on SCORE_BUCKETS; the predicted value (regression), on the training
# target's deciles from the version's data profile.
SCORE = "modelops_prediction_score"
SCORE_BUCKETS = tuple(round(0.1 * i, 1) for i in range(1, 10))
# Counter: predictions whose delayed label arrived, label outcome="correct"|"wrong" (written by
# the job that joins labels to predictions; the canary analysis uses it when present).
LABELLED_TOTAL = "modelops_labelled_predictions_total"
# Gauge (unix seconds): when this version started serving here. Burn-in is measured from it.
VERSION_START = "modelops_version_start_time_seconds"
# Gauge = 1, labels model, env, version, run_id: which version serves.
MODEL_INFO = "modelops_model_info"
# Per-feature summaries drift detection can read: numeric features as a histogram with the
# reference's quantile edges (label feature), categorical ones as a counter (labels feature, category),
# and missing values as a counter (label feature).
FEATURE_VALUE = "modelops_feature_value"
FEATURE_CATEGORY_TOTAL = "modelops_feature_category_total"
FEATURE_MISSING_TOTAL = "modelops_feature_missing_total"

# Drift (exported by `modelops drift`), labels model, env, feature.
DRIFT_PSI = "model_feature_drift_psi"
DRIFT_KS = "model_feature_drift_ks"
DRIFT_DETECTED = "model_drift_detected"

# Relay and rollback health.
RELAY_REQUESTS_TOTAL = "modelops_relay_requests_total"
RELAY_DISPATCH_TOTAL = "modelops_relay_dispatch_total"
RELAY_REFUSED_TOTAL = "modelops_relay_refused_total"
ROLLBACK_FAILED_TOTAL = "modelops_rollback_failed_total"
# Notifications a channel failed to deliver (labels channel, event); the action itself went on.
NOTIFICATION_FAILED_TOTAL = "modelops_notification_failed_total"

# Response headers the predictor sets on every prediction.
HEADER_VERSION = "X-Model-Version"
HEADER_RUN_ID = "X-Model-Run-Id"
