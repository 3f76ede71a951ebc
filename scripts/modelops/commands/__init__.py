"""Subcommands. Each module defines `register(subparsers, parent)`; flows are imported inside handlers."""
