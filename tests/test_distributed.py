"""The distributed loop (sknet._engine._distributed) optimises and reports the single-device objective.

Run in a subprocess: the two logical CPU devices must be configured before
TensorFlow starts, and the rest of the suite keeps a clean runtime.
"""

import numpy as np
import pytest

_SCRIPT = r"""
import numpy as np
import keras
from keras.layers import Dense
from sknet import NetRegressor

rng = np.random.RandomState(0)
X = rng.randn(50, 4).astype("float32")
y = (X @ rng.randn(4) + 0.1 * rng.randn(50)).astype("float32")
w = rng.uniform(0.5, 2.0, 50)
layers = [Dense(8, activation="tanh", kernel_regularizer=keras.regularizers.L2(0.05))]

def fit(distribute, **kw):
    params = dict(layers=layers, optimizer="sgd", epochs=1, random_state=0, distribute=distribute)
    params.update(kw)
    return NetRegressor(**params).fit(X, y, sample_weight=w, validation_data=(X, y, w))

out = {}
# A zero rate: both engines report the loss of the same network over the same epoch.
for name, strategy in (("single", None), ("mirrored", "mirrored")):
    reg = fit(strategy, optimizer__learning_rate=0.0, batch_size=16)  # 50 rows: a partial last batch
    out[name + "_loss"] = reg.history_["loss"][0]
    out[name + "_val_loss"] = reg.history_["val_loss"][0]
# One step on one partial batch (64 > 50 rows): the same gradient, so the same weights.
for name, strategy in (("single", None), ("mirrored", "mirrored")):
    reg = fit(strategy, optimizer__learning_rate=0.1, batch_size=64)
    out[name + "_weights"] = [v.tolist() for v in reg.model_.get_weights()]
    out[name + "_replicas"] = reg.model_.distribute_strategy.num_replicas_in_sync
print("RESULT" + json.dumps(out))
"""


@pytest.mark.slow
def test_distributed_loop_matches_the_single_device_objective(run_on_two_cpus):
    result = run_on_two_cpus(_SCRIPT)
    assert result["mirrored_replicas"] == 2
    assert result["mirrored_loss"] == pytest.approx(result["single_loss"], rel=1e-5)
    assert result["mirrored_val_loss"] == pytest.approx(result["single_val_loss"], rel=1e-5)
    for single, mirrored in zip(result["single_weights"], result["mirrored_weights"], strict=True):
        np.testing.assert_allclose(mirrored, single, atol=1e-5)
