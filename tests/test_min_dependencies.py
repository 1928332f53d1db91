"""The dependency floors: one table (``sknet/_min_dependencies.py``), read by everything that names them.

The package metadata (``setup.py``), ``sknet._compat``'s docs, the README's
install section and the min environment's constraints (``make test-min``) must
all say the same; features newer than their floor check the version at the
call; test skips at the floor name the version they need.
"""

import ast
import configparser
import glob
import os
import re
import subprocess
import sys
from importlib.metadata import version as installed_version

import numpy as np
import pytest
from conftest import requires
from packaging.requirements import Requirement
from packaging.version import Version

import sknet._compat
from sknet import _min_dependencies as md

ROOT = os.path.join(os.path.dirname(__file__), os.pardir)
SCRIPT = os.path.join(ROOT, "sknet", "_min_dependencies.py")

#: how sknet._compat and the README spell the install requirements
DISPLAY = {"tensorflow": "TensorFlow", "keras": "Keras", "scikit-learn": "scikit-learn", "numpy": "NumPy",
           "scipy": "SciPy", "pandas": "pandas"}


def _read(*path):
    with open(os.path.join(ROOT, *path), encoding="utf-8") as f:
        return f.read()


def _script(*args):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=120)


def test_every_floor_is_a_version_and_every_tag_an_extra():
    extras = {"install", "test", "plot", "dask", "onnx", "docs", "bench"}
    for package, (floor, tags) in md.dependent_packages.items():
        assert floor is None or str(Version(floor)) == floor, package
        assert {tag.strip() for tag in tags.split(",")} <= extras | set(md.tag_to_packages), package
    assert {"tensorflow", "keras", "scikit-learn", "numpy", "scipy", "pandas"} <= {
        Requirement(r).name for r in md.install_requires()}


