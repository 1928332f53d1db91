"""Start TensorFlow without its start-up chatter, for the examples and the demo.

On a CPU machine, TensorFlow 2.21 greets every process with lines such as::

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 ... port.cc:153] oneDNN custom operations are on. ...
    I0000 ... cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
    E0000 ... cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: ... (303)

``TF_CPP_MIN_LOG_LEVEL=2`` hides TensorFlow's C++ info and warning messages,
but not these: the ``I0000`` lines are logged while its shared libraries load,
before Abseil's logging is initialised, when Abseil writes every message
whatever the level (twice, once per library that carries its own copy); and
the ``E0000`` line is an error-level message from the first look for a GPU.
``CUDA_VISIBLE_DEVICES=""`` or ``-1`` does not prevent it either.

:func:`quiet_tensorflow` imports TensorFlow and looks for GPUs with the
process's stderr captured, then writes back everything but those lines: a
real error (any other ``E``/``F`` line, a Python warning, a traceback) still
shows. The ``cuInit`` error is dropped only when TensorFlow itself reported,
in the same start-up, that no CUDA driver is installed; on a machine with an
NVIDIA driver it always shows. No device is hidden and no TensorFlow setting
is changed.

This is for the example scripts only; sknet itself never touches a user's
logging or stderr. To see everything, run an example with
``TF_CPP_MIN_LOG_LEVEL=0`` (or ``1``).
"""

import contextlib
import os
import re
import sys
import tempfile

# an absl record of severity I or W: MMDD ("0000" before initialisation), hh:mm:ss.us (seconds since
# the epoch before initialisation), thread id, file:line]
_INFO_OR_WARNING = re.compile(r"^[IW]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w.]+:\d+\] ")
_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_NO_DRIVER = "Could not find cuda drivers on your machine"
_CUINIT = re.compile(r"^E\d{4} .* cuda_platform\.cc:\d+\] failed call to cuInit: ")


def _min_log_level():
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        return 0


def filter_startup(text):
    """``text`` (captured stderr) without TensorFlow's start-up chatter."""
    no_driver = _NO_DRIVER in text
    kept = [
        line
        for line in text.splitlines(keepends=True)
        if not (
            line.rstrip("\n") == _ABSL_PREAMBLE
            or _INFO_OR_WARNING.match(line)
            or (no_driver and _CUINIT.match(line))
        )
    ]
    return "".join(kept)


@contextlib.contextmanager
def _filtered_stderr():
    """Capture file descriptor 2 (C++ and Python writes alike), then write back the filtered text."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            rest = filter_startup(captured.read().decode("utf-8", errors="replace"))
            if rest:
                sys.stderr.write(rest)
                sys.stderr.flush()


def quiet_tensorflow():
    """Import TensorFlow and initialise its devices without the start-up chatter.

    Call it before anything imports TensorFlow (Keras, sknet). Sets
    ``TF_CPP_MIN_LOG_LEVEL=2`` unless it is set already; with a level below 2
    the user asked for TensorFlow's messages, and nothing is filtered.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules or _min_log_level() < 2:
        return
    with _filtered_stderr():
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")  # the first look for a GPU is where cuInit logs
