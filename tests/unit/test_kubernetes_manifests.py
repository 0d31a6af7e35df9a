"""deploy/kubernetes/ stays valid and true to the code: every resource validates strictly against
the Kubernetes schemas (kubernetes-validate, schemas shipped with it, no cluster), KEDA's
ScaledObjects (a custom resource it has no schema for) have what KEDA requires, there is one
worker Deployment per queue of workers/app.py, and secrets are referenced, never committed."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from service.cli import cli
from service.adapters.config import Settings
from service.adapters.routing import ALL_QUEUES, PROD_QUEUES

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "deploy" / "kubernetes"
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")  # a cluster still supported by its vendors, the newest
KUSTOMIZATION = yaml.safe_load((FOLDER / "kustomization.yaml").read_text())
RESOURCES = [(path.name, doc) for path in sorted(FOLDER.glob("*.yaml")) if path.name != "kustomization.yaml"
             for doc in yaml.safe_load_all(path.read_text()) if doc]
CUSTOM_KINDS = {("keda.sh/v1alpha1", "ScaledObject")}


def _of(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in RESOURCES if doc["kind"] == kind}


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return doc["spec"]["template"]["spec"]["containers"]


WORKLOADS = {**_of("Deployment"), **_of("Job")}
CONFIG = _of("ConfigMap")["envdesk-config"]["data"]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("name,doc", RESOURCES, ids=[f"{f}:{d['kind']}/{d['metadata']['name']}" for f, d in RESOURCES])
def test_every_resource_validates_against_the_kubernetes_schemas(name: str, doc: dict[str, Any], version: str) -> None:
    if (doc["apiVersion"], doc["kind"]) in CUSTOM_KINDS:
        with pytest.raises(kubernetes_validate.SchemaNotFoundError):
            kubernetes_validate.validate(doc, version, strict=True)
        return
    kubernetes_validate.validate(doc, version, strict=True)  # raises ValidationError naming the field


def test_the_kustomization_lists_every_manifest() -> None:
    listed = set(KUSTOMIZATION["resources"])
    assert listed == {path.name for path in FOLDER.glob("*.yaml")} - {"kustomization.yaml"}


def test_each_scaled_object_has_what_keda_requires_and_scales_an_existing_deployment() -> None:
    deployments = _of("Deployment")
    for name, scaled in _of("ScaledObject").items():
        spec = scaled["spec"]
        assert spec["scaleTargetRef"]["name"] in deployments, name
        assert 0 <= spec["minReplicaCount"] <= spec["maxReplicaCount"], name
        assert spec["triggers"], name
        for trigger in spec["triggers"]:
            assert trigger["type"] == "redis", name
            metadata = trigger["metadata"]
            assert metadata["listName"] and int(metadata["listLength"]) > 0, name
            assert metadata.get("address") or metadata.get("addressFromEnv") or metadata.get("host"), name
            assert all(isinstance(value, str) for value in metadata.values()), f"{name}: KEDA wants strings"


def test_one_worker_deployment_per_queue_scaled_on_that_queue() -> None:
    consumes = {}
    for name, doc in _of("Deployment").items():
        command = _containers(doc)[0].get("command", [])
        if command[:2] == ["envdesk", "worker"]:
            consumes[command[command.index("-Q") + 1]] = name
    assert sorted(consumes) == sorted(ALL_QUEUES)
    scaled = {s["spec"]["scaleTargetRef"]["name"]: s for s in _of("ScaledObject").values()}
    for queue, deployment in consumes.items():
        assert scaled[deployment]["spec"]["triggers"][0]["metadata"]["listName"] == queue
        always = queue in PROD_QUEUES or queue == "maintenance"
        assert (scaled[deployment]["spec"]["minReplicaCount"] >= 1) == always, queue


def test_workers_get_time_to_finish_a_running_task_when_told_to_stop() -> None:
    hard_limit = Settings.from_env(CONFIG).task_hard_time_limit
    for name, doc in _of("Deployment").items():
        if _containers(doc)[0].get("command", [])[:2] == ["envdesk", "worker"]:
            assert doc["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > hard_limit, name


def test_the_api_is_probed_on_healthz_and_readyz_and_scaled_on_cpu() -> None:
    api = _containers(_of("Deployment")["envdesk-api"])[0]
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    hpa = _of("HorizontalPodAutoscaler")["envdesk-api"]["spec"]
    assert hpa["scaleTargetRef"]["name"] == "envdesk-api"
    assert [m["resource"]["name"] for m in hpa["metrics"]] == ["cpu"]
    budgets = {doc["spec"]["selector"]["matchLabels"].get("app.kubernetes.io/name")
               for doc in _of("PodDisruptionBudget").values()}
    assert "envdesk-api" in budgets


def test_one_beat_replaced_with_recreate_and_a_migration_job() -> None:
    beat = _of("Deployment")["envdesk-beat"]["spec"]
    assert beat["replicas"] == 1 and beat["strategy"]["type"] == "Recreate"
    assert _containers(_of("Job")["envdesk-migrate"])[0]["command"] == ["envdesk", "db", "upgrade"]


def test_every_container_has_resource_requests_and_limits() -> None:
    for name, doc in WORKLOADS.items():
        for container in _containers(doc):
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), name


def test_every_envdesk_command_is_a_real_command() -> None:
    for name, doc in WORKLOADS.items():
        for container in _containers(doc):
            command = container.get("command") or []
            if command[:1] == ["envdesk"]:
                words = [word for word in command[1:3] if not word.startswith("-")]
                assert cli.get_command(None, words[0]) is not None, f"{name}: envdesk {words[0]}"  # type: ignore[arg-type]


def test_secrets_are_referenced_never_committed_and_go_through_pgbouncer() -> None:
    assert not _of("Secret")
    assert not set(CONFIG) & _SECRET_NAMES, set(CONFIG) & _SECRET_NAMES
    assert CONFIG["DATABASE_POOLER"] == "pgbouncer"
    documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.M))
    assert set(CONFIG) <= documented, set(CONFIG) - documented
    for name, doc in WORKLOADS.items():
        for container in _containers(doc):
            for source in container.get("envFrom", []):
                assert set(source) <= {"configMapRef", "secretRef"}, name
            for variable in container.get("env", []):
                assert "value" in variable or "valueFrom" in variable, name
            assert not any(v["name"] in _SECRET_NAMES and "value" in v for v in container.get("env", [])), name
    bouncer = {v["name"]: v["value"] for v in _containers(_of("Deployment")["pgbouncer"])[0]["env"]}
    assert bouncer["POOL_MODE"] == "transaction"


def test_mail_is_configured_as_the_other_settings_are() -> None:
    """The ConfigMap's mail settings are ones the service reads (SMTP_URL, with its password,
    comes from the Secret), and the API and workers, which link to and send mail, get both."""
    settings = Settings.from_env({**CONFIG, "SMTP_URL": "smtp://desk:pw@mail.example:587?starttls=true"})
    assert settings.mail_enabled and settings.mail_from == CONFIG["MAIL_FROM"]
    assert "{number}" in settings.portal_ticket_url and settings.base_url.startswith("https://")
    assert settings.console_url.startswith("https://")
    for name, doc in WORKLOADS.items():
        if _containers(doc)[0].get("command", [])[:2] in (["envdesk", "serve"], ["envdesk", "worker"]):
            sources = [set(s) for s in _containers(doc)[0]["envFrom"]]
            assert {"configMapRef"} in sources and {"secretRef"} in sources, name


_SECRET_NAMES = {"DATABASE_URL", "SECRET_KEY", "PROVISIONING_TOKEN", "WEBHOOK_SECRET", "METRICS_TOKEN",
                 "DB_PASSWORD", "SMTP_URL"}
