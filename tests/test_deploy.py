"""docker-compose.yml, Dockerfile, .dockerignore and .env.example, checked offline: the compose
file (interpolated as Compose does) against the Compose Specification schema vendored by
check-jsonschema, the Dockerfile through BuildKit's parser (`dockerfile`) and hadolint."""

from __future__ import annotations

import json
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
from tests.conftest import ROOT

# Compose interpolation: $$, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, $VAR
_VAR = re.compile(r"\$(?:(\$)|\{(\w+)(?:(:?[-?])([^}]*))?\}|(\w+))")
TEST_PASSWORD = "test-password"


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


def _compose(**env: str) -> dict[str, Any]:
    raw = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    compose: dict[str, Any] = _interpolate(raw, {**_dotenv(), "POSTGRES_PASSWORD": TEST_PASSWORD, **env})
    return compose


def _seconds(duration: str) -> int:
    units = {"h": 3600, "m": 60, "s": 1}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([hms])", duration))


def _tool(name: str) -> str:
    path = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert path, f"{name} not installed: pip install -e '.[dev]'"
    return path


def test_compose_matches_the_compose_specification(tmp_path: Path) -> None:
    spec = tmp_path / "docker-compose.json"
    spec.write_text(json.dumps(_compose()))
    cmd = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(spec)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_one_worker_service_per_gpu() -> None:
    services = _compose()["services"]
    workers = {name: s for name, s in services.items() if name.startswith("worker")}
    assert sorted(workers) == ["worker-0", "worker-1", "worker-2", "worker-3"]
    for name, worker in workers.items():
        (gpu,) = worker["deploy"]["resources"]["reservations"]["devices"]
        assert "count" not in gpu and gpu["driver"] == "nvidia" and gpu["capabilities"] == ["gpu"]
        assert gpu["device_ids"] == [name.removeprefix("worker-")]  # a distinct single GPU each
        assert worker["environment"]["HPO_WORKER_ID"] == f"gpu{gpu['device_ids'][0]}"
        assert worker["environment"]["HPO_STORAGE_URL"] == f"postgresql://hpo:{TEST_PASSWORD}@postgres:5432/hpo"
        assert worker["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert worker["user"] == "10001:10001" and worker["init"] is True
        assert worker["volumes"] == ["./data:/app/data:ro", "./studies:/app/studies"]
        assert _seconds(worker["stop_grace_period"]) >= 60 and worker["restart"] == "on-failure"
    assert _compose(HPO_UID="1000", HPO_GID="1000")["services"]["worker-0"]["user"] == "1000:1000"


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
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])


def test_env_example_defines_every_variable_and_no_usable_password() -> None:
    text = (ROOT / "docker-compose.yml").read_text().replace("$$", "")
    used = {m.group(2) or m.group(5) for m in _VAR.finditer(text)}
    env = _dotenv()
    assert used <= set(env), used - set(env)
    assert env["POSTGRES_PASSWORD"] == ""
    with pytest.raises(ValueError, match=r"POSTGRES_PASSWORD: set POSTGRES_PASSWORD in \.env"):
        _interpolate(yaml.safe_load((ROOT / "docker-compose.yml").read_text()), env)


def test_dockerfile() -> None:
    text = (ROOT / "Dockerfile").read_text()
    steps = dockerfile.parse_string(text)
    cmds = [s.cmd for s in steps]
    (base,) = [s.value[0] for s in steps if s.cmd == "FROM"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", base), base
    assert any("pip install '.[gpu,postgres]'" in s.value[0] for s in steps if s.cmd == "RUN")
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
    copied = ["pyproject.toml", "README.md", "hpo/cli.py", "studies/animals10.toml"]
    assert all(_in_context(path, patterns) for path in copied)
    left_out = [".env", ".git/HEAD", ".venv/bin/python", "data/animals10/cat/1.jpg", "models/demo/metrics.json"]
    left_out += ["studies/demo.db", "studies/animals10/images.npy", "hpo/__pycache__/cli.pyc", ".pytest_cache/x"]
    assert not [path for path in left_out if _in_context(path, patterns)]
