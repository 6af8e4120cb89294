"""Shared AWS plumbing of the AWS collectors: sessions, clients, pagination, errors.

Credentials come only from the standard AWS credential chain (environment,
``profile``, SSO, instance or task role); nothing here reads, records or prints
them. Throttling and transient errors are retried by botocore's ``standard``
retry mode. Every botocore error is turned into ONE line naming the source,
what it was doing and what to do next: :class:`~forensics.errors.SourceError`
for an unreachable or refusing service, :class:`~forensics.errors.ConfigError`
for a bad option.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, NoReturn, TypeVar
from urllib.parse import urlsplit, urlunsplit

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)
from botocore.parsers import ResponseParserError

from collectors.base import Collector
from forensics.errors import ConfigError, SourceError

#: Options every AWS collector accepts.
COMMON_OPTIONS: Final = frozenset(
    {"region", "endpoint_url", "profile", "max_attempts", "connect_timeout", "read_timeout"}
)

_ACCESS_DENIED: Final = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedException",
        "AuthorizationError",
        "NotAuthorized",
    }
)
_BAD_CREDENTIALS: Final = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestExpired",
    }
)
_NOT_FOUND: Final = frozenset(
    {"ResourceNotFoundException", "NoSuchBucket", "ResourceNotDiscoveredException"}
)

#: Errors that mean the service answered something botocore could not read.
UNREADABLE_RESPONSE: Final = (ResponseParserError, AttributeError, KeyError, TypeError, ValueError)

T = TypeVar("T")


def redact_endpoint(url: str) -> str:
    """Drop any user:password part of an endpoint URL before it is recorded."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return url


