"""The Kubernetes manifests and Dockerfiles, checked offline.

- every document validates against the Kubernetes 1.28.0 schemas shipped in
  ``kubernetes-validate`` (strict: unknown fields are errors);
- every Deployment has liveness and readiness probes on the health endpoints
  and resource requests and limits; Rasa and the action server have an HPA;
- every secret the code refuses in production comes from a Secret of the
  Deployment that needs it, and no secret sits in the ConfigMap, whose keys are
  variables the code reads (the same names as the local topology);
- the Dockerfiles start from python:3.10-slim, run as a non-root user and
  declare a HEALTHCHECK, and install only packages pinned in constraints.txt.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, Iterator, List, Set

import kubernetes_validate
import pytest
import yaml

from tests.test_configuration_docs import env_reads

REPO_ROOT = Path(__file__).resolve().parents[2]
K8S = REPO_ROOT / "deploy" / "k8s"
DOCKER = REPO_ROOT / "deploy" / "docker"
KUBERNETES_VERSION = "1.28.0"

# What each service refuses to start without in production (README, "Deploying"),
# and the connection URLs that carry a password.
SECRETS_BY_DEPLOYMENT = {
    "rasa": {
        "SHEBAO_SESSION_SECRET",
        "SHEBAO_TRACKER_SENDER_KEY",
        "SHEBAO_REST_API_KEY",
        "SHEBAO_ACTIONS_TOKEN",
        "SHEBAO_TRACKER_URL",
        "SHEBAO_REDIS_URL",
        "SHEBAO_REDIS_SECRET",
        "WECHAT_TOKEN",
        "WECHAT_APP_SECRET",
        "WECHAT_ENCODING_AES_KEY",
    },
    "actions": {
        "SHEBAO_ACTIONS_TOKEN",
        "SHEBAO_BACKEND_CLIENT_SECRET",
        "SHEBAO_REDIS_URL",
        "SHEBAO_REDIS_SECRET",
    },
    "backend": {
        "BACKEND_SECRET",
        "BACKEND_ADMIN_TOKEN",
        "BACKEND_CLIENT_SECRET",
        "BACKEND_SMS_API_KEY",
        "DATABASE_URL",
    },
    "web": set(),
    "console": {"CONSOLE_SECRET", "CONSOLE_DATABASE_URL", "SHEBAO_TRACKER_URL"},
}
SECRET_NAME = re.compile(r"(SECRET|TOKEN|_KEY)$")
# Secret-looking variables that production does not use.
NOT_PRODUCTION_SECRETS = {"RASA_AUTH_TOKEN"}  # Rasa's HTTP API stays off


def documents() -> Iterator[Dict[str, Any]]:
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document:
                document["__file__"] = path.name
                yield document


def _by_kind(kind: str) -> Dict[str, Dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in documents() if d["kind"] == kind}


def _clean(document: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in document.items() if k != "__file__"}


@pytest.mark.parametrize(
    "document",
    list(documents()),
    ids=lambda d: f"{d['__file__']}:{d['kind']}/{d['metadata']['name']}",
)
def test_validates_against_the_kubernetes_schemas(document: Dict[str, Any]) -> None:
    kubernetes_validate.validate(_clean(document), KUBERNETES_VERSION, strict=True)


def test_kustomization_lists_every_manifest_but_the_placeholder_secrets() -> None:
    listed = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))[
        "resources"
    ]
    files = {p.name for p in K8S.glob("*.yaml")} - {
        "kustomization.yaml",
        "secrets.yaml",
    }
    assert set(listed) == files


def _container(deployment: Dict[str, Any]) -> Dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def test_every_deployment_has_probes_and_resources() -> None:
    deployments = _by_kind("Deployment")
    assert set(deployments) == {"rasa", "actions", "backend", "web", "console"}
    for name, deployment in deployments.items():
        container = _container(deployment)
        for probe in ("livenessProbe", "readinessProbe"):
            assert container[probe]["httpGet"]["path"], (name, probe)
        ready = container["readinessProbe"]["httpGet"]["path"]
        assert ready in ("/health/ready", "/webhooks/ops/ready"), name
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][kind]), (name, kind)
        security = deployment["spec"]["template"]["spec"]["securityContext"]
        assert security["runAsNonRoot"] is True, name


def test_rasa_and_the_action_server_have_autoscalers() -> None:
    autoscalers = _by_kind("HorizontalPodAutoscaler")
    assert {a["spec"]["scaleTargetRef"]["name"] for a in autoscalers.values()} >= {
        "rasa",
        "actions",
    }


def _environment(deployment: Dict[str, Any]) -> Dict[str, Set[str]]:
    """Variable names a Deployment gets, by source (configmap / secret / literal)."""
    config_maps, secrets = _by_kind("ConfigMap"), _by_kind("Secret")
    container = _container(deployment)
    found: Dict[str, Set[str]] = {"configmap": set(), "secret": set(), "literal": set()}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            found["configmap"] |= set(
                config_maps[source["configMapRef"]["name"]]["data"]
            )
        if "secretRef" in source:
            found["secret"] |= set(secrets[source["secretRef"]["name"]]["stringData"])
    for item in container.get("env", []):
        if "valueFrom" in item and "secretKeyRef" in item["valueFrom"]:
            found["secret"].add(item["name"])
        else:
            found["literal"].add(item["name"])
    return found


def test_every_production_secret_comes_from_a_secret() -> None:
    deployments = _by_kind("Deployment")
    for name, required in SECRETS_BY_DEPLOYMENT.items():
        environment = _environment(deployments[name])
        assert required <= environment["secret"], (
            name,
            required - environment["secret"],
        )
        assert not required & (environment["configmap"] | environment["literal"]), name


def test_the_secret_list_covers_every_secret_the_code_reads() -> None:
    read = {name for name, _, _ in env_reads()}
    secret_looking = {n for n in read if SECRET_NAME.search(n)} - NOT_PRODUCTION_SECRETS
    listed = set().union(*SECRETS_BY_DEPLOYMENT.values())
    assert secret_looking <= listed, secret_looking - listed


def test_placeholders_only() -> None:
    for secret in _by_kind("Secret").values():
        for key, value in secret["stringData"].items():
            assert "CHANGE-ME" in value, key


def test_configmap_uses_the_local_variable_names_and_holds_no_secret() -> None:
    read = {name for name, _, _ in env_reads()}
    data = _by_kind("ConfigMap")["shebao-config"]["data"]
    assert set(data) - read == set()
    secrets = set().union(*SECRETS_BY_DEPLOYMENT.values())
    assert not set(data) & secrets
    assert data["SHEBAO_ENV"] == "production" and data["BACKEND_MODE"] == "production"


def test_ingress_has_tls_and_publishes_no_ops_endpoint() -> None:
    ingress = _by_kind("Ingress")["shebao"]
    assert ingress["spec"]["tls"][0]["secretName"]
    paths = [
        p["path"] for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]
    ]
    assert "/socket.io" in paths
    assert not any(p.startswith("/webhooks/ops") or p == "/metrics" for p in paths)
    assert "proxy-read-timeout" in " ".join(ingress["metadata"]["annotations"])


DOCKERFILES = sorted(DOCKER.glob("*.Dockerfile"))


def _pinned() -> Set[str]:
    names = set()
    for line in (
        (REPO_ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
    ):
        if "==" in line:
            names.add(line.split("==")[0].lower().replace("_", "-"))
    return names


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfiles(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    stages = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
    assert stages[-1] == "python:3.10-slim"
    assert re.search(r"^USER (?!root|0\b)\S+", text, re.MULTILINE)
    assert "HEALTHCHECK" in text
    assert re.search(
        r"/(health|webhooks/ops)/(ready|live)", text.split("HEALTHCHECK", 1)[1]
    )
    installs: List[str] = re.findall(r"pip install -c constraints.txt ([^\n&]+)", text)
    pinned = _pinned()
    for package in " ".join(installs).split():
        assert package.lower().replace("_", "-") in pinned, package


def test_every_deployable_has_a_dockerfile() -> None:
    assert {p.name for p in DOCKERFILES} == {
        f"{name}.Dockerfile"
        for name in ("rasa", "actions", "backend", "web", "console")
    }
