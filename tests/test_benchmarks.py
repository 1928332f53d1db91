"""The benchmarks run end to end (``make bench-quick``) and print complete tables.

Timings are never asserted here: they are the benchmarks' business. What is
checked is that every script runs, prints its table with one parsable ratio per
row, and reports whether each target is met, so that ``make bench`` cannot rot
unnoticed.
"""

import os
import re
import subprocess
import sys

import pytest

BENCHMARKS = os.path.join(os.path.dirname(__file__), os.pardir, "benchmarks")
TITLES = {
    "bench_digits": "### Small data (digits",
    "bench_mnist_mlp": "### MNIST-shaped MLP",
    "bench_predict": "### Inference (tutorial MLP)",
    "bench_memory": "### Memory over",
    "bench_njobs": "### GridSearchCV",
}


def table_rows(section):
    """The data rows of the markdown table(s) in one benchmark's output."""
    lines = [line for line in section.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in line.split("|")[1:-1]] for line in lines if not line.startswith("| benchmark ")]


@pytest.mark.slow
def test_quick_benchmarks_print_their_tables():
    cmd = [sys.executable, os.path.join(BENCHMARKS, "run_all.py"), "--quick"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    sections = re.split(r"^## ", out.stdout, flags=re.M)[1:]
    assert [s.split()[0] for s in sections] == list(TITLES)
    for section in sections:
        name = section.split()[0]
        assert TITLES[name] in section, section
        rows = table_rows(section)
        assert rows, section
        for cells in rows:
            assert len(cells) == 7, cells
            benchmark, ours, peer_name, peer, ratio, target, met = cells
            if ratio:  # rows of a peer that cannot run (scikeras) carry no ratio
                assert float(ratio) > 0, cells
            if target.startswith(("<=", ">=")):
                assert met in ("yes", "NO"), cells
            if peer_name.startswith(("Keras model.fit", "Keras build")):
                assert ours and peer, cells
    assert "Held-out accuracy over" in out.stdout
    assert "identical scores: True" in out.stdout
