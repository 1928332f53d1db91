"""Soak: resident memory over 1,000 consecutive fits that alternate among architectures.

Each fit (a fresh NetClassifier on a digits subset, 1 epoch) is followed by
``predict``. The main run alternates among 6 architectures (different widths
and depths) and reports the RSS growth after the first 50 fits (target
<= 60 MB). Then the growth per number of architectures in rotation: 1, 3, 6
and 12 (12 exceeds the trace caches' MAX_CACHED = 8 entries, so eviction runs).
Each architecture count runs in its own process so that one does not warm
the next.

Usage: python benchmarks/bench_soak.py [--quick]   (quick: 60 fits per architecture count)
"""

import gc
import os
import subprocess
import sys

from _common import cli, machine, print_table

TARGET_MB = 60
WIDTHS_DEPTHS = [(w, d) for d in (1, 2, 3) for w in (16, 24, 32, 48)]  # 12 architectures


def rss_mb():
    with open(f"/proc/{os.getpid()}/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def soak(n_fits, n_architectures, warmup=50):
    """RSS growth (MB) between fit ``warmup`` and fit ``n_fits``; also returns the RSS samples."""
    from keras.layers import Dense
    from sklearn.datasets import load_digits

    from sknet import NetClassifier

    X, y = load_digits(return_X_y=True)
    X, y = (X[:300] / 16).astype("float32"), y[:300]
    archs = [WIDTHS_DEPTHS[(i * 5) % len(WIDTHS_DEPTHS)] for i in range(n_architectures)]
    start, samples = None, []
    for i in range(n_fits):
        width, depth = archs[i % len(archs)]
        clf = NetClassifier([Dense(width, activation="relu") for _ in range(depth)], epochs=1, batch_size=64,
                            random_state=i)
        clf.fit(X, y).predict(X)
        if i + 1 == warmup:
            gc.collect()
            start = rss_mb()
        if (i + 1) % 100 == 0:
            samples.append(round(rss_mb()))
    gc.collect()
    return rss_mb() - start, samples


def main(quick=False):
    if len(sys.argv) > 2 and sys.argv[1] == "--child":  # one architecture count in this process
        n_fits, n_architectures = int(sys.argv[2]), int(sys.argv[3])
        growth, samples = soak(n_fits, n_architectures)
        print(f"RESULT {growth:.1f} {samples}")
        return
    print(machine())
    n_fits = 60 if quick else 1000
    counts = [6, 1, 3, 12]  # the target row first
    rows, main_growth = [], None
    for count in counts:
        out = subprocess.run([sys.executable, __file__, "--child", str(n_fits), str(count)],
                             capture_output=True, text=True)
        line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT")]
        if out.returncode or not line:
            print(out.stderr[-2000:])
            rows.append((f"{count} architecture(s)", "failed", "", "", "", "", "NO"))
            continue
        growth = float(line[0].split()[1])
        samples = line[0].split(" ", 2)[2]
        if count == 6:
            main_growth = growth
        rows.append((f"RSS growth, fits 50..{n_fits}, {count} architecture(s) in rotation", f"{growth:.1f} MB",
                     "RSS every 100 fits (MB)", samples, "", f"<= {TARGET_MB} MB" if count == 6 else "(info)",
                     ("yes" if growth <= TARGET_MB else "NO") if count == 6 else ""))
    print_table(f"Soak: {n_fits} consecutive fit + predict, alternating architectures", rows, measure="growth")
    if main_growth is not None:
        print(f"\nRSS growth after the first 50 fits, 6 architectures: {main_growth:.1f} MB "
              f"(target <= {TARGET_MB} MB: {'met' if main_growth <= TARGET_MB else 'NOT met'})")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        main()
    else:
        cli(main)
