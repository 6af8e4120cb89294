"""The exception tree of incident-forensics.

Every error the library raises on purpose is a :class:`ForensicsError`. Each
subclass also inherits the matching built-in exception, so callers may catch
either (``except FileNotFoundError`` still works for a missing bundle). The
CLI turns any ``ForensicsError`` into one clear line and a non-zero exit.
Messages never contain credentials: they name the environment variable that
holds a secret, never its value.
"""

from __future__ import annotations


class ForensicsError(Exception):
    """Base class of every error raised on purpose by incident-forensics."""


class ConfigError(ForensicsError, ValueError):
    """The configuration file or a command-line option is invalid."""


class InvalidIdentifierError(ConfigError):
    """An incident or bundle id is not acceptable (path traversal, odd characters)."""


class SourceError(ForensicsError, ConnectionError):
    """A configured source could not be read (unreachable, refused, bad credentials)."""


class StoreError(ForensicsError, OSError):
    """The evidence store could not be used (missing bucket, no permission, no lock)."""


class StagingFullError(ForensicsError, OSError):
    """The staging folder's disk is full (or over quota): nothing more can be staged."""


class BundleNotFoundError(StoreError, FileNotFoundError):
    """No bundle (or no object) exists at the given location."""


class ImmutableObjectError(StoreError, PermissionError):
    """A write would overwrite or delete sealed evidence, and was refused."""


class IntegrityError(ForensicsError, ValueError):
    """A bundle failed verification: files changed, missing, added, or chain broken."""
