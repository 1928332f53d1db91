"""Run every benchmark, each in its own process, and print their tables.

Usage: python benchmarks/run_all.py [--quick] [--only NAME ...]   (``make bench``)
"""

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCHMARKS = [
    "bench_digits", "bench_mnist_mlp", "bench_mnist_cnn", "bench_predict", "bench_onnx", "bench_sparse", "bench_stream",
    "bench_memory", "bench_njobs", "bench_soak", "bench_tabular",
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes for a quick check")
    parser.add_argument("--only", nargs="*", choices=BENCHMARKS, help="run only these")
    args = parser.parse_args()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    failed = []
    for name in args.only or BENCHMARKS:
        start = time.perf_counter()
        print(f"\n## {name}{' (quick)' if args.quick else ''}", flush=True)
        cmd = [sys.executable, os.path.join(HERE, f"{name}.py")] + (["--quick"] if args.quick else [])
        if subprocess.run(cmd, env=env, cwd=HERE).returncode:
            failed.append(name)
        print(f"({name}: {time.perf_counter() - start:.0f} s)", flush=True)
    if failed:
        sys.exit(f"benchmarks failed: {failed}")


if __name__ == "__main__":
    main()
