"""docker-compose.yml, Dockerfile, .dockerignore and .env.example, checked offline: the compose
file (interpolated as Compose does) against the Compose Specification schema vendored by
check-jsonschema, the Dockerfile through BuildKit's parser (`dockerfile`) and hadolint."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import dockerfile
import pytest
import yaml

import hpo
from tests.helpers import ROOT

# Compose interpolation: $$, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, $VAR
_VAR = re.compile(r"\$(?:(\$)|\{(\w+)(?:(:?[-?])([^}]*))?\}|(\w+))")
TEST_PASSWORD = "test-password"
#: what `make .env` fills in: the user's uid/gid and a password
FILLED = {"POSTGRES_PASSWORD": TEST_PASSWORD, "HPO_UID": "1000", "HPO_GID": "1000", "HPO_VERSION": hpo.__version__}
GPUS = {"gpus-1": ["worker-0"], "gpus-2": ["worker-0", "worker-1"], "gpus-4": [f"worker-{k}" for k in range(4)]}
PROFILES = {"": [], "cpu": ["worker-cpu"], **GPUS}


def _dotenv() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))


def _interpolate(value: Any, env: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match[str]) -> str:
        dollar, name, op, arg, bare = m.groups()
        if dollar:
            return "$"
        val = env.get(name or bare)
        unset = val is None or (op is not None and op.startswith(":") and val == "")
        if unset and op and op.endswith("?"):
            raise ValueError(f"{name}: {arg}")
        if unset and op:
            return str(arg)
        if val is None:
            raise KeyError(f"${{{name or bare}}} has no value and no default")
        return val

    return _VAR.sub(sub, value)


def _merge(base: Any, over: Any) -> Any:
    """Compose's merge of an override file: mappings key by key, anything else replaced."""
    if isinstance(base, dict) and isinstance(over, dict):
        return {**base, **{k: _merge(base[k], v) if k in base else v for k, v in over.items()}}
    return over


def _compose(*overrides: str, **env: str) -> dict[str, Any]:
    """docker-compose.yml (then each file of ``overrides``, as ``-f``), interpolated."""
    raw: dict[str, Any] = {}
    for name in ("docker-compose.yml", *overrides):
        raw = _merge(raw, yaml.safe_load((ROOT / name).read_text()))
    compose: dict[str, Any] = _interpolate(raw, {**_dotenv(), **FILLED, **env})
    return compose


def _check_spec(compose: dict[str, Any], profile: str, tmp_path: Path) -> None:
    compose = {**compose, "services": {n: s for n, s in compose["services"].items() if n in _started(compose, profile)}}
    spec = tmp_path / "docker-compose.json"
    spec.write_text(json.dumps(compose))
    cmd = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(spec)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _started(compose: dict[str, Any], profile: str) -> list[str]:
    """The services `docker compose [--profile P] up` starts: those without profiles, and P's."""
    return sorted(n for n, s in compose["services"].items() if not s.get("profiles") or profile in s["profiles"])


def _seconds(duration: str) -> int:
    units = {"h": 3600, "m": 60, "s": 1}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([hms])", duration))


def _tool(name: str) -> str:
    path = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert path, f"{name} not installed: pip install -e '.[dev]'"
    return path


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_compose_matches_the_compose_specification(tmp_path: Path, profile: str) -> None:
    """Each profile's file, as `docker compose --profile P config` would give it (the services it
    starts), against the Compose Specification schema."""
    _check_spec(_compose(), profile, tmp_path)


