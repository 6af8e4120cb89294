"""CloudTrail management events as change rows.

Read either through ``LookupEvents`` (the last 90 days of one region's management
events, paginated) or, when ``bucket`` is set, from a trail's S3 delivery: the
gzipped JSON files ``{"Records": [...]}`` under
``[<prefix>/]AWSLogs/[<organization_id>/]<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/``
for every region and every day the window touches (plus ``delivery_lag``, since
a file lands in the folder of its delivery time, minutes after its events).

Kind ``changes`` collectors already receive the window widened by the changes
lookback. Every record read is a row, a reject (unreadable file or record) or a
counted skip: ``read_only_event`` (``readOnly`` or a Get*/Describe*/List* call),
``data_event`` (``managementEvent`` false), ``outside_window``,
``duplicate_event`` (an ``eventID`` seen before: CloudTrail may deliver twice).

Each event is classified into a change kind with :data:`CHANGE_KIND_RULES`;
``service.name`` comes from a resource named in the event, mapped through the
optional ``services`` table of resource-name patterns.
"""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import json
import re
import zlib
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any, ClassVar, Final

import pyarrow as pa

from collectors.aws_common import (
    COMMON_OPTIONS,
    AwsAccess,
    service_for,
    service_patterns,
    short_name,
    string_list,
)
from collectors.base import Collector, RejectSink, SourceReport
from collectors.records import BatchBuilder, RecordError, parse_timestamp
from forensics.config import SourceConfig
from forensics.errors import ConfigError
from forensics.timeutil import isoformat, parse_duration
from forensics.window import Window

_OPTIONS = COMMON_OPTIONS | {
    "bucket",
    "prefix",
    "account",
    "organization_id",
    "regions",
    "delivery_lag",
    "lookup_attribute",
    "services",
    "batch_rows",
}

#: Event classification: (eventSource, eventName pattern, change kind); the first match wins.
#: Names are matched after dropping API-version suffixes (Lambda's
#: ``UpdateFunctionCode20150331v2`` -> ``UpdateFunctionCode``). Refinements in
#: :func:`classify`: ECS UpdateService changing only ``desiredCount`` is ``scaling``, an
#: ELB ModifyListener changing certificates is ``certificate``, and a ``config`` change
#: whose parameters name a feature flag (``feature``, ``AWS.AppConfig.FeatureFlags``) is
#: ``feature_flag``. Anything unmatched is ``other``.
CHANGE_KIND_RULES: Final[tuple[tuple[str, str, str], ...]] = (
    # deploys
    ("ecs.amazonaws.com", "UpdateService", "deploy"),
    ("ecs.amazonaws.com", "CreateService", "deploy"),
    ("ecs.amazonaws.com", "RegisterTaskDefinition", "deploy"),
    ("lambda.amazonaws.com", "UpdateFunctionCode", "deploy"),
    ("lambda.amazonaws.com", "PublishVersion", "deploy"),
    ("lambda.amazonaws.com", "UpdateAlias", "deploy"),
    ("codedeploy.amazonaws.com", "CreateDeployment", "deploy"),
    # configuration
    ("lambda.amazonaws.com", "UpdateFunctionConfiguration", "config"),
    ("ssm.amazonaws.com", "PutParameter", "config"),
    ("ssm.amazonaws.com", "DeleteParameter*", "config"),
    ("appconfig.amazonaws.com", "CreateConfigurationProfile", "config"),
    ("appconfig.amazonaws.com", "StartDeployment", "config"),
    ("appconfig.amazonaws.com", "CreateHostedConfigurationVersion", "config"),
    # scaling
    ("autoscaling.amazonaws.com", "SetDesiredCapacity", "scaling"),
    ("autoscaling.amazonaws.com", "UpdateAutoScalingGroup", "scaling"),
    ("autoscaling.amazonaws.com", "PutScalingPolicy", "scaling"),
    ("application-autoscaling.amazonaws.com", "*", "scaling"),
    # dns
    ("route53.amazonaws.com", "ChangeResourceRecordSets", "dns"),
    # certificates
    ("acm.amazonaws.com", "RequestCertificate", "certificate"),
    ("acm.amazonaws.com", "ImportCertificate", "certificate"),
    ("acm.amazonaws.com", "DeleteCertificate", "certificate"),
    ("elasticloadbalancing.amazonaws.com", "AddListenerCertificates", "certificate"),
    ("elasticloadbalancing.amazonaws.com", "RemoveListenerCertificates", "certificate"),
    ("elasticloadbalancing.amazonaws.com", "SetLoadBalancerListenerSSLCertificate", "certificate"),
    # infrastructure
    ("elasticloadbalancing.amazonaws.com", "*", "infra"),
    ("ec2.amazonaws.com", "*", "infra"),
    ("rds.amazonaws.com", "Modify*", "infra"),
    ("rds.amazonaws.com", "Reboot*", "infra"),
    ("iam.amazonaws.com", "Put*Policy", "infra"),
    ("iam.amazonaws.com", "Attach*Policy", "infra"),
    ("iam.amazonaws.com", "Detach*Policy", "infra"),
    ("iam.amazonaws.com", "Delete*Policy", "infra"),
    ("iam.amazonaws.com", "CreatePolicy*", "infra"),
    ("iam.amazonaws.com", "DeletePolicy*", "infra"),
    ("iam.amazonaws.com", "CreateRole", "infra"),
    ("iam.amazonaws.com", "DeleteRole", "infra"),
    ("iam.amazonaws.com", "UpdateAssumeRolePolicy", "infra"),
)

