"""modelops: GitOps delivery of ML models."""

__version__ = "0.1.0"
