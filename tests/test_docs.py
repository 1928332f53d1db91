"""The documentation site builds without warnings (mkdocs --strict)."""

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.join(os.path.dirname(__file__), os.pardir)


@pytest.mark.slow
def test_docs_build_strict(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    site = tmp_path / "site"
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", os.path.join(ROOT, "docs", "mkdocs.yml"),
           "--site-dir", str(site)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, NO_MKDOCS_2_WARNING="1"))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    api = (site / "api" / "index.html").read_text()
    assert "NetClassifier" in api and "warm_start" in api and "plot_history" in api
    shutil.rmtree(site)