def test_proxy_overlay_points_every_worker_at_the_proxy(tmp_path: Path) -> None:
    """docker-compose.proxy.yml: `hpo proxy` serves Postgres on the compose network only and every
    worker's storage is grpc://proxy:13000 (docs/scaling.md)."""
    compose = _compose("docker-compose.proxy.yml")
    _check_spec(compose, "gpus-4", tmp_path)
    _check_spec(compose, "cpu", tmp_path)
    services = compose["services"]
    proxy = services["proxy"]
    assert proxy["command"][:3] == ["proxy", "--host", "0.0.0.0"] and "ports" not in proxy
    assert proxy["environment"]["HPO_STORAGE_URL"] == services["dashboard"]["environment"]["HPO_STORAGE_URL"]
    assert proxy["image"] == services["worker-0"]["image"] and proxy["init"] is True
    workers = [n for n in services if n.startswith("worker-")]
    assert len(workers) == 5
    for name in workers:
        worker = services[name]
        assert worker["environment"]["HPO_STORAGE_URL"] == "grpc://proxy:13000", name
        assert {"proxy", "postgres"} <= set(worker["depends_on"]) and worker["environment"]["HPO_WORKER_ID"], name


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_a_cpu_profile_and_a_profile_per_gpu_count_with_one_worker_per_gpu(profile: str) -> None:
    """`cpu` (.env.example's default): one worker without a GPU, so `up` works on a laptop;
    --profile gpus-N: workers 0..N-1, each on its own GPU."""
    services = _compose()["services"]
    started = _started(_compose(), profile)
    assert [n for n in started if n.startswith("worker")] == PROFILES[profile]
    assert {"postgres", "dashboard"} <= set(started) and "fetch" not in started  # fetch: `compose run`
    assert _dotenv()["COMPOSE_PROFILES"] == "cpu"
    for name in PROFILES[profile]:
        worker = services[name]
        if name == "worker-cpu":
            assert "deploy" not in worker and worker["environment"]["CUDA_VISIBLE_DEVICES"] == ""
        else:
            (gpu,) = worker["deploy"]["resources"]["reservations"]["devices"]
            assert "count" not in gpu and gpu["driver"] == "nvidia" and gpu["capabilities"] == ["gpu"]
            assert gpu["device_ids"] == [name.removeprefix("worker-")]  # a distinct single GPU each
            assert worker["environment"]["HPO_WORKER_ID"] == f"gpu{gpu['device_ids'][0]}"
        assert worker["environment"]["HPO_STORAGE_URL"] == f"postgresql://hpo:{TEST_PASSWORD}@postgres:5432/hpo"
        assert worker["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert worker["user"] == "1000:1000" and worker["init"] is True
        assert worker["volumes"] == ["./data:/app/data:ro", "./studies:/app/studies", "./models:/app/models"]
        assert _seconds(worker["stop_grace_period"]) >= 60 and worker["restart"] == "unless-stopped"
        assert worker["healthcheck"]["test"] == ["CMD-SHELL", "test ! -e /tmp/hpo-parked"]


def _supervise(tmp_path: Path, status: int) -> tuple[subprocess.CompletedProcess[str], bool]:
    """The workers' entrypoint (compose's `$$` unescaped) with a fake `hpo` exiting ``status``;
    whether it parked (left /tmp/hpo-parked and went to sleep) or exited."""
    entry = _compose()["services"]["worker-cpu"]["entrypoint"]
    assert entry[:2] == ["sh", "-c"]
    script = entry[2].replace("/tmp/hpo-parked", str(tmp_path / "parked")).replace("exec sleep infinity", "exit 99")
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "hpo").write_text(f"#!/bin/sh\nexit {status}\n")
    (fake / "hpo").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(["sh", "-c", script, entry[3], "worker", "s.toml"], capture_output=True, text=True, env=env)
    return proc, (tmp_path / "parked").exists()


@pytest.mark.parametrize(("status", "parks"), [(0, True), (2, True), (1, False), (75, False), (137, False)])
def test_restart_unless_stopped_but_a_finished_study_or_a_user_error_parks(
    tmp_path: Path, status: int, parks: bool
) -> None:
    """Docker restarts on any exit status; the supervisor turns 0 (the study holds its n_trials)
    and 2 (`hpo: error:`) into a parked, unhealthy container instead of a restart loop."""
    proc, parked = _supervise(tmp_path, status)
    assert parked is parks
    assert proc.returncode == (99 if parks else status), proc.stderr  # 99: where it would sleep
    if parks:
        assert f"hpo worker exited {status}: parked" in proc.stdout


