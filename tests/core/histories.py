"""The churn model's desired state after a list of edits, for the promotion and rollback rules."""

from __future__ import annotations

from modelops.core.document import ModelsDocument
from tests.core.template import template_text

AT = "2026-11-21T10:00:00Z"


def churn(edits=()):
    doc = ModelsDocument(template_text())
    for kind, env, version in edits:
        if kind == "promote":
            doc.promote("churn", env, version, at=AT, by="t", reason="r")
        elif kind == "canary":
            doc.start_canary("churn", env, version, 10, at=AT, by="t", reason="r")
        elif kind == "rollback":
            doc.rollback("churn", env, at=AT, by="t", reason="r")
    return ModelsDocument(doc.dump()).state().model("churn")
