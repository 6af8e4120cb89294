"""incident-forensics: preserve incident evidence into sealed, verifiable bundles.

The library is usable without the CLI::

    from forensics import load_config, open_store, preserve, verify_bundle
    from collectors import Window
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from forensics.config import Config, SourceConfig, load_config
from forensics.errors import (
    BundleNotFoundError,
    ConfigError,
    ForensicsError,
    ImmutableObjectError,
    IntegrityError,
    InvalidIdentifierError,
    SourceError,
    StagingFullError,
    StoreError,
)
from forensics.listing import list_bundles
from forensics.preserve import PreserveResult, preserve
from forensics.stores import open_store, split_bundle_uri
from forensics.verify import VerifyResult, verify_bundle

if TYPE_CHECKING:
    from forensics.bundle.reader import Bundle


def __getattr__(name: str) -> Any:
    """``forensics.Bundle`` is imported on first use (it brings pandas; the CLI starts faster)."""
    if name == "Bundle":
        from forensics.bundle.reader import Bundle

        return Bundle
    raise AttributeError(f"module 'forensics' has no attribute {name!r}")


__all__ = [
    "Bundle",
    "BundleNotFoundError",
    "Config",
    "ConfigError",
    "ForensicsError",
    "ImmutableObjectError",
    "IntegrityError",
    "InvalidIdentifierError",
    "PreserveResult",
    "SourceConfig",
    "SourceError",
    "StagingFullError",
    "StoreError",
    "VerifyResult",
    "list_bundles",
    "load_config",
    "open_store",
    "preserve",
    "split_bundle_uri",
    "verify_bundle",
]
