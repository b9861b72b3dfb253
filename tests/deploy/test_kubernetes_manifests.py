"""deploy/kubernetes against the Kubernetes schema (the models of the official `kubernetes` Python client:
every key must be a field of its type, every required field present), and against sfdest's own settings."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes.client as k8s
import pytest
import yaml

from server.config import SETTINGS

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
_PRIMITIVES = {"str": str, "int": int, "bool": bool, "float": (int, float), "object": object,
               "datetime": str, "date": str}


def check(value: Any, type_name: str, where: str) -> None:
    """Fail on any key the schema does not define, a missing required field, or a value of the wrong type."""
    if type_name in _PRIMITIVES:
        assert isinstance(value, _PRIMITIVES[type_name]), f"{where}: expected {type_name}, got {value!r}"
        return
    listed = re.fullmatch(r"[lL]ist\[(.+)\]", type_name)
    if listed:
        assert isinstance(value, list), f"{where}: expected a list"
        for n, item in enumerate(value):
            check(item, listed.group(1), f"{where}[{n}]")
        return
    mapped = re.fullmatch(r"[dD]ict[(\[]str, (.+)[)\]]", type_name)
    if mapped:
        assert isinstance(value, dict), f"{where}: expected a mapping"
        for key, item in value.items():
            check(item, mapped.group(1), f"{where}.{key}")
        return
    model = getattr(k8s, type_name)
    assert isinstance(value, dict), f"{where}: expected a {type_name} object"
    by_json = {json: attr for attr, json in model.attribute_map.items()}
    unknown = sorted(set(value) - set(by_json))
    assert not unknown, f"{where}: {type_name} has no field(s) {unknown}"
    for key, item in value.items():
        check(item, model.openapi_types[by_json[key]], f"{where}.{key}")
    # Required fields: the model's constructor refuses a missing one (client-side validation).
    model(**{by_json[key]: item for key, item in value.items()})


def documents() -> list[tuple[str, dict]]:
    found = []
    for path in sorted(DEPLOY.glob("*.yaml")):
        found += [(f"{path.name}#{n}", doc) for n, doc in enumerate(yaml.safe_load_all(path.read_text())) if doc]
    return found


def model_name(doc: dict) -> str:
    version = doc["apiVersion"].split("/")[-1]
    return version[0].upper() + version[1:] + doc["kind"]


@pytest.mark.parametrize("name,doc", documents(), ids=[n for n, _ in documents()])
def test_every_manifest_matches_the_kubernetes_schema(name, doc):
    check(doc, model_name(doc), name)


def by_kind() -> dict[tuple[str, str], dict]:
    return {(doc["kind"], doc["metadata"]["name"]): doc for _, doc in documents()}


def test_the_deployment_serves_three_replicas_probed_on_grpc_health_and_drained_as_configured():
    docs = by_kind()
    deployment, settings = docs["Deployment", "sfdest"], docs["ConfigMap", "sfdest-settings"]["data"]
    pod = deployment["spec"]["template"]
    [container] = pod["spec"]["containers"]
    port = int(settings["SFDEST_LISTEN"].rsplit(":", 1)[1])
    assert deployment["spec"]["replicas"] == 3
    assert container["readinessProbe"]["grpc"]["port"] == container["livenessProbe"]["grpc"]["port"] == port
    drain = float(settings["SFDEST_DRAIN_SECONDS"])
    assert container["lifecycle"]["preStop"]["sleep"]["seconds"] == drain
    assert pod["spec"]["terminationGracePeriodSeconds"] > 2 * drain + float(settings["SFDEST_GRACE_SECONDS"])
    assert container["resources"]["requests"]
    labels = pod["metadata"]["labels"]
    for selector in (deployment["spec"]["selector"]["matchLabels"], docs["PodDisruptionBudget", "sfdest"]["spec"][
            "selector"]["matchLabels"], docs["Service", "sfdest"]["spec"]["selector"]):
        assert selector.items() <= labels.items()
    assert docs["Service", "sfdest"]["spec"]["clusterIP"] == "None"  # headless: client-side balancing
    target = docs["HorizontalPodAutoscaler", "sfdest"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "sfdest")
    assert docs["HorizontalPodAutoscaler", "sfdest"]["spec"]["minReplicas"] == 3


def test_settings_are_sfdest_settings_and_secrets_stay_in_the_secret():
    docs = by_kind()
    known = {s.env for s in SETTINGS}
    secret_names = {s.env for s in SETTINGS if s.secret}
    settings, secrets = docs["ConfigMap", "sfdest-settings"]["data"], docs["Secret", "sfdest-secrets"]["stringData"]
    assert set(settings) <= known and set(secrets) <= known
    assert not set(settings) & secret_names
    assert {"SFDEST_COORDINATION", "SFDEST_STATE_KEY"} <= set(secrets)
    redis_service = docs["Service", "sfdest-redis"]
    assert f"//{redis_service['metadata']['name']}:{redis_service['spec']['ports'][0]['port']}/" in secrets[
        "SFDEST_COORDINATION"]


@pytest.mark.parametrize("bad", [
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"clusterIp": "None"}},
    {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "x"},
     "spec": {"selector": {"matchLabels": {"app": 1}}}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
     "spec": {"selector": {}, "template": {"spec": {"containers": [{"image": "sfdest"}]}}}},
], ids=["misspelt field", "wrong type", "missing required name"])
def test_the_schema_check_refuses_what_kubernetes_would(bad):
    with pytest.raises((AssertionError, ValueError)):
        check(bad, model_name(bad), "bad")
