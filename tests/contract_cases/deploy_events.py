"""Contract cases for CI/CD and Kubernetes deployment exports (files written here)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from forensics.config import parse_config
from tests.contract import ContractCase, contract_case
from tests.helpers import WINDOW


def at(minutes: float) -> str:
    """An ISO time ``minutes`` after the window start (negative: before it)."""
    moment: datetime = WINDOW.since + timedelta(minutes=minutes)
    return moment.isoformat().replace("+00:00", "Z")


def ci_records() -> list[dict[str, Any]]:
    """Deployments as a CI/CD system exports them (canonical names), 2 outside the window."""
    return [
        {
            "@timestamp": at(m),
            "change.kind": kind,
            "change.id": f"run-{i}",
            "service.name": "checkout",
            "actor": "ci-bot",
            "summary": f"deploy checkout build {i}",
            "details": {"environment": "prod", "sha": f"{i:040x}"},
            "pipeline": "release",
        }
        for i, (m, kind) in enumerate(
            [
                (-30, "deploy"),
                (5, "deploy"),
                (15, None),
                (50, "config"),
                (119, "deploy"),
                (120, "deploy"),
            ]
        )
    ]


def k8s_events() -> dict[str, Any]:
    """``kubectl get events -A -o json`` around a rollout of ``checkout``."""

    def event(
        i: int,
        reason: str,
        message: str,
        kind: str,
        name: str,
        minutes: float,
        *,
        type_: str = "Normal",
        component: str = "kubelet",
    ) -> dict[str, Any]:
        stamp = at(minutes)
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "count": 1,
            "eventTime": None,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "involvedObject": {
                "apiVersion": "v1" if kind == "Pod" else "apps/v1",
                "kind": kind,
                "name": name,
                "namespace": "shop",
                "resourceVersion": str(1000 + i),
                "uid": f"00000000-0000-0000-0000-{i:012d}",
                **({"fieldPath": "spec.containers{checkout}"} if kind == "Pod" else {}),
            },
            "message": message,
            "metadata": {
                "creationTimestamp": stamp,
                "name": f"{name}.17a{i:05x}",
                "namespace": "shop",
                "resourceVersion": str(2000 + i),
                "uid": f"e0000000-0000-0000-0000-{i:012d}",
            },
            "reason": reason,
            "reportingComponent": "" if component == "kubelet" else component,
            "reportingInstance": "",
            "source": {"component": component, "host": "node-1"}
            if component == "kubelet"
            else {"component": component},
            "type": type_,
        }

    pod = "checkout-7d9f8b6c5d-x2x9q"
    old_pod = "checkout-5c6b7d8f9b-q4r7t"
    items = [
        event(
            1,
            "ScalingReplicaSet",
            "Scaled up replica set checkout-7d9f8b6c5d to 1",
            "Deployment",
            "checkout",
            10,
            component="deployment-controller",
        ),
        event(2, "Scheduled", f"Successfully assigned shop/{pod} to node-1", "Pod", pod, 10.1),
        event(3, "Pulling", 'Pulling image "registry/checkout:1.4.0"', "Pod", pod, 10.2),
        event(
            4,
            "Pulled",
            'Successfully pulled image "registry/checkout:1.4.0" in 2.1s (2.1s including waiting)',
            "Pod",
            pod,
            10.3,
        ),
        event(5, "Created", "Created container checkout", "Pod", pod, 10.4),
        event(6, "Started", "Started container checkout", "Pod", pod, 10.5),
        event(
            7,
            "Pulled",
            'Container image "registry/checkout:1.3.9" already present on machine',
            "Pod",
            old_pod,
            11,
        ),
        event(8, "Started", "Started container checkout", "Pod", old_pod, 11.1),
        event(
            9,
            "BackOff",
            "Back-off restarting failed container",
            "Pod",
            old_pod,
            12,
            type_="Warning",
        ),
        event(
            10,
            "Unhealthy",
            "Readiness probe failed: HTTP probe failed with statuscode: 503",
            "Pod",
            pod,
            30,
            type_="Warning",
        ),
        event(
            11,
            "SuccessfulRescale",
            "New size: 5; reason: cpu resource utilization (percentage of request) above target",
            "HorizontalPodAutoscaler",
            "checkout",
            40,
            component="horizontal-pod-autoscaler",
        ),
        event(12, "Killing", "Stopping container checkout", "Pod", old_pod, -90),
    ]
    items.append({**event(13, "OOMKilling", "Memory cgroup out of memory", "Node", "node-1", 50)})
    broken = event(14, "FailedScheduling", "0/3 nodes are available", "Pod", pod, 20)
    broken["firstTimestamp"] = broken["lastTimestamp"] = None  # no time at all: a reject
    items.append(broken)
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}


def replica_set(
    revision: int | None,
    name: str,
    created: str,
    image: str,
    *,
    deployment: str = "checkout",
    extra_annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One ReplicaSet as ``kubectl get replicasets -o json`` shows it."""
    annotations = {
        "deployment.kubernetes.io/desired-replicas": "3",
        "deployment.kubernetes.io/max-replicas": "4",
        **({"deployment.kubernetes.io/revision": str(revision)} if revision else {}),
        **(extra_annotations or {}),
    }
    template_hash = name.rsplit("-", 1)[-1]
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "annotations": annotations,
            "creationTimestamp": created,
            "generation": 1,
            "labels": {"app": deployment, "pod-template-hash": template_hash},
            "name": name,
            "namespace": "shop",
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "blockOwnerDeletion": True,
                    "controller": True,
                    "kind": "Deployment",
                    "name": deployment,
                    "uid": "d0000000-0000-0000-0000-000000000001",
                }
            ],
            "resourceVersion": "4242",
            "uid": f"uid-{name}",
        },
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": deployment, "pod-template-hash": template_hash}},
            "template": {
                "metadata": {"labels": {"app": deployment, "pod-template-hash": template_hash}},
                "spec": {
                    "containers": [
                        {"image": image, "imagePullPolicy": "IfNotPresent", "name": deployment},
                        {"image": "envoyproxy/envoy:v1.29", "name": "sidecar"},
                    ]
                },
            },
        },
        "status": {"observedGeneration": 1, "replicas": 3, "readyReplicas": 3},
    }


