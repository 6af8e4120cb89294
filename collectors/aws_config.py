"""AWS Config configuration history as change rows, with a before/after diff.

Resources are named (``resources = [{ type = "AWS::EC2::SecurityGroup", id = "sg-1" }]``)
or found for whole types (``resource_types``, via ``ListDiscoveredResources``,
deleted resources included). For each resource ``GetResourceConfigHistory`` is
read newest first from the window's end back to the first item older than the
window, which is kept only as the base of the first diff. Each configuration
item in the window becomes one change row whose ``details.changes`` lists every
changed key (dotted path into ``configuration``, ``supplementaryConfiguration``,
``tags``, ``relationships`` and the item status) with its ``old`` and ``new`` value.

Kind ``changes`` collectors already receive the window widened by the changes
lookback. Every item read is a row, a reject or a counted skip (``before_window``
for the diff base and older items on the last page, ``outside_window``).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, ClassVar, Final

import pyarrow as pa
from botocore.exceptions import BotoCoreError, ClientError

from collectors.aws_common import (
    COMMON_OPTIONS,
    UNREADABLE_RESPONSE,
    AwsAccess,
    service_for,
    service_patterns,
)
from collectors.base import Collector, RejectSink, SourceReport
from collectors.records import BatchBuilder, RecordError, parse_timestamp
from forensics.config import SourceConfig
from forensics.errors import ConfigError
from forensics.timeutil import isoformat
from forensics.window import Window

_OPTIONS = COMMON_OPTIONS | {
    "resources",
    "resource_types",
    "include_deleted",
    "services",
    "page_size",
    "batch_rows",
}

#: Resource type pattern -> change kind; the first match wins, unmatched types are ``other``.
#: Refinements in :func:`change_kind`: a Lambda function whose code changed is ``deploy``,
#: an ECS service whose only change is ``desiredCount`` is ``scaling``, a load balancer
#: listener whose certificates changed is ``certificate``, and an AppConfig resource named
#: for a feature flag is ``feature_flag``.
RESOURCE_KIND_RULES: Final[tuple[tuple[str, str], ...]] = (
    ("AWS::EC2::*", "infra"),
    ("AWS::Route53::*", "dns"),
    ("AWS::Route53Resolver::*", "dns"),
    ("AWS::ACM::Certificate", "certificate"),
    ("AWS::AutoScaling::*", "scaling"),
    ("AWS::ApplicationAutoScaling::*", "scaling"),
    ("AWS::Lambda::Function", "config"),
    ("AWS::Lambda::Alias", "deploy"),
    ("AWS::ECS::TaskDefinition", "deploy"),
    ("AWS::ECS::Service", "deploy"),
    ("AWS::CodeDeploy::*", "deploy"),
    ("AWS::SSM::*", "config"),
    ("AWS::AppConfig::*", "config"),
    ("AWS::ElasticLoadBalancingV2::*", "infra"),
    ("AWS::ElasticLoadBalancing::*", "infra"),
    ("AWS::RDS::*", "infra"),
    ("AWS::IAM::*", "infra"),
    ("AWS::S3::*", "infra"),
    ("AWS::SNS::*", "infra"),
    ("AWS::SQS::*", "infra"),
    ("AWS::DynamoDB::*", "infra"),
    ("AWS::CloudFront::*", "infra"),
)

_ABSENT: Final = None


def _json_default(value: Any) -> str:
    if isinstance(value, datetime):
        return isoformat(value)
    return str(value)


def _parsed(value: Any) -> Any:
    """Config nests JSON as strings (``configuration``); decode them when they are JSON."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except (json.JSONDecodeError, RecursionError):
            return value
    return value


def state_of(item: dict[str, Any]) -> dict[str, Any]:
    """The comparable state of a configuration item."""
    supplementary = item.get("supplementaryConfiguration") or {}
    return {
        "configurationItemStatus": item.get("configurationItemStatus"),
        "configuration": _parsed(item.get("configuration")),
        "supplementaryConfiguration": {k: _parsed(v) for k, v in supplementary.items()},
        "tags": item.get("tags") or {},
        "relationships": item.get("relationships") or [],
    }


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for key, child in value.items():
            _flatten(child, f"{prefix}.{key}" if prefix else str(key), out)
    else:
        out[prefix] = value


