"""Renders the parts of the Kubernetes manifests that other files of the repository define, so
they have one home each: the feed schemas (a ConfigMap), the alert rules (a PrometheusRule) and
the topics (Strimzi KafkaTopics, one per feed and the DLQ). `make k8s` runs it; `make test`
fails when a rendered file is out of date.

    .venv/bin/python deploy/k8s/render.py [--check]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from services.common.feeds import load_feeds  # noqa: E402
from services.common.topics import Topics  # noqa: E402

GENERATED = REPO_ROOT / "deploy" / "k8s" / "base" / "generated"
SCHEMAS = REPO_ROOT / "schemas"
RULES = REPO_ROOT / "deploy" / "prometheus" / "rules" / "ioc-alerts.yml"
KAFKA_CLUSTER = "ioc-kafka"  # the Strimzi Kafka resource's name (base/kafka.yaml)
REPLICAS, MIN_IN_SYNC = (
    3,
    2,
)  # as the cluster test runs Kafka (tests/integration/test_kafka_cluster.py)
HEADER = "# Rendered by deploy/k8s/render.py from {source}: edit that, then run `make k8s`.\n"


def schema_key(path: Path) -> str:
    """A ConfigMap key for a file under schemas/ (keys cannot hold '/'); the pod mounts each
    key back at its path (base/schemas-volume in the deployments)."""
    return path.relative_to(SCHEMAS).as_posix().replace("/", "__")


def schema_files() -> list[Path]:
    # expected.ndjson is the tests' own; the services read the rest.
    return sorted(p for p in SCHEMAS.rglob("*") if p.is_file() and p.name != "expected.ndjson")


def schemas_configmap() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "ioc-schemas"},
        "data": {schema_key(p): p.read_text(encoding="utf-8") for p in schema_files()},
    }


# The workloads that read the schemas (base/*.yaml): each mounts the ConfigMap as a folder.
READERS = (
    ("Deployment", "ioc-api"),
    ("Deployment", "ioc-worker"),
    ("Deployment", "ioc-connectors"),
    ("Job", "ioc-migrate"),
)


def schemas_volume(kind: str, name: str) -> dict[str, Any]:
    """A patch giving ``name``'s ``schemas`` volume the items that lay the ConfigMap's keys out
    as the schemas folder."""
    items = [
        {"key": schema_key(p), "path": p.relative_to(SCHEMAS).as_posix()} for p in schema_files()
    ]
    volume = {"name": "schemas", "configMap": {"name": "ioc-schemas", "items": items}}
    api = "batch/v1" if kind == "Job" else "apps/v1"
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": name},
        "spec": {"template": {"spec": {"volumes": [volume]}}},
    }


def prometheus_rule() -> dict[str, Any]:
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "ioc-alerts", "labels": {"app.kubernetes.io/part-of": "ioc-stream"}},
        "spec": {"groups": rules["groups"]},
    }


def kafka_topics() -> list[dict[str, Any]]:
    topics = Topics("")
    feeds = load_feeds(SCHEMAS)
    wanted = topics.partitions(feeds)
    return [
        {
            "apiVersion": "kafka.strimzi.io/v1",
            "kind": "KafkaTopic",
            "metadata": {
                "name": name.replace(".", "-"),
                "labels": {"strimzi.io/cluster": KAFKA_CLUSTER},
            },
            "spec": {
                "topicName": name,
                "partitions": partitions,
                "replicas": REPLICAS,
                "config": {
                    "min.insync.replicas": MIN_IN_SYNC,
                    "unclean.leader.election.enable": False,
                },
            },
        }
        for name, partitions in sorted(wanted.items())
    ]


def rendered() -> dict[Path, str]:
    def dump(documents: list[dict[str, Any]], source: str) -> str:
        body = yaml.safe_dump_all(documents, allow_unicode=True, sort_keys=False, width=100)
        return HEADER.format(source=source) + body

    return {
        GENERATED / "schemas.yaml": dump([schemas_configmap()], "schemas/"),
        **{
            GENERATED / f"schemas-volume-{name}.yaml": dump(
                [schemas_volume(kind, name)], "schemas/"
            )
            for kind, name in READERS
        },
        GENERATED / "prometheusrule.yaml": dump([prometheus_rule()], "deploy/prometheus/rules/"),
        GENERATED / "kafka-topics.yaml": dump(kafka_topics(), "schemas/feeds/ (one topic a feed)"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="render.py")
    parser.add_argument("--check", action="store_true", help="fail if a file is out of date")
    args = parser.parse_args()
    stale = []
    for path, text in rendered().items():
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        sys.exit("out of date (run `make k8s`): " + ", ".join(str(p) for p in stale))


if __name__ == "__main__":
    main()
