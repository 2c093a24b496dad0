"""The Kubernetes manifests of deploy/k8s/, as a cluster would take them: the province overlay
built by kustomize, every standard resource valid against Kubernetes' own schemas
(kubernetes-validate), every custom resource valid against its operator's CRD (Strimzi,
CloudNativePG, Prometheus Operator, vendored in ../shared/vendor/crds/), the rendered parts in
step with their sources, and what matters in production."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from jsonschema import Draft7Validator

from services.common.settings import REPO_ROOT
from services.common.topics import RAW_PARTITIONS

K8S = REPO_ROOT / "deploy" / "k8s"
CONNECTORS = sorted((REPO_ROOT / "schemas" / "connectors").glob("*.yaml"))
OVERLAY = K8S / "overlays" / "province"
KUBERNETES_VERSION = "1.32.0"  # what the rented clusters run; the schemas come with the package
BUILTIN_GROUPS = ("v1", "apps/v1", "batch/v1", "policy/v1", "autoscaling/v2")


def _crd_folder() -> Path:
    """The vendored CRDs beside the checkout, or beside the one it was cloned from (CI clones
    the working checkout into a folder of its own), as deploy/timescaledb.sh finds its source."""
    origin = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "remote", "get-url", "origin"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    for base in (REPO_ROOT.parent, Path(origin).parent if origin else None):
        if base is not None and (base / "shared" / "vendor" / "crds").is_dir():
            return base / "shared" / "vendor" / "crds"
    pytest.fail("../shared/vendor/crds/ is missing: the operators' CRDs validate the manifests")


def _kustomize(folder: Path) -> str:
    kubectl = shutil.which("kubectl")
    if kubectl is not None:
        command = [kubectl, "kustomize", str(folder)]
    elif (kustomize := shutil.which("kustomize")) is not None:
        command = [kustomize, "build", str(folder)]
    else:
        pytest.fail("kustomize is missing: kubectl (which embeds it) or kustomize is needed")
    built = subprocess.run(command, capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr
    return built.stdout


@pytest.fixture(scope="module")
def resources() -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(_kustomize(OVERLAY)) if doc]


@pytest.fixture(scope="module")
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    schemas = {}
    for path in _crd_folder().glob("*.yaml"):
        crd = yaml.safe_load(path.read_text(encoding="utf-8"))
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if version.get("served"):
                schema = version["schema"]["openAPIV3Schema"]
                schemas[(f"{group}/{version['name']}", kind)] = schema
    return schemas


def _name(resource: dict[str, Any]) -> str:
    return f"{resource['kind']}/{resource['metadata']['name']}"


def test_the_rendered_manifests_are_in_step_with_their_sources() -> None:
    check = subprocess.run(
        [sys.executable, str(K8S / "render.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr


def test_every_resource_is_valid_against_its_schema(
    resources: list[dict[str, Any]], crd_schemas: dict[tuple[str, str], dict[str, Any]]
) -> None:
    kinds = {r["kind"] for r in resources}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"} <= kinds
    assert {"Kafka", "KafkaNodePool", "KafkaTopic", "Cluster"} <= kinds
    assert {"ServiceMonitor", "PrometheusRule"} <= kinds
    for resource in resources:
        if resource["apiVersion"] in BUILTIN_GROUPS:
            kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
            continue
        schema = crd_schemas.get((resource["apiVersion"], resource["kind"]))
        assert schema is not None, f"no CRD for {resource['apiVersion']} {resource['kind']}"
        errors = [e.message for e in Draft7Validator(schema).iter_errors(resource)]
        assert errors == [], _name(resource)


def _containers(resource: dict[str, Any]) -> list[dict[str, Any]]:
    spec = resource["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def _workloads(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in resources if r["kind"] in ("Deployment", "Job")]


def test_what_production_needs_of_every_workload(resources: list[dict[str, Any]]) -> None:
    workloads = _workloads(resources)
    assert {_name(w) for w in workloads} == {
        "Deployment/ioc-api",
        "Deployment/ioc-worker",
        "Deployment/ioc-connectors",
        "Job/ioc-migrate",
    }
    for workload in workloads:
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, _name(workload)
        for container in _containers(workload):
            image = container["image"]
            assert ":" in image.rsplit("/", 1)[-1], f"{image}: a release is pinned by its tag"
            assert not image.endswith(":latest"), image
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), image
            assert "memory" in container["resources"]["limits"], image
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["readOnlyRootFilesystem"] is True
            assert context["capabilities"]["drop"] == ["ALL"]
            # Every workload reads the feed definitions from the schemas ConfigMap.
            mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
            assert mounts["schemas"] == "/etc/ioc-stream/schemas"
        [schemas] = [v for v in pod["volumes"] if v["name"] == "schemas"]
        paths = {item["path"] for item in schemas["configMap"]["items"]}
        assert "feeds/salinity/feed.yaml" in paths


def test_the_api_is_probed_scaled_and_kept_available(resources: list[dict[str, Any]]) -> None:
    by_name = {_name(r): r for r in resources}
    [api] = _containers(by_name["Deployment/ioc-api"])
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    autoscaler = by_name["HorizontalPodAutoscaler/ioc-api"]["spec"]
    assert autoscaler["scaleTargetRef"]["name"] == "ioc-api"
    assert autoscaler["minReplicas"] >= 2
    assert by_name["PodDisruptionBudget/ioc-api"]["spec"]["minAvailable"] >= 1
    assert by_name["Service/ioc-api"]["spec"]["selector"] == {"app.kubernetes.io/name": "ioc-api"}


def test_the_workers_fit_the_partitions_and_have_time_to_drain(
    resources: list[dict[str, Any]],
) -> None:
    by_name = {_name(r): r for r in resources}
    worker = by_name["Deployment/ioc-worker"]["spec"]
    assert worker["replicas"] <= RAW_PARTITIONS  # one more would sit idle
    # SIGTERM writes and commits the batch in hand (a write retried while the store is away).
    assert worker["template"]["spec"]["terminationGracePeriodSeconds"] >= 60
    [container] = _containers(by_name["Deployment/ioc-worker"])
    assert container["livenessProbe"]["httpGet"]["port"] == "metrics"


def test_the_connectors_run_once_with_their_definitions_and_the_platforms_key(
    resources: list[dict[str, Any]],
) -> None:
    by_name = {_name(r): r for r in resources}
    connectors = by_name["Deployment/ioc-connectors"]["spec"]
    assert connectors["replicas"] == 1  # two would pull everything twice
    assert connectors["strategy"]["type"] == "Recreate"  # not two during a rollout either
    pod = connectors["template"]["spec"]
    [container] = _containers(by_name["Deployment/ioc-connectors"])
    assert container["args"] == ["connectors", "run"]
    assert container["livenessProbe"]["httpGet"]["port"] == "metrics"
    [schemas] = [v for v in pod["volumes"] if v["name"] == "schemas"]
    paths = {item["path"] for item in schemas["configMap"]["items"]}
    assert {p.relative_to(REPO_ROOT / "schemas").as_posix() for p in CONNECTORS} <= paths
    key_file = {e["name"]: e.get("value") for e in container["env"]}["IOC_LGSP_KEY_FILE"]
    [mount] = [m for m in container["volumeMounts"] if key_file.startswith(m["mountPath"] + "/")]
    [secret] = [v["secret"] for v in pod["volumes"] if v["name"] == mount["name"]]
    assert secret["secretName"] == "ioc-lgsp"
    monitors = {
        r["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
        for r in resources
        if r["kind"] == "ServiceMonitor"
    }
    assert "ioc-connectors" in monitors


def test_kafka_and_postgres_as_the_cluster_test_runs_them(resources: list[dict[str, Any]]) -> None:
    by_name = {_name(r): r for r in resources}
    kafka = by_name["Kafka/ioc-kafka"]["spec"]["kafka"]["config"]
    assert (kafka["default.replication.factor"], kafka["min.insync.replicas"]) == (3, 2)
    assert kafka["unclean.leader.election.enable"] is False
    assert by_name["KafkaNodePool/nodes"]["spec"]["replicas"] == 3
    topics = [r for r in resources if r["kind"] == "KafkaTopic"]
    names = {t["spec"]["topicName"] for t in topics}
    feeds = {p.parent.name for p in (REPO_ROOT / "schemas" / "feeds").glob("*/feed.yaml")}
    assert names == {f"ioc.raw.{feed}" for feed in feeds} | {"ioc.dlq"}
    for topic in topics:
        assert topic["spec"]["replicas"] == 3
        assert topic["spec"]["config"]["min.insync.replicas"] == 2
    postgres = by_name["Cluster/ioc-postgres"]["spec"]
    assert "timescaledb" in postgres["postgresql"]["shared_preload_libraries"]
    assert postgres["instances"] >= 2
    assert ":" in postgres["imageName"]
    assert not postgres["imageName"].endswith(":latest")


def test_kafka_is_reached_over_tls_as_a_user_scoped_to_the_pipeline(
    resources: list[dict[str, Any]],
) -> None:
    by_name = {_name(r): r for r in resources}
    [listener] = by_name["Kafka/ioc-kafka"]["spec"]["kafka"]["listeners"]
    assert listener["tls"] is True
    assert listener["authentication"]["type"] == "scram-sha-512"
    user = by_name["KafkaUser/ioc-stream"]["spec"]
    granted = {
        (acl["resource"]["type"], acl["resource"].get("name"))
        for acl in user["authorization"]["acls"]
    }
    assert granted == {("topic", "ioc."), ("group", "ioc-"), ("cluster", None)}
    config = by_name["ConfigMap/ioc-config"]["data"]
    assert config["IOC_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert config["IOC_KAFKA_USERNAME"] == "ioc-stream"
    assert config["IOC_KAFKA_BOOTSTRAP"].endswith(f":{listener['port']}")
    # Every workload has the CA and the password where the settings name them.
    files = {
        config["IOC_KAFKA_CA_FILE"]: "ioc-kafka-cluster-ca-cert",
        config["IOC_KAFKA_PASSWORD_FILE"]: "ioc-stream",
    }
    workloads = ("api", "worker", "connectors")
    for workload in (*(f"Deployment/ioc-{w}" for w in workloads), "Job/ioc-migrate"):
        pod = by_name[workload]["spec"]["template"]["spec"]
        secrets = {v["name"]: v["secret"] for v in pod["volumes"] if "secret" in v}
        [container] = _containers(by_name[workload])
        for path, secret_name in files.items():
            [mount] = [
                m for m in container["volumeMounts"] if path.startswith(m["mountPath"] + "/")
            ]
            assert secrets[mount["name"]]["secretName"] == secret_name, workload
            [item] = secrets[mount["name"]]["items"]
            assert path == f"{mount['mountPath']}/{item['path']}", workload


def test_the_overlay_puts_everything_in_the_provinces_namespace(
    resources: list[dict[str, Any]],
) -> None:
    namespaced = [r for r in resources if r["kind"] != "Namespace"]
    assert {r["metadata"].get("namespace") for r in namespaced} == {"ioc-camau"}
