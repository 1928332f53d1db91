"""Shared helpers for the benchmarks: machine facts, timing, tables, FLOPs and the machine's matmul peak."""

import argparse
import math
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


def side_by_side(fns, repeat, calls=1):
    """The median wall time of each of ``fns`` over ``repeat`` rounds that call them in turn.

    The contenders alternate, so that a slow spell of a shared machine hits all
    of them alike. Each round calls each contender ``calls`` times in a row (each
    call timed): more than one measures a warm contender, as a serving process
    that predicts again and again is, rather than one whose data the previous
    contender just pushed out of the CPU caches.
    """
    times = [[] for _ in fns]
    for _ in range(repeat):
        for fn, spent in zip(fns, times, strict=True):
            for _ in range(calls):
                start = time.perf_counter()
                fn()
                spent.append(time.perf_counter() - start)
    return [statistics.median(spent) for spent in times]


def fmt_time(seconds):
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def print_table(title, rows, measure="time"):
    """rows: (benchmark, sknet, peer name, peer, ratio, target, met[, peak %])

    A training table's rows carry an eighth cell, the fraction of the
    machine's matmul peak that sknet's epoch reaches (``row(..., peak=...)``);
    the table gets a "peak %" column when any row has one, the other rows an
    empty cell.
    """
    width = max([7] + [len(r) for r in rows])
    columns = ["benchmark", "sknet", "peer", f"peer {measure}", "ratio", "target", "met", "peak %"][:width]
    print(f"\n### {title}\n")
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * width)
    for r in rows:
        print("| " + " | ".join(str(c) for c in tuple(r) + ("",) * (width - len(r))) + " |")


def row(name, ours, peer_name, peer, target, *, lower_is_better=True, fmt=fmt_time, bound=None, peak=None):
    """A table row with the ratio ``ours / peer`` checked against ``bound``.

    ``peak``: the fraction of the matmul peak sknet's side reaches (see
    ``peak_fraction``); given, the row gets a "peak %" cell.
    """
    ratio = ours / peer if peer else float("nan")
    met = ""
    if bound is not None:
        met = "yes" if (ratio <= bound if lower_is_better else ratio >= bound) else "NO"
    cells = (name, fmt(ours), peer_name, fmt(peer), f"{ratio:.3f}", target, met)
    return cells if peak is None else cells + (fmt_peak(peak),)


def fmt_peak(fraction):
    """A percentage with one decimal, or two significant digits below 0.1% ("0.0041%")."""
    percent = 100 * fraction
    if percent >= 0.1 or percent <= 0:
        return f"{percent:.1f}%"
    return f"{percent:.{1 - math.floor(math.log10(percent))}f}%"


# --- FLOPs and the machine's matmul peak -------------------------------------------------------------------------
#
# "peak %" = the useful FLOPs of an epoch (the matrix multiplies and convolutions of its forward and backward
# passes) / the epoch's wall time / the GFLOP/s a bare traced matmul loop reaches on this machine in the same run,
# in the network's compute dtype. Everything else an epoch does (activations, dropout, pooling, the loss, the
# optimizer's update, gathering batches) counts as time, not as FLOPs: 100% would mean that the epoch is nothing
# but matrix multiplies running as fast as the bare loop.

PEAK_SIZE = 1024  # the peak loop: x (1024 x 1024) @ w (1024 x 1024), chained
_peaks = {}


def compute_dtype(policy="float32"):
    """The compute dtype of a Keras dtype policy name ("mixed_bfloat16" -> "bfloat16")."""
    import keras

    return keras.DTypePolicy(policy).compute_dtype if isinstance(policy, str) else policy.compute_dtype


def matmul_peak(dtype="float32", refresh=False, repeat=5, seconds=0.1):
    """GFLOP/s of a bare traced matmul loop in ``dtype`` on this machine, measured in this process.

    One ``tf.function`` runs ``x = x @ w`` in a graph ``while`` loop (``w`` an
    orthogonal 1024 x 1024 matrix, so ``x`` neither blows up nor vanishes):
    the matmul kernel (oneDNN on x86 CPUs, AMX for bfloat16 where the CPU has
    it) and nothing else. Each call lasts about ``seconds``; the fastest of
    ``repeat`` calls counts (on a shared machine, noise only ever slows a call
    down). ``dtype`` may also be a policy name: its compute dtype is measured.

    The result is cached per dtype; ``refresh=True`` measures again and keeps
    the best of all measurements, so a benchmark can measure between its
    contenders, round after round, and a slow spell does not lower the peak.
    """
    import tensorflow as tf

    dtype = compute_dtype(dtype)
    if dtype in _peaks and not refresh:
        return _peaks[dtype]
    n = PEAK_SIZE
    q, _ = tf.linalg.qr(tf.random.stateless_normal((n, n), seed=(1, 2)))
    x0, w = tf.cast(tf.random.stateless_normal((n, n), seed=(3, 4)), dtype), tf.cast(q, dtype)
    if dtype not in _peak_loops:
        _peak_loops[dtype] = tf.function(_peak_loop)

    def run(steps):
        start = time.perf_counter()
        _peak_loops[dtype](x0, w, tf.constant(steps)).numpy()
        return time.perf_counter() - start

    run(2)  # traces (once per dtype)
    steps = max(2, int(seconds / max(run(4) / 4, 1e-6)))
    best = min(run(steps) for _ in range(repeat))
    _peaks[dtype] = max(_peaks.get(dtype, 0.0), 2 * n**3 * steps / best / 1e9)
    return _peaks[dtype]


_peak_loops = {}


