"""scikit-learn's own estimator checks, on the three estimators.

Expected failures (also listed in the README):

* ``check_sample_weight_equivalence_on_dense_data`` and ``..._on_sparse_data``: the check requires that an
  integer weight ``w`` equals repeating a sample ``w`` times (zero weights
  included: a zero weight equals removing the sample). Mini-batch gradient
  descent sees a different number of batches when rows are repeated, so the
  two fits follow different trajectories (scikit-learn marks the same check as
  failing for its own ``MLPClassifier``/``SGDClassifier``). scikit-learn 1.9
  has no separate zero-weight check; that zero weights *are* exactly
  equivalent to removing samples is tested in
  ``tests/test_encoding.py::test_sample_weight_zero_equals_removal``.

The expected failures are strict: a check listed here that starts passing
fails the suite, so the list (and the README's) cannot go stale.

One more is expected on some CPUs only, and is not strict:

* ``check_methods_sample_order_invariance`` on a CPU without AVX-512: there
  TensorFlow's float32 matmul (and ``exp``) kernels round a row's result
  differently depending on where the row falls in the batch (measured on a
  2-core AMD EPYC with AVX2 only: ``tf.matmul`` of a 200 x 20 by 20 x 100
  product differs from the row-permuted one by up to 4e-6, ``tf.nn.softmax``
  by 6e-8), so predictions on permuted rows differ by float32 rounding, above
  the check's ``rtol=1e-7``. Whether a given estimator's check data trip it
  depends on the shapes, hence not strict. On AVX-512 CPUs the check passes
  and the mark is absent.
"""

import os
import re

import pytest
from _pytest.mark.structures import ParameterSet
from sklearn.utils.estimator_checks import parametrize_with_checks

from sknet import NetClassifier, NetRegressor, NetTransformer

SAMPLE_WEIGHT_REASON = (
    "mini-batch SGD: repeating a row changes the batches, so integer weights "
    "are not equivalent to repeated rows (as for MLPClassifier and SGDClassifier)"
)

EXPECTED_FAILED_CHECKS = {
    "NetClassifier": {"check_sample_weight_equivalence_on_dense_data": SAMPLE_WEIGHT_REASON,
                     "check_sample_weight_equivalence_on_sparse_data": SAMPLE_WEIGHT_REASON},
    "NetRegressor": {"check_sample_weight_equivalence_on_dense_data": SAMPLE_WEIGHT_REASON,
                     "check_sample_weight_equivalence_on_sparse_data": SAMPLE_WEIGHT_REASON},
    "NetTransformer": {"check_sample_weight_equivalence_on_dense_data": SAMPLE_WEIGHT_REASON,
                     "check_sample_weight_equivalence_on_sparse_data": SAMPLE_WEIGHT_REASON},
}

README = os.path.join(os.path.dirname(__file__), os.pardir, "README.md")

ORDER_REASON = ("on CPUs without AVX-512, TensorFlow's float32 matmul and exp kernels round a row differently "
                "by its position in the batch (float32 rounding, above the check's rtol=1e-7)")


def _has_avx512():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            return " avx512f" in cpuinfo.read()
    except OSError:  # not Linux: assume the check's strict form
        return True


ROW_ORDER_SENSITIVE = not _has_avx512()


def _check_name(check):
    return getattr(check, "func", check).__name__


def strict(marker):
    """``parametrize_with_checks``' parametrization with its expected failures made strict."""
    argnames, params = marker.mark.args[:2]
    out = []
    for param in params:
        if not isinstance(param, ParameterSet):
            param = ParameterSet.extract_from(param)
        marks = [pytest.mark.xfail(strict=True, **mark.kwargs) if mark.name == "xfail" else mark
                 for mark in param.marks]
        if ROW_ORDER_SENSITIVE and _check_name(param.values[1]) == "check_methods_sample_order_invariance":
            marks.append(pytest.mark.xfail(strict=False, reason=ORDER_REASON))
        out.append(pytest.param(*param.values, marks=marks, id=param.id))
    return pytest.mark.parametrize(argnames, out, **marker.mark.kwargs)


# Made strict once: scikit-learn 1.6 yields the parameters from a generator, which one pass consumes.
CHECKS = strict(parametrize_with_checks(
    [NetClassifier(), NetRegressor(), NetTransformer()],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS[type(est).__name__],
))


@CHECKS
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_expected_failures_are_strict_and_match_the_readme():
    params = CHECKS.mark.args[1]
    xfailed = {}
    for param in params:
        for mark in param.marks:
            if mark.name == "xfail" and mark.kwargs.get("reason") != ORDER_REASON:
                assert mark.kwargs["strict"] is True
                xfailed.setdefault(type(param.values[0]).__name__, set()).add(_check_name(param.values[1]))
    assert xfailed == {name: set(checks) for name, checks in EXPECTED_FAILED_CHECKS.items()}
    text = open(README, encoding="utf-8").read()
    table = text.split("Expected to fail", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `(check_\w+)` \|", table, re.M))
    assert listed == set().union(*EXPECTED_FAILED_CHECKS.values())


def test_readme_check_counts_are_this_scikit_learn_s():
    """The README's check counts are those of the scikit-learn version it names.

    An older scikit-learn (the floor, ``make test-min``) has other checks: skipped, naming the version. A newer
    one fails until the README gives its counts and names it.
    """
    import sklearn
    from packaging.version import Version

    params = CHECKS.mark.args[1]
    text = open(README, encoding="utf-8").read()
    named = re.search(r"default parameters \(scikit-learn (\d+\.\d+)\)", text).group(1)
    installed = Version(sklearn.__version__)
    if Version(f"{installed.major}.{installed.minor}") < Version(named):
        pytest.skip(f"needs scikit-learn >= {named}, whose check counts the README gives (installed: {installed})")
    assert f"{installed.major}.{installed.minor}" == named, f"the README gives scikit-learn {named}'s counts"
    for name in ("NetClassifier", "NetRegressor", "NetTransformer"):
        total = sum(type(param.values[0]).__name__ == name for param in params)
        match = re.search(rf"`{name}`(?: passes)? (\d+) of its (\d+)", text)
        assert match and int(match.group(2)) == total, (name, total)
