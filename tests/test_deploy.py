"""docker-compose.yml, Dockerfile and .env.example hold together (no Docker engine here, so
the files are checked as data; the README says how they were exercised)."""

from __future__ import annotations

import re
import subprocess
import sys

import yaml

from tests.conftest import ROOT


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_services() -> None:
    services = _compose()["services"]
    assert set(services) == {"postgres", "dashboard", "worker"}
    pg = services["postgres"]
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])
    assert any(v.startswith("pgdata:") for v in pg["volumes"]) and "pgdata" in _compose()["volumes"]
    dash = services["dashboard"]
    assert dash["ports"] == ["127.0.0.1:8080:8080"]
    worker = services["worker"]
    assert worker["build"] == "."
    assert worker["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert dash["depends_on"]["postgres"]["condition"] == "service_healthy"
    gpu = worker["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["driver"] == "nvidia" and gpu["capabilities"] == ["gpu"]
    assert "HPO_STORAGE_URL" in worker["environment"]


def test_env_example_defines_every_compose_variable() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{([A-Z_]+)", text))
    defined = {line.split("=")[0] for line in (ROOT / ".env.example").read_text().splitlines() if "=" in line}
    assert used <= defined, used - defined


def test_dockerfile_installs_every_dependency_but_tensorflow() -> None:
    docker = (ROOT / "Dockerfile").read_text()
    snippet = re.search(r'python (-c ".*?") >', docker, re.S)
    assert snippet is not None
    # run the RUN line's command through a shell, as docker build does
    cmd = f"{sys.executable} {snippet.group(1)}"
    out = subprocess.run(["bash", "-c", cmd], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    reqs = [r for r in out.splitlines() if r]
    assert "optuna>=5" in reqs and "psycopg2-binary>=2.9" in reqs
    assert not [r for r in reqs if r.startswith("tensorflow")]
    assert docker.startswith("# GPU worker image") and "FROM tensorflow/tensorflow:2.21.0-gpu" in docker