def test_package_metadata_is_built_from_the_table(tmp_path):
    """``setup.py``'s requirements are the table's, and setup.cfg declares none of its own."""
    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(ROOT, "setup.cfg"))
    assert "install_requires" not in cfg["options"] and not cfg.has_section("options.extras_require")
    assert cfg["metadata"]["name"] == "sknet-keras"
    out = subprocess.run([sys.executable, "setup.py", "-q", "egg_info", "-e", str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    (info,) = glob.glob(str(tmp_path / "*.egg-info"))
    sections, current = {}, "install"
    for line in open(os.path.join(info, "requires.txt"), encoding="utf-8").read().splitlines():
        if line.startswith("["):
            current = line.strip("[]")
        elif line.strip():
            sections.setdefault(current, set()).add(str(Requirement(line)))
    expected = {tag: {str(Requirement(r)) for r in reqs} for tag, reqs in md.tag_to_packages.items()}
    assert sections == expected
    assert "onnx!=1.19.0,>=1.16.0" in sections["onnx"] or "onnx>=1.16.0,!=1.19.0" in sections["onnx"]


def test_constraints_pin_exactly_the_floors():
    out = _script("constraints")
    assert out.returncode == 0, out.stderr
    pins = {}
    for line in out.stdout.splitlines():
        if line and not line.startswith("#"):
            req = Requirement(line)
            assert not req.extras, line  # pip refuses extras in a constraints file
            (spec,) = req.specifier
            assert spec.operator == "=="
            pins[req.name] = spec.version
    assert pins == {md.project_name(p): floor for p, (floor, _) in md.dependent_packages.items() if floor}
    assert pins["keras"] == md.min_version("keras")


def test_check_names_the_packages_not_at_their_floor():
    """``check`` passes in the min environment only; elsewhere it names each package above its floor."""
    out = _script("check", "test,onnx")
    bad = md.mismatches(["test", "onnx"])
    assert out.returncode == (1 if bad else 0), out.stderr
    for name, floor, installed in bad:
        assert f"{name}: floor {floor}, installed {installed}" in out.stderr
    assert _script("nonsense").returncode == 2


def test_compat_names_the_same_floors():
    supported = " ".join(sknet._compat.__doc__.split("Supported:", 1)[1].split(":", 1)[0].split())
    for name, shown in DISPLAY.items():
        assert re.search(rf"\b{re.escape(shown)} >= {re.escape(md.min_version(name))}\b", supported), (name, supported)
    assert len(re.findall(r">=", supported)) == len(DISPLAY)


def _readme_versions():
    text = _read("README.md")
    table = text.split("### Supported versions", 1)[1].split("\n#", 1)[0]
    rows = {}
    for line in table.splitlines():
        cells = [c.strip(" `") for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 3 and cells[0] != "package" and not set(cells[0]) <= {"-", ":"}:
            rows[cells[0].split()[0]] = cells[1:]
    return text, table, rows


def test_readme_names_the_same_floors_and_python():
    text, table, rows = _readme_versions()
    for package, (floor, _) in md.dependent_packages.items():
        if floor and md.project_name(package) in rows:
            assert rows[md.project_name(package)][0].split()[0] == floor, package
    for name in DISPLAY:
        assert name in rows, name
    for name, (floor, _) in rows.items():
        if name != "Python":
            assert floor.split()[0] == md.min_version(name), name
    for bad in md.excluded_versions.get("onnx", {}):
        assert bad in rows["onnx"][0]
    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(ROOT, "setup.cfg"))
    python_requires = cfg["options"]["python_requires"]
    assert python_requires == f">={rows['Python'][0].split()[0]}"
    assert "3.11" in rows["Python"][0]  # the one that CI tests


def test_requires_marks_name_versions_above_the_floor():
    """A skip at the floor names a version newer than the floor (else the test would never run there)."""
    found = 0
    for path in glob.glob(os.path.join(ROOT, "tests", "*.py")):
        for node in ast.walk(ast.parse(_read(path))):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "requires"
                    and all(isinstance(arg, ast.Constant) for arg in node.args[:2])):
                package, minimum = (arg.value for arg in node.args[:2])
                assert Version(minimum) > Version(md.min_version(package)), (path, package, minimum)
                found += 1
    assert found


def test_requires_skips_with_the_version_in_the_reason():
    mark = requires("keras", "999", "why")
    assert mark.args == (True,) and "needs keras >= 999 (installed: " in mark.kwargs["reason"]
    assert mark.kwargs["reason"].endswith(": why")
    assert requires("keras", md.min_version("keras")).args == (False,)


def test_check_version_names_the_version_needed():
    sknet._compat.check_version("keras", md.min_version("keras"), "anything")
    with pytest.raises(ValueError, match=r"opset=9 needs keras >= 999; this environment has keras \d"):
        sknet._compat.check_version("keras", "999", "opset=9")


def test_ci_runs_the_min_suite_after_the_suite():
    ci = [line.strip() for line in _read(".ci", "run").splitlines()]
    assert ci.index("make test-min") > ci.index("make test")
    makefile = _read("Makefile")
    assert "sknet/_min_dependencies.py constraints > $(VENV_MIN)/constraints.txt" in makefile
    assert "sknet/_min_dependencies.py check $(EXTRAS_MIN)" in makefile
    assert ".venv-min/" in _read(".gitignore").splitlines()


def _opset(proto):
    return next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))


@pytest.fixture(scope="module")
def network():
    pytest.importorskip("tf2onnx")
    from keras.layers import Dense

    from sknet import NetRegressor

    X = np.random.RandomState(0).randn(40, 3).astype("float32")
    return NetRegressor(layers=[Dense(4, activation="relu")], epochs=1, random_state=0).fit(X, X[:, 0])


@pytest.mark.parametrize("opset", [13, 16, 18])
def test_onnx_opset_is_the_one_asked_for_or_an_error_naming_keras_3_12(network, opset):
    """Keras < 3.12 ignores ``opset_version`` (it writes tf2onnx's default, 15): never a silent other opset."""
    import onnxruntime as rt
    from tf2onnx.constants import PREFERRED_OPSET

    from sknet.onnx import network_to_onnx

    if opset < PREFERRED_OPSET and Version(installed_version("keras")) < Version("3.12"):
        with pytest.raises(ValueError, match=r"needs keras >= 3\.12; this environment has keras 3\."):
            network_to_onnx(network.model_, network.input_shape_, opset=opset)
        return
    proto = network_to_onnx(network.model_, network.input_shape_, opset=opset)
    assert _opset(proto) == opset
    X = np.random.RandomState(1).randn(5, 3).astype("float32")
    (out,) = rt.InferenceSession(proto.SerializeToString()).run(None, {proto.graph.input[0].name: X})
    np.testing.assert_allclose(out, network.model_.predict(X, verbose=0), rtol=1e-4, atol=1e-5)
