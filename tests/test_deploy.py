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
FILLED = {"POSTGRES_PASSWORD": TEST_PASSWORD, "HPO_UID": "1000", "HPO_GID": "1000"}
PROFILES = {"": ["worker-0"], "gpus-2": ["worker-0", "worker-1"], "gpus-4": [f"worker-{k}" for k in range(4)]}


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
    worker's storage is grpc://proxy:13000 (README "Scaling out")."""
    compose = _compose("docker-compose.proxy.yml")
    _check_spec(compose, "gpus-4", tmp_path)
    services = compose["services"]
    proxy = services["proxy"]
    assert proxy["command"][:3] == ["proxy", "--host", "0.0.0.0"] and "ports" not in proxy
    assert proxy["environment"]["HPO_STORAGE_URL"] == services["dashboard"]["environment"]["HPO_STORAGE_URL"]
    assert proxy["image"] == services["worker-0"]["image"] and proxy["init"] is True
    workers = [n for n in services if n.startswith("worker-")]
    assert len(workers) == 4
    for name in workers:
        worker = services[name]
        assert worker["environment"]["HPO_STORAGE_URL"] == "grpc://proxy:13000", name
        assert {"proxy", "postgres"} <= set(worker["depends_on"]) and worker["environment"]["HPO_WORKER_ID"], name


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_a_profile_per_gpu_count_and_one_worker_per_gpu(profile: str) -> None:
    """A plain `up` starts one worker (any GPU host has GPU 0); --profile gpus-N adds the others."""
    services = _compose()["services"]
    started = _started(_compose(), profile)
    assert [n for n in started if n.startswith("worker")] == PROFILES[profile]
    assert {"postgres", "dashboard"} <= set(started) and "fetch" not in started  # fetch: `compose run`
    for name in PROFILES[profile]:
        worker = services[name]
        (gpu,) = worker["deploy"]["resources"]["reservations"]["devices"]
        assert "count" not in gpu and gpu["driver"] == "nvidia" and gpu["capabilities"] == ["gpu"]
        assert gpu["device_ids"] == [name.removeprefix("worker-")]  # a distinct single GPU each
        assert worker["environment"]["HPO_WORKER_ID"] == f"gpu{gpu['device_ids'][0]}"
        assert worker["environment"]["HPO_STORAGE_URL"] == f"postgresql://hpo:{TEST_PASSWORD}@postgres:5432/hpo"
        assert worker["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert worker["user"] == "1000:1000" and worker["init"] is True
        assert worker["volumes"] == ["./data:/app/data:ro", "./studies:/app/studies"]
        # retries bounded: an exit-2 configuration error is not restarted forever
        assert _seconds(worker["stop_grace_period"]) >= 60 and worker["restart"] == "on-failure:3"


def test_workers_and_fetch_run_as_the_host_user_who_must_say_who_that_is() -> None:
    services = _compose(HPO_UID="1234", HPO_GID="99")["services"]
    assert services["worker-0"]["user"] == services["fetch"]["user"] == "1234:99"
    raw = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    with pytest.raises(ValueError, match=r"HPO_UID: set HPO_UID to your uid \(id -u\) in \.env, or run make \.env"):
        _interpolate(raw, {**_dotenv(), "POSTGRES_PASSWORD": TEST_PASSWORD})  # left empty, as in .env.example


def test_make_env_fills_in_the_user_and_a_password(tmp_path: Path) -> None:
    for name in ("Makefile", ".env.example"):
        shutil.copy2(ROOT / name, tmp_path / name)
    made = subprocess.run(["make", "-s", ".env"], cwd=tmp_path, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    env = dict(x.split("=", 1) for x in (tmp_path / ".env").read_text().splitlines() if x and not x.startswith("#"))
    assert env["HPO_UID"] == str(os.getuid()) and env["HPO_GID"] == str(os.getgid())
    assert re.fullmatch(r"[0-9a-f]{32}", env["POSTGRES_PASSWORD"])  # URL-safe
    services = _interpolate(yaml.safe_load((ROOT / "docker-compose.yml").read_text()), env)["services"]
    assert services["worker-0"]["user"] == f"{os.getuid()}:{os.getgid()}"
    again = subprocess.run(["make", "-s", ".env"], cwd=tmp_path, capture_output=True, text=True)
    assert again.returncode == 0 and (tmp_path / ".env").read_text().count(env["POSTGRES_PASSWORD"]) == 1


def test_postgres_is_healthy_only_when_it_answers_on_tcp() -> None:
    check = _compose()["services"]["postgres"]["healthcheck"]["test"]
    assert check[0] == "CMD-SHELL" and check[1].startswith("pg_isready -h 127.0.0.1 ")  # not the initdb socket


def test_the_dataset_is_fetched_inside_the_image() -> None:
    fetch = _compose()["services"]["fetch"]
    assert fetch["profiles"] == ["tools"] and fetch["build"] == "." and "depends_on" not in fetch
    assert fetch["command"] == ["data", "fetch", "animals10", "--out", "/app/data/animals10"]
    assert fetch["volumes"] == ["./data:/app/data"]  # writable here, read-only for the workers
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "kaggle" in re.search(r"pip install '\.\[([^\]]+)\]'", dockerfile).group(1).split(",")  # type: ignore[union-attr]


def test_images_pinned_and_ports_on_localhost_only() -> None:
    services = _compose()["services"]
    for name, service in services.items():
        repo, _, tag = service["image"].rpartition(":")
        assert repo and "/" not in tag and re.search(r"\d", tag) and tag != "latest", (name, service["image"])
        if "build" in service:
            assert service["image"] == f"hpo-worker:{hpo.__version__}", name
        assert all(port.startswith("127.0.0.1:") for port in service.get("ports", [])), name
    # the dashboard runs from our image (its driver is ours), URL from the environment, not argv
    dashboard = services["dashboard"]
    assert dashboard["build"] == "." and "serve(os.environ['HPO_STORAGE_URL']" in dashboard["entrypoint"][-1]
    assert "pg_isready -h 127.0.0.1" in " ".join(services["postgres"]["healthcheck"]["test"])


def test_env_example_defines_every_variable_and_no_usable_password() -> None:
    text = (ROOT / "docker-compose.yml").read_text().replace("$$", "")
    used = {m.group(2) or m.group(5) for m in _VAR.finditer(text)}
    env = _dotenv()
    assert used <= set(env), used - set(env)
    assert env["POSTGRES_PASSWORD"] == env["HPO_UID"] == env["HPO_GID"] == ""  # make .env fills them
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
        "pip install '.[gpu,postgres,kaggle,grpc]' --constraint py311.txt" in s.value[0]
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
    left_out += ["constraints/py312.txt", "studies/kustomization.yaml", "dist/hpo_keras-0.1.0-py3-none-any.whl"]
    assert not [path for path in left_out if _in_context(path, patterns)]