def replica_sets() -> dict[str, Any]:
    """Three revisions of ``checkout`` (one before the window) and one broken item."""
    items = [
        replica_set(1, "checkout-5c6b7d8f9b", at(-600), "registry/checkout:1.3.9"),
        replica_set(
            2,
            "checkout-7d9f8b6c5d",
            at(10),
            "registry/checkout:1.4.0",
            extra_annotations={"kubernetes.io/change-cause": "kubectl set image checkout=1.4.0"},
        ),
        replica_set(3, "checkout-6f7b8c9d4x", at(70), "registry/checkout:1.4.1"),
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "no-time"}},
    ]
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}


def _config(base: Path, **options: Any) -> Any:
    source = {"name": "deploys", "type": "deploy_events", "kind": "changes", **options}
    return parse_config({"source": [source]}, base_dir=base).sources[0]


def _kinds_valid(row: dict[str, Any]) -> None:
    assert row["change.kind"] in {"deploy", "config", "scaling", "other"}
    assert json.loads(row["details"]) is not None


@contract_case("deploy_events-jsonl")
def deploy_events_jsonl(request: pytest.FixtureRequest, base: Path) -> ContractCase:
    lines = [json.dumps(r) for r in ci_records()] + ["{not json", ""]
    (base / "ci").mkdir()
    (base / "ci" / "deploys.jsonl").write_text("\n".join(lines) + "\n")
    config = _config(base, paths=["ci/*.jsonl"], format="jsonl")
    return ContractCase(config, WINDOW, expected_rows=4, expected_rejects=1, check_row=_kinds_valid)


@contract_case("deploy_events-csv")
def deploy_events_csv(request: pytest.FixtureRequest, base: Path) -> ContractCase:
    text = (
        "finished_at,environment,app,commit,triggered_by,title\n"
        f'{at(5)},prod,checkout,abc123,alice,"Deploy checkout\nmulti-line title"\n'
        f"{at(20)},prod,cart,def456,bob,Deploy cart\n"
        f"{at(25)},prod,cart,too,many,fields,here\n"
        ",prod,cart,0000,bob,no time\n"
        f"{at(-200)},prod,cart,0001,bob,old deploy\n"
    )
    (base / "deploys.csv").write_text(text)
    config = _config(
        base,
        paths=["deploys.csv"],
        format="csv",
        fields={
            "@timestamp": "finished_at",
            "service.name": "app",
            "change.id": "commit",
            "actor": "triggered_by",
            "summary": "title",
        },
    )
    return ContractCase(config, WINDOW, expected_rows=2, expected_rejects=2, check_row=_kinds_valid)


@contract_case("deploy_events-k8s-events")
def deploy_events_k8s(request: pytest.FixtureRequest, base: Path) -> ContractCase:
    (base / "events.json").write_text(json.dumps(k8s_events(), indent=4))
    config = _config(base, paths=["events.json"], format="k8s_events")
    # 14 items: 1 before the window (skipped), 1 without any time (rejected)
    return ContractCase(
        config, WINDOW, expected_rows=12, expected_rejects=1, check_row=_kinds_valid
    )


@contract_case("deploy_events-k8s-replicasets")
def deploy_events_replicasets(request: pytest.FixtureRequest, base: Path) -> ContractCase:
    (base / "rs.json").write_text(json.dumps(replica_sets(), indent=4))
    config = _config(base, paths=["rs.json"], format="k8s_replicasets")
    return ContractCase(config, WINDOW, expected_rows=2, expected_rejects=1, check_row=_kinds_valid)