def one_line(text: str, limit: int = 240) -> str:
    """Collapse a service message (possibly an HTML error page) into one short line."""
    flat = re.sub(r"<[^>]+>", " ", text)
    flat = " ".join(flat.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


class AwsAccess:
    """One source's AWS session and clients, with error translation.

    Reads the common options ``region``, ``endpoint_url`` (else ``AWS_ENDPOINT_URL``),
    ``profile``, ``max_attempts``, ``connect_timeout`` and ``read_timeout`` of the
    collector's configuration.
    """

    def __init__(self, collector: Collector) -> None:
        self.where = collector.config.where()
        self.region: str | None = collector.option("region")
        self.profile: str | None = collector.option("profile")
        endpoint = collector.option("endpoint_url") or os.environ.get("AWS_ENDPOINT_URL") or None
        self.endpoint_url: str | None = endpoint
        self.max_attempts = _positive_int(collector, "max_attempts", 5)
        self.connect_timeout = _positive_int(collector, "connect_timeout", 10)
        self.read_timeout = _positive_int(collector, "read_timeout", 60)
        for key in ("region", "profile", "endpoint_url"):
            value = collector.option(key)
            if value is not None and (not isinstance(value, str) or not value):
                raise ConfigError(f"{self.where}: {key} must be a non-empty string")
        self._session: boto3.session.Session | None = None
        self._clients: dict[str, Any] = {}

    def describe(self) -> dict[str, Any]:
        """The connection settings as recorded in the query (never credentials)."""
        return {
            "region": self.resolved_region(),
            "endpoint_url": redact_endpoint(self.endpoint_url) if self.endpoint_url else None,
            "profile": self.profile,
            "retries": {"mode": "standard", "max_attempts": self.max_attempts},
        }

    def session(self) -> boto3.session.Session:
        """The boto3 session (profile and region resolved through the AWS chain)."""
        if self._session is None:
            try:
                self._session = boto3.session.Session(
                    profile_name=self.profile, region_name=self.region
                )
            except ProfileNotFound:
                raise ConfigError(
                    f"{self.where}: AWS profile {self.profile!r} is not in the AWS config files; "
                    "fix the profile key or AWS_CONFIG_FILE"
                ) from None
        return self._session

    def resolved_region(self) -> str | None:
        """The region in use: the ``region`` option or the chain's default."""
        return self.region or self.session().region_name

    def client(self, service: str) -> Any:
        """A botocore client for ``service`` with standard retries and timeouts."""
        if service not in self._clients:
            config = BotoConfig(
                retries={"mode": "standard", "max_attempts": self.max_attempts},
                connect_timeout=self.connect_timeout,
                read_timeout=self.read_timeout,
                user_agent_extra="incident-forensics",
            )
            try:
                session: Any = self.session()  # the service name is dynamic
                self._clients[service] = session.client(
                    service, endpoint_url=self.endpoint_url, config=config
                )
            except NoRegionError:
                raise ConfigError(
                    f'{self.where}: no AWS region; set region = "eu-west-1" (for example) '
                    "on this source or AWS_DEFAULT_REGION"
                ) from None
            except ValueError as exc:
                raise ConfigError(f"{self.where}: invalid AWS client setting: {exc}") from None
        return self._clients[service]

    def call(self, what: str, action: Callable[[], T]) -> T:
        """Run one request, turning botocore errors into one clear line."""
        try:
            return action()
        except (BotoCoreError, ClientError) as exc:
            self.fail(what, exc)
        except UNREADABLE_RESPONSE as exc:
            self.unreadable(what, exc)

    def pages(self, service: str, operation: str, what: str, **params: Any) -> Iterator[Any]:
        """Yield every page of a paginated operation, translating errors."""
        paginator = self.client(service).get_paginator(operation)
        iterator = iter(paginator.paginate(**params))
        while True:
            try:
                page = next(iterator)
            except StopIteration:
                return
            except (BotoCoreError, ClientError) as exc:
                self.fail(what, exc)
            except UNREADABLE_RESPONSE as exc:
                self.unreadable(what, exc)
            yield page

    def unreadable(self, what: str, exc: Exception) -> NoReturn:
        """Raise the one-line error for a response botocore could not parse."""
        raise SourceError(
            f"{self.where}: {what}: the service's response could not be read "
            f"({type(exc).__name__}: {one_line(str(exc), 120)}); run with --debug for details"
        ) from exc

    def fail(self, what: str, exc: Exception) -> NoReturn:
        """Raise the one-line error matching a botocore exception."""
        where = self.where
        target = (
            redact_endpoint(self.endpoint_url)
            if self.endpoint_url
            else f"AWS ({self.region or 'default region'})"
        )
        if isinstance(exc, NoCredentialsError | PartialCredentialsError):
            raise SourceError(
                f"{where}: no AWS credentials found to {what}; configure the AWS credential "
                "chain (AWS_PROFILE or profile = ..., environment variables, SSO or a role)"
            ) from None
        if isinstance(exc, ParamValidationError):
            raise ConfigError(f"{where}: invalid request to {what}: {one_line(str(exc))}") from None
        if isinstance(
            exc,
            EndpointConnectionError
            | ConnectTimeoutError
            | ReadTimeoutError
            | ConnectionClosedError,
        ):
            raise SourceError(
                f"{where}: cannot reach {target} to {what} ({type(exc).__name__}); "
                "check the network, region and endpoint_url"
            ) from None
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", "")) or "Unknown"
            message = one_line(str(error.get("Message", "")) or code)
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in _ACCESS_DENIED:
                raise SourceError(
                    f"{where}: access denied to {what} ({code}); grant the credentials "
                    "the read permission for it"
                ) from None
            if code in _BAD_CREDENTIALS:
                raise SourceError(
                    f"{where}: AWS refused the credentials to {what} ({code}); "
                    "refresh or fix them in the AWS credential chain"
                ) from None
            if code in _NOT_FOUND:
                raise SourceError(f"{where}: {what}: not found ({code}: {message})") from None
            if code.isdigit():
                raise SourceError(
                    f"{where}: {what} failed with HTTP {code} from {target}: {message}"
                ) from None
            raise SourceError(
                f"{where}: {what} failed ({code}, HTTP {status}): {message}"
            ) from None
        raise SourceError(
            f"{where}: {what} failed ({type(exc).__name__}): {one_line(str(exc))}"
        ) from None


def _positive_int(collector: Collector, key: str, default: int) -> int:
    value = collector.option(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{collector.config.where()}: {key} must be a positive integer")
    return value


def string_list(collector: Collector, key: str) -> list[str]:
    """Read an option that is a string or a list of strings (empty when absent)."""
    value = collector.option(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{collector.config.where()}: {key} must be a list of strings")
    return list(value)


def service_patterns(collector: Collector) -> dict[str, str]:
    """Read ``services``: a table of resource-name glob pattern -> service name."""
    value = collector.option("services", {})
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and k and v for k, v in value.items()
    ):
        raise ConfigError(
            f"{collector.config.where()}: services must be a table of "
            '"<resource name pattern>" = "<service name>"'
        )
    return dict(value)


def short_name(value: str) -> str:
    """The last part of an ARN or path (``arn:...:service/prod/checkout`` -> ``checkout``)."""
    if value.startswith("arn:"):
        resource = value.split(":", 5)[-1]
        return re.split(r"[/:]", resource)[-1] or value
    return value


def service_for(names: list[str], patterns: Mapping[str, str]) -> str | None:
    """Map resource names to a service: the first configured pattern that matches wins.

    Each candidate name is tried in full and as its short name; when no pattern
    matches, the short form of the first candidate is the service name.
    """
    candidates = [n for n in names if n]
    for pattern, service in patterns.items():
        for name in candidates:
            if fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(short_name(name), pattern):
                return service
    return short_name(candidates[0]) if candidates else None
