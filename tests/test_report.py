"""The HTML report, opened in headless Chromium with the network cut off."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser import chromium, dump_dom
from tests.conftest import assert_user_error, require, run_hpo

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_report_renders_every_plot_offline(searched: dict[str, Path], tmp_path: Path) -> None:
    require(chromium() is not None, "Debian chromium is not installed (.ci/run installs it)")
    out = tmp_path / "report.html"
    proc = run_hpo("report", searched["toml"], "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert "tensorflow" not in proc.stderr.lower()  # the report never loads TensorFlow
    page = out.read_text()
    assert not re.search(r"<script[^>]+src=[\"']https?:", page), "plotly.js must be inlined, not from a CDN"
    for title in ("Optimization history", "Learning curves", "Hyperparameter importances", "Parallel coordinates"):
        assert f"<h2>{title}</h2>" in page
    assert "Exported model: confusion matrix" in page and "baseline (trial 0)" in page

    dom = dump_dom(out.as_uri(), offline=True)
    graphs = re.findall(r'<div id="[^"]+" class="(plotly-graph-div[^"]*)"', dom)
    assert len(graphs) >= 8, len(graphs)
    # plotly.js ran: it tagged every graph div and drew its SVG inside
    assert all("js-plotly-plot" in cls for cls in graphs), graphs
    chunks = re.split(r'class="plotly-graph-div', dom)[1:]
    assert all('class="main-svg"' in chunk for chunk in chunks)
    assert "Not enough finished trials" not in dom


def test_report_default_path_and_unknown_study(searched: dict[str, Path], tmp_path: Path) -> None:
    proc = run_hpo("report", searched["toml"])
    assert proc.returncode == 0, proc.stderr
    assert (searched["toml"].parent / "tiny" / "report.html").is_file()
    other = tmp_path / "ghost.toml"
    other.write_text(f'[study]\nstorage = "sqlite:///{searched["db"]}"\n[data]\nsource = "x"\n')
    assert_user_error(run_hpo("report", other), "no study 'ghost'", "studies there: tiny")
