"""Shared foundation of the data center: settings, storage, errors, CLI.

This package imports none of `catalog`, `ingest` or `api` at module level (the CLI
imports them lazily, inside commands), so the layers stay one-way.
"""

__version__ = "0.1.0"
#: the STAC version of every object we write and serve (items, collections, the landing page)
STAC_VERSION = "1.1.0"
