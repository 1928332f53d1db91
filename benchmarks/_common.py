"""Shared helpers for the benchmarks: machine facts, timing, tables."""

import argparse
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def machine():
    """One line describing where the numbers come from."""
    import keras
    import sklearn
    import tensorflow as tf

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    gpu = ", ".join(gpus) if gpus else "none"
    if gpus:
        try:
            gpu = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0]).get(
                "device_name", gpu
            )
        except Exception:  # pragma: no cover - depends on the driver
            pass
    return (
        f"CPU: {cpu} ({os.cpu_count()} cores) | GPU: {gpu} | TensorFlow {tf.__version__}, "
        f"Keras {keras.__version__}, scikit-learn {sklearn.__version__}, Python {platform.python_version()}"
    )


def timed(fn, repeat=1):
    """Median wall time of ``repeat`` calls of ``fn`` (and the last result)."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def fmt_time(seconds):
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def print_table(title, rows, measure="time"):
    """rows: (benchmark, sknet, peer name, peer, ratio, target, met)"""
    print(f"\n### {title}\n")
    print(f"| benchmark | sknet | peer | peer {measure} | ratio | target | met |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")


def row(name, ours, peer_name, peer, target, *, lower_is_better=True, fmt=fmt_time, bound=None):
    """A table row with the ratio ``ours / peer`` checked against ``bound``."""
    ratio = ours / peer if peer else float("nan")
    met = ""
    if bound is not None:
        met = "yes" if (ratio <= bound if lower_is_better else ratio >= bound) else "NO"
    return (name, fmt(ours), peer_name, fmt(peer), f"{ratio:.3f}", target, met)


def cli(main):
    """Run ``main(quick)`` with a ``--quick`` command-line flag."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller sizes for a quick check")
    main(parser.parse_args().quick)