def diff_states(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Changed keys between two states, as dotted paths with ``old`` and ``new`` values.

    Objects are compared key by key; lists and scalars as whole values. A key that
    appears or disappears has ``None`` on the missing side.
    """
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    _flatten(old, "", before)
    _flatten(new, "", after)
    return {
        path: {"old": before.get(path, _ABSENT), "new": after.get(path, _ABSENT)}
        for path in sorted(set(before) | set(after))
        if before.get(path, _ABSENT) != after.get(path, _ABSENT)
    }


def change_kind(resource_type: str, changes: dict[str, Any] | None, name: str) -> str:
    """The change kind of one configuration item (see :data:`RESOURCE_KIND_RULES`)."""
    kind = "other"
    for pattern, rule_kind in RESOURCE_KIND_RULES:
        if fnmatch.fnmatchcase(resource_type, pattern):
            kind = rule_kind
            break
    paths = set(changes or {})
    if resource_type == "AWS::Lambda::Function" and any(
        p.endswith((".codeSha256", ".codeSize", ".version")) for p in paths
    ):
        return "deploy"
    if resource_type == "AWS::ECS::Service" and paths == {"configuration.desiredCount"}:
        return "scaling"
    if resource_type == "AWS::ElasticLoadBalancingV2::Listener" and any(
        "certificates" in p.lower() for p in paths
    ):
        return "certificate"
    if resource_type.startswith("AWS::AppConfig::") and "feature" in name.lower():
        return "feature_flag"
    return kind


class AwsConfigCollector(Collector):
    """Configuration items of AWS Config resources in the window, each with its diff."""

    type: ClassVar[str] = "aws_config"
    kinds: ClassVar[tuple[str, ...]] = ("changes",)
    default_kind: ClassVar[str] = "changes"

    def __init__(self, config: SourceConfig, *, window: Window) -> None:
        super().__init__(config, window=window)
        self.check_options(set(_OPTIONS))
        where = config.where()
        self.aws = AwsAccess(self)
        self.explicit = self._resources(self.option("resources", []))
        types = self.option("resource_types", [])
        if isinstance(types, str):
            types = [types]
        if not isinstance(types, list) or not all(
            isinstance(t, str) and t.startswith("AWS::") for t in types
        ):
            raise ConfigError(f'{where}: resource_types must be a list such as ["AWS::EC2::VPC"]')
        self.types: list[str] = types
        if not self.explicit and not self.types:
            raise ConfigError(f"{where}: set resources and/or resource_types")
        self.include_deleted = bool(self.option("include_deleted", True))
        self.page_size = int(self.option("page_size", 100))
        if not 1 <= self.page_size <= 100:
            raise ConfigError(f"{where}: page_size must be between 1 and 100")
        self.services = service_patterns(self)
        self.batch_rows = int(self.option("batch_rows", 8192))
        self.targets: list[dict[str, str]] = []

    def _resources(self, value: Any) -> list[dict[str, str]]:
        where = self.config.where()
        if not isinstance(value, list):
            raise ConfigError(f"{where}: resources must be a list of {{ type = ..., id = ... }}")
        out: list[dict[str, str]] = []
        for entry in value:
            if (
                not isinstance(entry, dict)
                or set(entry) - {"type", "id"}
                or not isinstance(entry.get("type"), str)
                or not isinstance(entry.get("id"), str)
                or not entry["id"]
            ):
                raise ConfigError(
                    f'{where}: each resource needs type = "AWS::..." and id = "..." (got {entry!r})'
                )
            out.append({"type": entry["type"], "id": entry["id"]})
        return out

    def open(self) -> SourceReport:
        """Resolve the resources (listing the configured types) and record the query."""
        targets = [dict(r, name="", origin="configured") for r in self.explicit]
        seen = {(r["type"], r["id"]) for r in targets}
        listed: dict[str, int] = {}
        for resource_type in self.types:
            listed[resource_type] = 0
            for page in self.aws.pages(
                "config",
                "list_discovered_resources",
                f"list {resource_type} resources",
                resourceType=resource_type,
                includeDeletedResources=self.include_deleted,
            ):
                for found in page.get("resourceIdentifiers", []):
                    key = (found["resourceType"], found["resourceId"])
                    listed[resource_type] += 1
                    if key not in seen:
                        seen.add(key)
                        targets.append(
                            {
                                "type": key[0],
                                "id": key[1],
                                "name": str(found.get("resourceName", "")),
                                "origin": "listed",
                            }
                        )
        self.targets = targets
        self.report = SourceReport(
            query={
                "service": "config",
                "api": "GetResourceConfigHistory",
                **self.aws.describe(),
                "laterTime": isoformat(self.window.until),
                "chronologicalOrder": "Reverse",
                "read_back_to": isoformat(self.window.since),
                "limit": self.page_size,
                "resources": [{"type": t["type"], "id": t["id"]} for t in targets],
                "resource_types": self.types,
                "listed_per_type": listed,
                "include_deleted": self.include_deleted,
                "services": self.services,
            },
            reported_count=0,
            counted_by="reader",
            notes=[
                "the reported count is the number of configuration items read "
                "(AWS Config has no count API); the newest item before the window is read "
                "as the base of the first diff and skipped as before_window"
            ],
        )
        return self.report

    def batches(self, rejects: RejectSink) -> Iterator[pa.RecordBatch]:
        """Read each resource's history back to the window start and yield change rows."""
        builder = BatchBuilder(self.schema, batch_rows=self.batch_rows)
        for target in self.targets:
            items = self._history(
                target["type"], target["id"], explicit=target["origin"] == "configured"
            )
            yield from self._rows(items, builder, rejects)
        yield from builder.drain()

    def _history(self, resource_type: str, resource_id: str, *, explicit: bool) -> list[Any]:
        what = f"read the configuration history of {resource_type} {resource_id}"
        client = self.aws.client("config")
        paginator = client.get_paginator("get_resource_config_history")
        pages = iter(
            paginator.paginate(
                resourceType=resource_type,
                resourceId=resource_id,
                laterTime=self.window.until,
                chronologicalOrder="Reverse",
                PaginationConfig={"PageSize": self.page_size},
            )
        )
        items: list[Any] = []
        while True:
            try:
                page = next(pages)
            except StopIteration:
                break
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                if code == "ResourceNotDiscoveredException" and not explicit:
                    self.report.notes.append(
                        f"{resource_type} {resource_id} was listed but has no recorded history"
                    )
                    break
                self.aws.fail(what, exc)
            except BotoCoreError as exc:
                self.aws.fail(what, exc)
            except UNREADABLE_RESPONSE as exc:
                self.aws.unreadable(what, exc)
            batch = page.get("configurationItems", [])
            items.extend(batch)
            self.report.reported_count = (self.report.reported_count or 0) + len(batch)
            if any(self._before_window(item) for item in batch):
                break
        return items

    def _before_window(self, item: Any) -> bool:
        try:
            return parse_timestamp(item.get("configurationItemCaptureTime")) < self.window.since
        except (RecordError, AttributeError):
            return False

    def _rows(
        self, items: list[Any], builder: BatchBuilder, rejects: RejectSink
    ) -> Iterator[pa.RecordBatch]:
        readable: list[tuple[datetime, str, dict[str, Any], str]] = []
        for index, item in enumerate(items):
            raw = json.dumps(item, sort_keys=True, ensure_ascii=False, default=_json_default)
            ref = self._ref(item, index)
            if not isinstance(item, dict):
                rejects.reject(ref, "configuration item is not an object", raw.encode())
                continue
            try:
                moment = parse_timestamp(item.get("configurationItemCaptureTime"))
            except RecordError as exc:
                rejects.reject(ref, f"configurationItemCaptureTime: {exc}", raw.encode())
                continue
            readable.append((moment, ref, item, raw))
        readable.sort(key=lambda entry: (entry[0], str(entry[2].get("configurationStateId", ""))))
        previous: dict[str, Any] | None = None
        previous_id: str | None = None
        for moment, ref, item, raw in readable:
            state = state_of(item)
            changes = diff_states(previous, state) if previous is not None else None
            current_id = str(item.get("configurationStateId", "")) or None
            base_id = previous_id
            previous, previous_id = state, current_id
            if moment < self.window.since:
                self.report.skip("before_window")
                continue
            if moment not in self.window:
                self.report.skip("outside_window")
                continue
            batch = builder.add(self._values(item, moment, ref, raw, changes, base_id))
            if batch is not None:
                yield batch

    @staticmethod
    def _ref(item: Any, index: int) -> str:
        if isinstance(item, dict):
            return (
                f"config:{item.get('resourceType')}/{item.get('resourceId')}"
                f"@{item.get('configurationStateId', index)}"
            )
        return f"config:item#{index}"

    def _values(
        self,
        item: dict[str, Any],
        moment: datetime,
        ref: str,
        raw: str,
        changes: dict[str, Any] | None,
        base_id: str | None,
    ) -> list[Any]:
        resource_type = str(item.get("resourceType", ""))
        resource_id = str(item.get("resourceId", ""))
        name = str(item.get("resourceName") or resource_id)
        status = item.get("configurationItemStatus")
        if changes is None:
            what = "first recorded state in the lookback"
        elif changes:
            shown = ", ".join(list(changes)[:5]) + (" ..." if len(changes) > 5 else "")
            what = f"changed {shown}"
        else:
            what = "no configuration change"
        details = {
            "resourceType": resource_type,
            "resourceId": resource_id,
            "resourceName": item.get("resourceName"),
            "arn": item.get("arn"),
            "awsRegion": item.get("awsRegion"),
            "accountId": item.get("accountId"),
            "configurationItemStatus": status,
            "configurationStateId": item.get("configurationStateId"),
            "previousStateId": base_id,
            "changes": changes,
            "relatedEvents": item.get("relatedEvents") or [],
        }
        return [
            moment,
            change_kind(resource_type, changes, name),
            f"{resource_type}/{resource_id}@{item.get('configurationStateId', '')}",
            service_for([name, resource_id, str(item.get("arn") or "")], self.services),
            None,
            f"{resource_type} {name} {status}: {what}",
            json.dumps(details, sort_keys=True, ensure_ascii=False, default=_json_default),
            self.name,
            ref,
            raw,
        ]
