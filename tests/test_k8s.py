"""deploy/k8s: the Kubernetes manifests, checked offline (no cluster here): every document
against the API schemas (kubernetes-validate, strict: unknown fields are errors), the
kustomizations' file lists, and the design docs/kubernetes.md describes: an Indexed Job of one-GPU
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
        assert f"image: {image['newName']}:{image['newTag']}" in out and "image: hpo-worker" not in out
        maps = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
        for job in (d for d in docs if d["kind"] == "Job"):  # the study file, from studies/ as it is now
            pod = job["spec"]["template"]["spec"]
            (volume,) = [v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v]
            assert volume.startswith("hpo-study-") and maps[volume]["data"]["animals10.toml"] == study
            (container,) = pod["containers"]
            assert "/app/study/animals10.toml" in container["args"]
            (copy,) = [c for c in pod["initContainers"] if "cp /app/study-file/*.toml /app/study/" in str(c)]
            mounts = {m["mountPath"]: m["name"] for m in copy["volumeMounts"]}
            assert mounts["/app/study-file"] == "study-file" and mounts["/app/study"] == "study"


def _copy_deploy(tmp_path: Path) -> Path:
    """deploy/k8s and the study files under ``tmp_path``, as the kustomizations find them."""
    shutil.copytree(K8S, tmp_path / "deploy" / "k8s")
    for name in ("kustomization.yaml", "animals10.toml"):
        (tmp_path / "studies").mkdir(exist_ok=True)
        shutil.copy2(ROOT / "studies" / name, tmp_path / "studies" / name)
    return tmp_path / "deploy" / "k8s"


def _rendered(folder: Path, kind: str, name: str) -> dict[str, Any]:
    return next(d for d in _kustomize(folder) if d["kind"] == kind and d["metadata"]["name"] == name)


def test_a_study_edit_re_creates_the_workers_job_and_keeps_the_database(tmp_path: Path) -> None:
    """The ConfigMap's hash changes with the study, so the Job's pod template does (a Job cannot
    change it in place: `kubectl apply` alone fails). The documented one-liner deletes that Job
    and nothing that holds the study (Postgres, its claim, the volumes), then applies again."""
    before = _rendered(K8S, "Job", "hpo-workers")
    copy = _copy_deploy(tmp_path)
    study = tmp_path / "studies" / "animals10.toml"
    study.write_text(study.read_text().replace("n_trials = 100", "n_trials = 120"))
    after = _rendered(copy, "Job", "hpo-workers")
    volumes = [{v["name"]: v.get("configMap", {}).get("name") for v in j["spec"]["template"]["spec"]["volumes"]}
               for j in (before, after)]  # fmt: skip
    assert volumes[0]["study-file"] != volumes[1]["study-file"]  # a new revision of the pod template
    recreate = "kubectl -n hpo delete job hpo-workers --ignore-not-found && kubectl apply -k deploy/k8s"
    assert recreate in (K8S / "kustomization.yaml").read_text() and recreate in (K8S / "workers.yaml").read_text()
    assert recreate.replace("kubectl", "$(KUBECTL)") in (ROOT / "Makefile").read_text()
    assert after["metadata"]["name"] == "hpo-workers" and after["kind"] == "Job"  # what the one-liner deletes
    kept = {(d["kind"], d["metadata"]["name"]) for d in _kustomize(K8S)} - {("Job", "hpo-workers")}
    assert ("StatefulSet", "postgres") in kept  # with its retained claim: the study survives


def test_deleting_the_export_leaves_the_workers_study_configmap() -> None:
    """`kubectl delete -k deploy/k8s/export` deletes what export/ renders: its own ConfigMap."""
    workers = {d["metadata"]["name"] for d in _kustomize(K8S) if d["kind"] == "ConfigMap"}
    export = {d["metadata"]["name"] for d in _kustomize(K8S / "export") if d["kind"] == "ConfigMap"}
    assert workers and export and not workers & export, (workers, export)
    assert all(name.startswith("hpo-study-export-") for name in export)


def test_trial_weights_live_on_the_models_volume_with_ephemeral_storage_requested() -> None:
    """The run folder of the study (/app/study/animals10: [artifacts]' file store) is hpo-models,
    at the same place for the workers and the export (`--from-trial` reads it)."""
    for folder, job in ((K8S, "hpo-workers"), (K8S / "export", "hpo-export")):
        pod = _rendered(folder, "Job", job)["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        run = STUDY.artifacts.store.removeprefix("file:")
        assert run.endswith("/studies/animals10/artifacts"), run  # the study's folder, beside the file
        (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/app/study/animals10"]
        assert mount["name"] == "models" and mount["subPath"] == "runs/animals10" and not mount.get("readOnly")
        claims = {
            v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"] if "persistentVolumeClaim" in v
        }
        assert claims["models"] == "hpo-models"
        assert "ephemeral-storage" in container["resources"]["requests"]
        assert "ephemeral-storage" in container["resources"]["limits"]
    (models,) = [d for d in _kustomize(SETUP) if d["metadata"]["name"] == "hpo-models"]
    assert models["spec"]["accessModes"] == ["ReadWriteMany"]  # every worker pod writes at once


def test_a_private_registry_is_one_component_away(tmp_path: Path) -> None:
    copy = _copy_deploy(tmp_path)
    kustomization = copy / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text().replace("  - image\n", "  - image\n  - pull-secret\n"))
    pods = [d for d in _kustomize(copy) if d["kind"] in ("Job", "Deployment")]
    assert pods and all(d["spec"]["template"]["spec"]["imagePullSecrets"] == [{"name": "hpo-registry"}] for d in pods)


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
            if c["name"] == "study":
                continue  # the export's init container only copies the study file
            assert {"name": data["name"], "mountPath": "/app/data", "readOnly": True} in c["volumeMounts"]
            assert prepared in [_env(c).get("HPO_DATA", {}).get("value"), *c.get("args", [])]


def test_storage_url_and_passwords_only_from_secrets() -> None:
    """One Secret, hpo-postgres, holds the password: Postgres reads it, and the pods that open
    Postgres build their URL from the same key in their environment (no password in a file)."""
    for name, path in MANIFESTS.items():
        if name == "secret.example.yaml":
            (secret,) = DOCS[name]
            assert secret["metadata"]["name"] == "hpo-postgres" and secret["stringData"] == {"password": "CHANGE-ME"}
        else:  # no password in a file, and no URL expanded into a command line either
            assert "$(HPO_STORAGE_URL)" not in path.read_text(), name
            assert not re.search(r"postgresql://[^$\s]*:[^$(]", path.read_text()), name
    refs = {
        f"{where}/{c['name']}/{var['name']}": var["valueFrom"]["secretKeyRef"] if "valueFrom" in var else var["value"]
        for where, pod in _pods()
        for c in _containers(pod)
        for var in _env(c).values()
        if re.search("URL|PASSWORD", var["name"])
    }
    password, proxy = {"name": "hpo-postgres", "key": "password"}, "grpc://hpo-proxy:13000"
    url = "postgresql://hpo:$(POSTGRES_PASSWORD)@postgres:5432/hpo"
    assert refs == {
        "StatefulSet/postgres/postgres/POSTGRES_PASSWORD": password,
        **{f"{w}/{k}": v for w in ("Deployment/hpo-dashboard/dashboard", "Deployment/hpo-proxy/proxy",
                                   "Job/hpo-export/export") for k, v in (("POSTGRES_PASSWORD", password),
                                                                         ("HPO_STORAGE_URL", url))},
        "Job/hpo-workers/wait-for-inputs/HPO_STORAGE_URL": proxy,
        "Job/hpo-workers/worker/HPO_STORAGE_URL": proxy,
    }  # fmt: skip
    for where, pod in _pods():  # $(POSTGRES_PASSWORD) expands only from a variable defined before it
        for c in _containers(pod):
            names = [e["name"] for e in c.get("env", [])]
            if "HPO_STORAGE_URL" in names and "POSTGRES_PASSWORD" in names:
                assert names.index("POSTGRES_PASSWORD") < names.index("HPO_STORAGE_URL"), where


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
            name, _, tag = c["image"].partition(":")
            if name == "hpo-worker":  # the image component sets registry and tag (hpo's version)
                assert not tag and ctx["runAsUser"] == 10001, where  # the image's user
            else:
                assert re.fullmatch(r"\d+(\.\d+)+", tag), (where, c["image"])  # a version, never latest
    make = (ROOT / "Makefile").read_text()
    assert "kustomize edit set image hpo-worker=$(REGISTRY)/hpo-worker:$(VERSION)" in make


def test_dashboard_is_reached_by_port_forward_only() -> None:
    assert _obj("Service", "hpo-dashboard")["spec"]["type"] == "ClusterIP"
    assert not [d for docs in DOCS.values() for d in docs if d["kind"] == "Ingress"]
    assert _obj("NetworkPolicy", "hpo-dashboard-port-forward-only")["spec"].get("ingress") is None  # nobody
