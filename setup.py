"""Package metadata lives in setup.cfg; the dependencies come from sknet/_min_dependencies.py (their one source).

The table is loaded by path, not imported as ``sknet._min_dependencies``:
importing the ``sknet`` package starts TensorFlow, which pip's build
environment does not have.
"""

import importlib.util
import os

from setuptools import setup

_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sknet", "_min_dependencies.py")
_spec = importlib.util.spec_from_file_location("_sknet_min_dependencies", _path)
_deps = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_deps)

setup(install_requires=_deps.install_requires(), extras_require=_deps.extras_require())