#: requestParameters keys that name the changed resource, most specific first.
RESOURCE_KEYS: Final = (
    "service",
    "serviceName",
    "functionName",
    "autoScalingGroupName",
    "family",
    "applicationName",
    "deploymentGroupName",
    "name",
    "resourceId",
    "hostedZoneId",
    "certificateArn",
    "listenerArn",
    "loadBalancerName",
    "groupId",
    "groupName",
    "launchTemplateName",
    "dBInstanceIdentifier",
    "dBClusterIdentifier",
    "roleName",
    "policyArn",
    "policyName",
    "applicationId",
    "cluster",
)

_READ_ONLY_PREFIXES: Final = ("Get", "Describe", "List")
_VERSION_SUFFIX: Final = re.compile(r"\d{8}(v\d+)?$")
_ECS_SERVICE_KEYS: Final = {"cluster", "service"}


def base_event_name(name: str) -> str:
    """Drop an API-version suffix (``UpdateFunctionCode20150331v2`` -> ``UpdateFunctionCode``)."""
    return _VERSION_SUFFIX.sub("", name)


def classify(record: dict[str, Any]) -> str:
    """The change kind of one CloudTrail record (see :data:`CHANGE_KIND_RULES`)."""
    source = str(record.get("eventSource", ""))
    name = base_event_name(str(record.get("eventName", "")))
    params = record.get("requestParameters")
    params = params if isinstance(params, dict) else {}
    kind = "other"
    for rule_source, pattern, rule_kind in CHANGE_KIND_RULES:
        if source == rule_source and fnmatch.fnmatchcase(name, pattern):
            kind = rule_kind
            break
    if (
        source == "ecs.amazonaws.com"
        and name == "UpdateService"
        and "desiredCount" in params
        and set(params) - _ECS_SERVICE_KEYS == {"desiredCount"}
    ):
        return "scaling"
    if source == "elasticloadbalancing.amazonaws.com" and name == "ModifyListener":
        return "certificate" if params.get("certificates") else "infra"
    if kind == "config":
        text = json.dumps(params).lower()
        if "feature" in text or "aws.appconfig.featureflags" in text:
            return "feature_flag"
    return kind


def is_read_only(record: dict[str, Any]) -> bool:
    """Whether an event only read (``readOnly`` true, or a Get*/Describe*/List* call)."""
    flag = record.get("readOnly")
    if flag is True or (isinstance(flag, str) and flag.lower() == "true"):
        return True
    return str(record.get("eventName", "")).startswith(_READ_ONLY_PREFIXES)


def actor_of(record: dict[str, Any]) -> str | None:
    """Who made the call: the identity's ARN, else its user name, else the invoking service."""
    identity = record.get("userIdentity")
    if not isinstance(identity, dict):
        return None
    for key in ("arn", "userName", "invokedBy", "principalId"):
        value = identity.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def resource_names(record: dict[str, Any]) -> list[str]:
    """Names of the resources an event changed, most specific first."""
    names: list[str] = []
    params = record.get("requestParameters")
    if isinstance(params, dict):
        for key in RESOURCE_KEYS:
            value = params.get(key)
            if isinstance(value, str) and value:
                names.append(value)
    resources = record.get("resources")
    if isinstance(resources, list):
        for resource in resources:
            if isinstance(resource, dict):
                for key in ("ARN", "resourceName", "ResourceName"):
                    value = resource.get(key)
                    if isinstance(value, str) and value:
                        names.append(value)
    return names


