"""deploy/k8s: the Kubernetes manifests, checked offline (no cluster here): every document
against the API schemas (kubernetes-validate, strict: unknown fields are errors), the
kustomizations' file lists, and the design the README describes: an Indexed Job of one-GPU
workers with a failure policy, secrets only by reference, restricted pods, pinned images."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from hpo.config import load_config
from tests.helpers import ROOT, require

K8S = ROOT / "deploy" / "k8s"
KUSTOMIZATIONS = (K8S, K8S / "files", K8S / "export")  # image/ is the component they share
SETUP = K8S / "setup"  # the namespace and the volumes: applied once, outside the teardown
# podFailurePolicy and the DisruptionTarget condition are GA from 1.31; and the newest schemas shipped
VERSIONS = ("1.31.0", kubernetes_validate.utils.latest_version())
MANIFESTS = {p.relative_to(K8S).as_posix(): p for p in sorted(K8S.rglob("*.yaml")) if p.name != "kustomization.yaml"}
DOCS = {name: [d for d in yaml.safe_load_all(p.read_text()) if d] for name, p in MANIFESTS.items()}
STUDY = load_config(ROOT / "studies" / "animals10.toml")


def _obj(kind: str, name: str) -> dict[str, Any]:
    return next(d for docs in DOCS.values() for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def _pods() -> Iterator[tuple[str, dict[str, Any]]]:
    """(kind/name, pod spec) of every workload."""
    for docs in DOCS.values():
        for d in docs:
            spec = d["spec"] if d["kind"] == "Pod" else d.get("spec", {}).get("template", {}).get("spec")
            if spec is not None:
                yield f"{d['kind']}/{d['metadata']['name']}", spec


def _containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod.get("initContainers", []), *pod["containers"]]


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


@pytest.mark.parametrize("name", MANIFESTS)
def test_manifests_match_the_api_schemas(name: str) -> None:
    assert DOCS[name]
    for doc in DOCS[name]:
        for version in VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                where = ".".join(map(str, exc.path))
                pytest.fail(f"{name}: {doc['kind']}/{doc['metadata']['name']} on {version}: {where}: {exc.message}")


def test_kustomizations_list_every_manifest_once() -> None:
    listed: list[str] = []
    for folder in (*KUSTOMIZATIONS, SETUP):
        k = yaml.safe_load((folder / "kustomization.yaml").read_text())
        assert k["namespace"] == "hpo"
        if folder != SETUP:  # the image, and (but for files/) the study files from studies/
            studies = "../" * len(folder.relative_to(ROOT).parts) + "studies"
            assert k["components"][0] == ("../" if folder != K8S else "") + "image"
            assert k["components"][1:] == ([] if folder.name == "files" else [studies]), k["components"]
        for resource in k["resources"]:
            assert (folder / resource).is_file(), (folder, resource)
            listed.append((folder / resource).relative_to(K8S).as_posix())
    assert sorted(listed) == sorted(set(MANIFESTS) - {"secret.example.yaml"})  # users create the Secrets
    images = yaml.safe_load((K8S / "image" / "kustomization.yaml").read_text())["images"]
    assert [i["name"] for i in images] == ["hpo-worker"]  # the one place to set registry and tag


def _kustomize(folder: Path) -> list[dict[str, Any]]:
    require(shutil.which("kubectl") is not None, "kubectl (its built-in kustomize) not installed")
    out = subprocess.run(["kubectl", "kustomize", str(folder)], capture_output=True, text=True, check=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def test_kustomize_renders_the_namespace_the_image_and_the_study() -> None:
    image = yaml.safe_load((K8S / "image" / "kustomization.yaml").read_text())["images"][0]
    study = (ROOT / "studies" / "animals10.toml").read_text()
    for folder in KUSTOMIZATIONS:
        docs = _kustomize(folder)
        out = yaml.safe_dump_all(docs)
        assert all(d["metadata"].get("namespace") == "hpo" for d in docs)
        assert f"image: {image['newName']}:{image['newTag']}" in out and "image: hpo-worker:" not in out
        maps = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
        for job in (d for d in docs if d["kind"] == "Job"):  # the study file, from studies/ as it is now
            pod = job["spec"]["template"]["spec"]
            (volume,) = [v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v]
            assert volume.startswith("hpo-study-") and maps[volume]["data"]["animals10.toml"] == study
            (container,) = pod["containers"]
            assert "/app/study/animals10.toml" in container["args"]
            assert {"name": "study", "mountPath": "/app/study", "readOnly": True} in container["volumeMounts"]


def test_teardown_keeps_the_namespace_secrets_and_volumes() -> None:
    """`kubectl delete -k deploy/k8s` deletes exactly what `kubectl kustomize deploy/k8s` renders:
    no Namespace (whose deletion would take the Secrets and every claim), no claim, and a
    StatefulSet that retains its Postgres claim. Those live in setup/, applied once."""
    kinds = {(d["kind"], d["metadata"]["name"]) for folder in KUSTOMIZATIONS for d in _kustomize(folder)}
    assert not [k for k in kinds if k[0] in ("Namespace", "PersistentVolumeClaim", "Secret")], kinds
    postgres = _obj("StatefulSet", "postgres")["spec"]
    assert postgres["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert [c["metadata"]["name"] for c in postgres["volumeClaimTemplates"]] == ["pgdata"]
    kept = {(d["kind"], d["metadata"]["name"]) for d in _kustomize(SETUP)}
    assert kept == {
        ("Namespace", "hpo"),
        ("PersistentVolumeClaim", "hpo-data"),
        ("PersistentVolumeClaim", "hpo-models"),
    }


def test_workers_are_an_indexed_job_of_one_gpu_pods() -> None:
    job = _obj("Job", "hpo-workers")["spec"]
    assert job["completionMode"] == "Indexed" and job["parallelism"] == job["completions"] >= 1
    assert job["backoffLimitPerIndex"] >= 1
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] == "Never"  # podFailurePolicy requires it
    assert pod["terminationGracePeriodSeconds"] >= 60  # SIGTERM: finish the batch, fail and re-queue the trial
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    (worker,) = pod["containers"]
    assert worker["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert "CUDA_VISIBLE_DEVICES" not in _env(worker)  # the device plugin shows the pod its one GPU
    assert "command" not in worker  # the image's entrypoint, hpo: SIGTERM exits 143 (not done, replace the pod)
    assert worker["args"] == [
        "worker", "/app/study/animals10.toml", "--data", "$(HPO_DATA)", "--id", "w$(JOB_COMPLETION_INDEX)",
        "--threads", "$(HPO_THREADS)",
    ]  # fmt: skip
    assert {"HPO_DATA", "HPO_THREADS"} <= set(_env(worker))


@pytest.mark.parametrize("job", ["hpo-workers", "hpo-export"])
def test_failure_policy_fails_the_job_on_user_errors_and_ignores_disruptions(job: str) -> None:
    spec = _obj("Job", job)["spec"]
    container = spec["template"]["spec"]["containers"][0]["name"]
    rules = spec["podFailurePolicy"]["rules"]
    assert rules[0] == {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}
    assert rules[1] == {
        "action": "FailJob",
        "onExitCodes": {"containerName": container, "operator": "In", "values": [2]},
    }


def test_data_is_mounted_read_only_and_prepared_as_the_study_says() -> None:
    d = STUDY.data
    flags = re.search(r"hpo data prepare (\S+) \\\n#\s+--out (\S+) (.*)", MANIFESTS["files/files-pod.yaml"].read_text())
    assert flags is not None
    assert flags.group(3).split() == [
        "--image-size", str(d.image_size), "--seed", str(STUDY.study.seed), "--val", str(d.val), "--test", str(d.test)
    ]  # fmt: skip
    prepared = flags.group(2)
    assert prepared.endswith(f"prepared-{d.image_size}px") and f"/app/data/{d.source.name}" == flags.group(1)
    for job in ("hpo-workers", "hpo-export"):
        pod = _obj("Job", job)["spec"]["template"]["spec"]
        (data,) = [v for v in pod["volumes"] if v.get("persistentVolumeClaim", {}).get("claimName") == "hpo-data"]
        assert data["persistentVolumeClaim"]["readOnly"] is True
        for c in _containers(pod):
            assert {"name": data["name"], "mountPath": "/app/data", "readOnly": True} in c["volumeMounts"]
            assert prepared in [_env(c).get("HPO_DATA", {}).get("value"), *c.get("args", [])]


def test_storage_url_and_passwords_only_from_secrets() -> None:
    for name, path in MANIFESTS.items():
        if name == "secret.example.yaml":
            assert all("CHANGE-ME" in v for secret in DOCS[name] for v in secret["stringData"].values())
        else:  # no URL in a file, and none expanded into a command line either
            assert "postgresql://" not in path.read_text() and "$(HPO_STORAGE_URL)" not in path.read_text(), name
    refs = {  # a literal value only for the proxy's address, which holds no password
        f"{where}/{c['name']}": var["valueFrom"]["secretKeyRef"] if "valueFrom" in var else var["value"]
        for where, pod in _pods()
        for c in _containers(pod)
        for var in _env(c).values()
        if re.search("URL|PASSWORD", var["name"])
    }
    url, proxy = {"name": "hpo-storage", "key": "url"}, "grpc://hpo-proxy:13000"
    assert refs == {
        "StatefulSet/postgres/postgres": {"name": "hpo-postgres", "key": "password"},
        "Deployment/hpo-dashboard/dashboard": url,
        "Deployment/hpo-proxy/proxy": url,
        "Job/hpo-workers/wait-for-inputs": proxy,
        "Job/hpo-workers/worker": proxy,
        "Job/hpo-export/export": url,
    }


def test_workers_reach_postgres_through_the_proxy() -> None:
    """proxy.yaml: `hpo proxy` on every address of its pod, behind a ClusterIP Service on the port
    the workers' grpc:// URL names, reachable from this namespace's pods only."""
    pod = _obj("Deployment", "hpo-proxy")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"] == ["proxy", "--host", "0.0.0.0", "--port", "13000"]
    service = _obj("Service", "hpo-proxy")["spec"]
    assert service["type"] == "ClusterIP" and service["ports"][0]["port"] == 13000
    assert service["selector"] == _obj("Deployment", "hpo-proxy")["spec"]["selector"]["matchLabels"]
    policy = _obj("NetworkPolicy", "hpo-proxy-from-namespace")["spec"]
    assert policy["ingress"] == [{"from": [{"podSelector": {}}], "ports": [{"port": 13000}]}]


def test_pods_are_restricted_and_images_pinned() -> None:
    for where, pod in _pods():
        ctx = pod["securityContext"]
        assert ctx["runAsNonRoot"] is True and ctx["seccompProfile"] == {"type": "RuntimeDefault"}, where
        for c in _containers(pod):
            assert c["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
            name, _, tag = c["image"].rpartition(":")
            assert name and re.fullmatch(r"\d+(\.\d+)+", tag), (where, c["image"])  # a version, never latest
            if name == "hpo-worker":
                assert ctx["runAsUser"] == 10001, where  # the image's user


def test_dashboard_is_reached_by_port_forward_only() -> None:
    assert _obj("Service", "hpo-dashboard")["spec"]["type"] == "ClusterIP"
    assert not [d for docs in DOCS.values() for d in docs if d["kind"] == "Ingress"]
    assert _obj("NetworkPolicy", "hpo-dashboard-port-forward-only")["spec"].get("ingress") is None  # nobody