def test_healthchecks_gate_the_workers_and_the_ports_are_settable() -> None:
    services = _compose(HPO_POSTGRES_PORT="25432", HPO_DASHBOARD_PORT="18080")["services"]
    assert services["postgres"]["ports"] == ["127.0.0.1:25432:5432"]
    assert services["dashboard"]["ports"] == ["127.0.0.1:18080:8080"]
    assert _compose()["services"]["postgres"]["ports"] == ["127.0.0.1:15432:5432"]  # no clash with a host's 5432
    assert services["dashboard"]["healthcheck"]["test"][:2] == ["CMD", "python"]
    proxy = _compose("docker-compose.proxy.yml")["services"]
    assert proxy["proxy"]["healthcheck"]["test"] == ["CMD", "hpo", "db", "check", "grpc://127.0.0.1:13000"]
    for name in ("worker-cpu", *GPUS["gpus-4"]):
        assert proxy[name]["depends_on"]["proxy"] == {"condition": "service_healthy"}, name


def test_workers_and_fetch_run_as_the_host_user_who_must_say_who_that_is() -> None:
    services = _compose(HPO_UID="1234", HPO_GID="99")["services"]
    assert services["worker-0"]["user"] == services["fetch"]["user"] == "1234:99"
    raw = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    with pytest.raises(ValueError, match=r"HPO_UID: set HPO_UID to your uid \(id -u\) in \.env, or run make \.env"):
        _interpolate(raw, {**_dotenv(), "POSTGRES_PASSWORD": TEST_PASSWORD, "HPO_VERSION": "1"})  # as .env.example