def _peak_loop(x, w, steps):
    import tensorflow as tf

    for _ in tf.range(steps):
        x = tf.matmul(x, w)
    return x


def dense_flops(n_in, units, rows=1):
    """Forward FLOPs of a Dense layer applied to ``rows`` vectors of ``n_in`` features (a multiply-add is 2)."""
    return 2 * rows * n_in * units


def conv_flops(out_spatial, kernel, c_in, c_out, groups=1):
    """Forward FLOPs of one sample through a convolution: 2 * H_out * W_out * k_h * k_w * C_in * C_out (/ groups).

    ``out_spatial`` and ``kernel`` are the output's spatial shape and the
    kernel's (any number of spatial dimensions: Conv1D, Conv2D, Conv3D).
    """
    return 2 * _prod(out_spatial) * _prod(kernel) * c_in * c_out // groups


def _prod(values):
    out = 1
    for v in values:
        out *= int(v)
    return out


def forward_flops(model):
    """Per-sample forward FLOPs of a built Keras model's Dense and convolution layers, one entry per such layer.

    Other layers (pooling, dropout, activations, flatten, normalization) are
    not matrix work and count 0; so do layers this does not know (depthwise,
    transposed convolutions, attention): the figure is then a lower bound.
    """
    import keras

    flops = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            in_shape = tuple(layer.input.shape)[1:]
            flops.append(dense_flops(in_shape[-1], layer.units, _prod(in_shape[:-1])))
        elif type(layer).__name__ in ("Conv1D", "Conv2D", "Conv3D"):
            out_shape, in_shape = tuple(layer.output.shape)[1:], tuple(layer.input.shape)[1:]
            if layer.data_format == "channels_first":
                c_in, spatial = in_shape[0], out_shape[1:]
            else:
                c_in, spatial = in_shape[-1], out_shape[:-1]
            flops.append(conv_flops(spatial, layer.kernel_size, c_in, layer.filters, layer.groups))
    return flops


def training_flops(model, n_samples, epochs=1):
    """FLOPs of ``epochs`` training epochs over ``n_samples`` rows.

    ``model``: a built Keras model, or the per-sample forward FLOPs of its
    weighted layers in order (``[dense_flops(64, 100), dense_flops(100, 10)]``).
    Per weighted layer: the forward pass (F), the gradient of its weights (F)
    and the gradient of its input (F), i.e. about 3 x forward, except the
    first layer, whose input needs no gradient (2 x F).
    """
    per_layer = list(model) if isinstance(model, (list, tuple)) else forward_flops(model)
    per_sample = 3 * sum(per_layer) - (per_layer[0] if per_layer else 0)
    return per_sample * n_samples * epochs


def peak_fraction(flops, seconds, dtype="float32"):
    """The fraction of this machine's matmul peak in ``dtype`` that ``flops`` done in ``seconds`` amount to."""
    return flops / seconds / 1e9 / matmul_peak(dtype)


def peak_note():
    """One line with the peaks measured in this process (for under a training table)."""
    measured = ", ".join(f"{dtype} {gflops:,.0f} GFLOP/s" for dtype, gflops in _peaks.items())
    return (f"Matmul peak of this machine, measured in this run ({PEAK_SIZE} x {PEAK_SIZE} chained matmul in one "
            f"tf.function, the fastest call of the run): {measured}. peak % = the epoch's matmul/convolution "
            "FLOPs (forward + backward) / its time / the peak of its compute dtype.")


def epoch_timer():
    """A Keras callback recording each epoch's wall time in ``.times``.

    ``times`` is a class attribute of a class made per timer, so the copy of
    the callback that sknet trains with (it never uses the template itself)
    records into the same list.
    """
    import keras

    class EpochTimer(keras.callbacks.Callback):
        times = []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self._start)

    return EpochTimer()


def cli(main, configure=None):
    """Run ``main(quick)`` with a ``--quick`` command-line flag.

    ``configure(parser)``, given, adds a benchmark's own arguments; ``main`` is
    then called as ``main(quick, args)``.
    """
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller sizes for a quick check")
    if configure is None:
        main(parser.parse_args().quick)
    else:
        configure(parser)
        args = parser.parse_args()
        main(args.quick, args)


def load_mnist(path, flat=False):
    """``(X_train, y_train), (X_test, y_test)`` from a local ``mnist.npz`` (the layout
    ``keras.datasets.mnist`` saves), scaled to [0, 1] float32: rows of 784 if
    ``flat``, else ``(n, 28, 28, 1)`` images."""
    import numpy as np

    with np.load(path) as f:
        x_train, y_train, x_test, y_test = (f[k] for k in ("x_train", "y_train", "x_test", "y_test"))
    shape = (-1, 784) if flat else (-1, 28, 28, 1)
    return ((x_train.reshape(shape).astype("float32") / 255, y_train.astype("int64")),
            (x_test.reshape(shape).astype("float32") / 255, y_test.astype("int64")))


def anon_rss_mb():
    """This process's anonymous resident memory (``RssAnon``: what it allocated, not cached file pages), in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_anon_growth(fn, interval=0.005):
    """``(peak anonymous RSS growth in MB, seconds, result)`` of ``fn()``, RSS sampled every ``interval`` seconds."""
    import gc
    import threading

    gc.collect()
    base = anon_rss_mb()
    peak = [base]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], anon_rss_mb())
            time.sleep(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    try:
        result = fn()
    finally:
        seconds = time.perf_counter() - start
        done.set()
        sampler.join()
    return max(peak[0], anon_rss_mb()) - base, seconds, result