class CloudTrailCollector(Collector):
    """CloudTrail management events, from LookupEvents or a trail's S3 delivery."""

    type: ClassVar[str] = "cloudtrail"
    kinds: ClassVar[tuple[str, ...]] = ("changes",)
    default_kind: ClassVar[str] = "changes"

    def __init__(self, config: SourceConfig, *, window: Window) -> None:
        super().__init__(config, window=window)
        self.check_options(set(_OPTIONS))
        where = config.where()
        self.aws = AwsAccess(self)
        self.bucket: str | None = self.option("bucket")
        self.mode = "s3" if self.bucket else "lookup"
        self.prefix = str(self.option("prefix", "")).strip("/")
        self.account: str | None = self.option("account")
        self.organization_id: str | None = self.option("organization_id")
        self.regions = string_list(self, "regions")
        self.delivery_lag = parse_duration(str(self.option("delivery_lag", "1h")))
        if self.mode == "s3":
            if not isinstance(self.bucket, str) or not self.account:
                raise ConfigError(
                    f"{where}: reading a trail from S3 needs bucket and account "
                    '(account = "123456789012")'
                )
            if not re.fullmatch(r"\d{12}", str(self.account)):
                raise ConfigError(f"{where}: account must be a 12-digit AWS account id")
        elif self.prefix or self.account or self.regions or self.organization_id:
            raise ConfigError(
                f"{where}: prefix, account, regions and organization_id need bucket "
                "(they describe a trail's S3 delivery)"
            )
        attribute = self.option("lookup_attribute")
        if attribute is not None and (
            self.mode == "s3"
            or not isinstance(attribute, dict)
            or set(attribute) != {"key", "value"}
        ):
            raise ConfigError(
                f'{where}: lookup_attribute must be a table {{ key = "EventSource", '
                'value = "ecs.amazonaws.com" }} and is only used without bucket'
            )
        self.lookup_attribute: dict[str, str] | None = attribute
        self.services = service_patterns(self)
        self.batch_rows = int(self.option("batch_rows", 8192))
        self._seen: set[str] = set()
        self._keys: list[str] = []

    # -- S3 layout ------------------------------------------------------------------

    def days(self) -> list[date]:
        """Every UTC day the window (plus the delivery lag) touches."""
        first = self.window.since.date()
        last = (self.window.until + self.delivery_lag).date()
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]

    def day_prefixes(self) -> list[str]:
        """The S3 key prefixes listed: one per region and day."""
        root = f"{self.prefix}/AWSLogs/" if self.prefix else "AWSLogs/"
        if self.organization_id:
            root += f"{self.organization_id}/"
        root += f"{self.account}/CloudTrail/"
        regions = self.regions or [self.aws.resolved_region() or "us-east-1"]
        return [f"{root}{region}/{day:%Y/%m/%d}/" for region in regions for day in self.days()]

    # -- protocol -------------------------------------------------------------------

    def open(self) -> SourceReport:
        """List the trail's files for the window (S3) or record the LookupEvents query."""
        query: dict[str, Any] = {
            "service": "cloudtrail",
            "mode": self.mode,
            **self.aws.describe(),
            "window": {
                "since": isoformat(self.window.since),
                "until": isoformat(self.window.until),
            },
            "services": self.services,
        }
        notes: list[str] = [
            "the reported count is the number of CloudTrail records read "
            "(CloudTrail has no count API)"
        ]
        if self.mode == "s3":
            prefixes = self.day_prefixes()
            keys: list[str] = []
            ignored: list[str] = []
            for prefix in prefixes:
                for page in self.aws.pages(
                    "s3",
                    "list_objects_v2",
                    f"list s3://{self.bucket}/{prefix}",
                    Bucket=self.bucket,
                    Prefix=prefix,
                ):
                    for item in page.get("Contents", []):
                        key = item["Key"]
                        (keys if key.endswith((".json.gz", ".json")) else ignored).append(key)
            self._keys = keys
            query.update(
                {
                    "api": "ListObjectsV2+GetObject",
                    "bucket": self.bucket,
                    "prefixes": prefixes,
                    "delivery_lag_seconds": int(self.delivery_lag.total_seconds()),
                    "ignored_keys": ignored,
                    "files": [],
                }
            )
            if not keys:
                notes.append("no CloudTrail file was found under the listed prefixes")
        else:
            self.aws.client("cloudtrail")
            query.update(
                {
                    "api": "LookupEvents",
                    "StartTime": isoformat(self.window.since),
                    "EndTime": isoformat(self.window.until),
                    "LookupAttributes": self._lookup_attributes(),
                }
            )
            notes.append("LookupEvents returns one region's management events of the last 90 days")
        self.report = SourceReport(query=query, reported_count=0, counted_by="reader", notes=notes)
        return self.report

    def _lookup_attributes(self) -> list[dict[str, str]]:
        if not self.lookup_attribute:
            return []
        return [
            {
                "AttributeKey": self.lookup_attribute["key"],
                "AttributeValue": self.lookup_attribute["value"],
            }
        ]

    def batches(self, rejects: RejectSink) -> Iterator[pa.RecordBatch]:
        """Read every record and yield change rows."""
        builder = BatchBuilder(self.schema, batch_rows=self.batch_rows)
        if self.mode == "s3":
            for key in self._keys:
                yield from self._file(key, builder, rejects)
        else:
            yield from self._lookup(builder, rejects)
        yield from builder.drain()

    def _count(self, n: int = 1) -> None:
        self.report.reported_count = (self.report.reported_count or 0) + n

    def _lookup(self, builder: BatchBuilder, rejects: RejectSink) -> Iterator[pa.RecordBatch]:
        params: dict[str, Any] = {"StartTime": self.window.since, "EndTime": self.window.until}
        if self.lookup_attribute:
            params["LookupAttributes"] = self._lookup_attributes()
        for page in self.aws.pages(
            "cloudtrail", "lookup_events", "look up CloudTrail events", **params
        ):
            for event in page.get("Events", []):
                self._count()
                event_id = str(event.get("EventId", ""))
                text = event.get("CloudTrailEvent")
                ref = event_id or f"lookup:{event.get('EventTime')}:{event.get('EventName')}"
                try:
                    record = json.loads(text) if isinstance(text, str) else None
                except (json.JSONDecodeError, RecursionError):
                    record = None
                if not isinstance(record, dict):
                    raw = text if isinstance(text, str) else json.dumps(event, default=str)
                    rejects.reject(ref, "CloudTrailEvent is not a JSON object", raw.encode())
                    continue
                batch = self._record(record, ref, text or "", builder, rejects)
                if batch is not None:
                    yield batch

    def _file(
        self, key: str, builder: BatchBuilder, rejects: RejectSink
    ) -> Iterator[pa.RecordBatch]:
        url = f"s3://{self.bucket}/{key}"
        client = self.aws.client("s3")
        body = self.aws.call(
            f"read {url}",
            lambda: client.get_object(Bucket=self.bucket, Key=key)["Body"].read(),
        )
        data: bytes = body
        entry: dict[str, Any] = {
            "key": key,
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "records": 0,
        }
        self.report.query["files"].append(entry)
        try:
            text = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
            document = json.loads(text)
            records = document["Records"]
            if not isinstance(records, list):
                raise TypeError("Records is not a list")
        except (
            OSError,
            EOFError,
            zlib.error,
            ValueError,
            KeyError,
            TypeError,
            RecursionError,
        ) as exc:
            self._count()
            reason = f"unreadable CloudTrail file: {type(exc).__name__}: {str(exc)[:160]}"
            rejects.reject(url, reason, data)
            return
        entry["records"] = len(records)
        self._count(len(records))
        for index, record in enumerate(records):
            ref = f"{url}#{index}"
            raw = json.dumps(record, sort_keys=True, ensure_ascii=False, default=str)
            if not isinstance(record, dict):
                rejects.reject(ref, "CloudTrail record is not a JSON object", raw.encode())
                continue
            batch = self._record(record, ref, raw, builder, rejects)
            if batch is not None:
                yield batch

    def _record(
        self,
        record: dict[str, Any],
        ref: str,
        raw: str,
        builder: BatchBuilder,
        rejects: RejectSink,
    ) -> pa.RecordBatch | None:
        try:
            moment = parse_timestamp(record.get("eventTime"))
        except RecordError as exc:
            rejects.reject(ref, f"eventTime: {exc}", raw.encode("utf-8"))
            return None
        event_id = record.get("eventID")
        if isinstance(event_id, str) and event_id:
            if event_id in self._seen:
                self.report.skip("duplicate_event")
                return None
            self._seen.add(event_id)
        if is_read_only(record):
            self.report.skip("read_only_event")
            return None
        if record.get("managementEvent") is False:
            self.report.skip("data_event")
            return None
        if moment not in self.window:
            self.report.skip("outside_window")
            return None
        return builder.add(self._values(record, moment, ref, raw))

    def _values(self, record: dict[str, Any], moment: datetime, ref: str, raw: str) -> list[Any]:
        names = resource_names(record)
        actor = actor_of(record)
        name = str(record.get("eventName", ""))
        source = str(record.get("eventSource", ""))
        target = short_name(names[0]) if names else None
        summary = f"{name} ({source.removesuffix('.amazonaws.com')})"
        if target:
            summary += f" on {target}"
        if actor:
            summary += f" by {short_name(actor)}"
        if record.get("errorCode"):
            summary += f" failed: {record['errorCode']}"
        details = {
            key: record.get(key)
            for key in (
                "eventSource",
                "eventName",
                "awsRegion",
                "recipientAccountId",
                "requestParameters",
                "responseElements",
                "resources",
                "errorCode",
                "errorMessage",
            )
            if record.get(key) is not None
        }
        event_id = record.get("eventID")
        return [
            moment,
            classify(record),
            event_id if isinstance(event_id, str) else None,
            service_for(names, self.services),
            actor,
            summary,
            json.dumps(details, sort_keys=True, ensure_ascii=False, default=str),
            self.name,
            ref,
            raw,
        ]