def test_make_env_fills_in_the_user_and_a_password(tmp_path: Path) -> None:
    for name in ("Makefile", ".env.example", "pyproject.toml"):
        shutil.copy2(ROOT / name, tmp_path / name)
    made = subprocess.run(["make", "-s", ".env"], cwd=tmp_path, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    env = dict(x.split("=", 1) for x in (tmp_path / ".env").read_text().splitlines() if x and not x.startswith("#"))
    assert env["HPO_UID"] == str(os.getuid()) and env["HPO_GID"] == str(os.getgid())
    assert re.fullmatch(r"[0-9a-f]{32}", env["POSTGRES_PASSWORD"])  # URL-safe
    assert env["HPO_VERSION"] == hpo.__version__ and env["COMPOSE_PROFILES"] in ("cpu", "gpus-1", "gpus-2", "gpus-4")
    services = _interpolate(yaml.safe_load((ROOT / "docker-compose.yml").read_text()), env)["services"]
    assert services["worker-0"]["user"] == f"{os.getuid()}:{os.getgid()}"
    pyproject = tmp_path / "pyproject.toml"  # a new release: the tag follows, the password stays
    pyproject.write_text(pyproject.read_text().replace(f'version = "{hpo.__version__}"', 'version = "9.8.7"'))
    os.utime(pyproject, (time.time() + 5, time.time() + 5))
    again = subprocess.run(["make", "-s", ".env"], cwd=tmp_path, capture_output=True, text=True)
    assert again.returncode == 0 and (tmp_path / ".env").read_text().count(env["POSTGRES_PASSWORD"]) == 1
    assert "HPO_VERSION=9.8.7\n" in (tmp_path / ".env").read_text()


def test_postgres_is_healthy_only_when_it_answers_on_tcp() -> None:
    check = _compose()["services"]["postgres"]["healthcheck"]["test"]
    assert check[0] == "CMD-SHELL" and check[1].startswith("pg_isready -h 127.0.0.1 ")  # not the initdb socket


def test_the_dataset_is_fetched_inside_the_image() -> None:
    fetch = _compose()["services"]["fetch"]
    assert fetch["profiles"] == ["tools"] and fetch["build"] == "." and "depends_on" not in fetch
    assert fetch["command"] == ["data", "fetch", "animals10", "--out", "/app/data/animals10"]
    assert fetch["volumes"] == ["./data:/app/data"]  # writable here, read-only for the workers
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert {"kaggle", "mlflow"} <= set(re.search(r"pip install '\.\[([^\]]+)\]'", dockerfile).group(1).split(","))  # type: ignore[union-attr]


def test_images_pinned_and_ports_on_localhost_only() -> None:
    services = _compose()["services"]
    for name, service in services.items():
        repo, _, tag = service["image"].rpartition(":")
        assert repo and "/" not in tag and re.search(r"\d", tag) and tag != "latest", (name, service["image"])
        if "build" in service:
            assert service["image"] == f"hpo-worker:{hpo.__version__}", name  # HPO_VERSION, from pyproject
        assert all(port.startswith("127.0.0.1:") for port in service.get("ports", [])), name
    # the dashboard runs `hpo dashboard` from our image (its driver is ours), URL from the environment
    dashboard = services["dashboard"]
    assert dashboard["build"] == "." and "entrypoint" not in dashboard
    assert dashboard["command"] == ["dashboard", "--host", "0.0.0.0", "--port", "8080"]
    assert "pg_isready -h 127.0.0.1" in " ".join(services["postgres"]["healthcheck"]["test"])


def test_env_example_defines_every_variable_and_no_usable_password() -> None:
    text = (ROOT / "docker-compose.yml").read_text().replace("$$", "")
    used = {m.group(2) or m.group(5) for m in _VAR.finditer(text)}
    env = _dotenv()
    assert used <= set(env), used - set(env)
    assert env["POSTGRES_PASSWORD"] == env["HPO_UID"] == env["HPO_GID"] == env["HPO_VERSION"] == ""  # make .env
    with pytest.raises(ValueError, match=r"POSTGRES_PASSWORD: set POSTGRES_PASSWORD in \.env"):
        _interpolate(yaml.safe_load((ROOT / "docker-compose.yml").read_text()), env)


def test_dockerfile() -> None:
    text = (ROOT / "Dockerfile").read_text()
    steps = dockerfile.parse_string(text)
    cmds = [s.cmd for s in steps]
    (base,) = [s.value[0] for s in steps if s.cmd == "FROM"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", base), base
    # the GPU build, the Postgres driver, kagglehub and gRPC (`hpo proxy`), at the versions of the lock CI installs
    assert any(
        "pip install '.[gpu,postgres,kaggle,grpc,mlflow]' --constraint py311.txt" in s.value[0]
        for s in steps
        if s.cmd == "RUN"
    )
    assert any(s.cmd == "COPY" and "constraints/py311.txt" in s.value for s in steps)
    assert "tensorflow-cpu" not in text
    (user,) = [i for i, c in enumerate(cmds) if c == "USER"]
    assert steps[user].value == ("10001:10001",) and "RUN" not in cmds[user:]
    pairs = [v for s in steps if s.cmd == "ENV" for v in s.value]
    env = dict(zip(pairs[::2], pairs[1::2], strict=True))
    assert env["PYTHONUNBUFFERED"] == "1" and env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
    assert env["TF_CPP_MIN_LOG_LEVEL"] == "2" and env["KERAS_HOME"].startswith(env["HOME"])
    assert [(s.cmd, s.value) for s in steps[-2:]] == [
        ("ENTRYPOINT", ("hpo",)),
        ("CMD", ("worker", "studies/animals10.toml")),
    ]
    lint = subprocess.run([_tool("hadolint"), "--no-color", "-"], input=text, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def _in_context(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parents = ["/".join(path.split("/")[:i]) for i in range(1, path.count("/") + 2)]
    included = True
    for pattern in patterns:
        if any(fnmatch(p, pattern.removeprefix("!")) for p in parents):
            included = pattern.startswith("!")
    return included


def test_dockerignore_keeps_only_what_the_image_copies() -> None:
    patterns = [x for x in (ROOT / ".dockerignore").read_text().splitlines() if x and not x.startswith("#")]
    copied = ["pyproject.toml", "constraints/py311.txt", "README.md", "hpo/cli.py", "studies/animals10.toml"]
    assert all(_in_context(path, patterns) for path in copied)
    left_out = [".env", ".git/HEAD", ".venv/bin/python", "data/animals10/cat/1.jpg", "models/demo/metrics.json"]
    left_out += ["studies/demo.db", "studies/animals10/images.npy", "hpo/__pycache__/cli.pyc", ".pytest_cache/x"]
    left_out += ["constraints/py312.txt", "studies/kustomization.yaml", "dist/hpo_keras-1.2.3-py3-none-any.whl"]
    assert not [path for path in left_out if _in_context(path, patterns)]
