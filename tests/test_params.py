"""Nested parameters: layers__<i>__<key>, optimizer__<arg>, loss__<arg>, model__<arg>."""

import keras
import numpy as np
import pytest
from keras.layers import Dense, Dropout
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknet import NetClassifier, NetRegressor
from sknet._params import loss_config


def spec():
    return [Dense(64, activation="relu"), Dropout(0.2)]


def test_get_params_lists_nested_layer_keys():
    clf = NetClassifier(spec(), optimizer__learning_rate=0.01)
    deep = clf.get_params()
    assert deep["layers__0__units"] == 64
    assert deep["layers__1__rate"] == 0.2
    assert deep["optimizer__learning_rate"] == 0.01
    shallow = clf.get_params(deep=False)
    assert "layers__0__units" not in shallow and shallow["optimizer__learning_rate"] == 0.01


def _dense_units(model):
    return [layer.units for layer in model.layers if isinstance(layer, Dense)]


def test_nested_layer_params_are_stored_and_applied_at_fit_never_mutating(iris):
    X, y = iris
    layers = spec()
    clf = NetClassifier(layers, epochs=1, random_state=0)
    clf.set_params(layers__0__units=32, layers__1__rate=0.5)
    assert clf.layers is layers and layers[0].units == 64 and layers[1].rate == 0.2
    assert clf.get_params(deep=False)["layers__0__units"] == 32
    assert clf.get_params()["layers__0__units"] == 32 and clf.get_params()["layers__1__rate"] == 0.5
    clf.fit(X, y)
    assert _dense_units(clf.model_) == [32, 3]
    assert clf.model_.layers[1].rate == 0.5
    assert layers[0].units == 64 and not layers[0].built


def test_layer_params_on_dict_and_sequential_specs(iris):
    X, y = iris
    dicts = [keras.layers.serialize(Dense(8))]
    clf = NetClassifier(dicts, epochs=1).set_params(layers__0__units=3).fit(X, y)
    assert _dense_units(clf.model_)[0] == 3 and dicts[0]["config"]["units"] == 8
    seq = keras.Sequential([keras.Input((4,)), Dense(8), Dense(3, activation="softmax")])
    clf = NetClassifier(seq, epochs=1).set_params(layers__0__units=5).fit(X, y)
    assert _dense_units(clf.model_) == [5, 3] and seq.layers[0].units == 8


def test_layer_params_on_default_spec(iris):
    X, y = iris
    clf = NetClassifier(epochs=1).set_params(layers__0__units=7).fit(X, y)
    assert _dense_units(clf.model_) == [7, 3]


def test_layer_params_and_whole_layers_in_one_set_params_call_are_order_independent(iris):
    X, y = iris
    a = NetClassifier(epochs=1).set_params(layers__0__units=6, layers=[Dense(9), Dropout(0.1)]).fit(X, y)
    b = NetClassifier(epochs=1).set_params(layers=[Dense(9), Dropout(0.1)], layers__0__units=6).fit(X, y)
    assert _dense_units(a.model_) == _dense_units(b.model_) == [6, 3]


def test_round_trip_and_clone():
    clf = NetClassifier(spec(), optimizer="sgd", optimizer__momentum=0.9, loss__label_smoothing=0.1)
    params = clf.get_params()
    clf2 = NetClassifier().set_params(**params)
    assert clf2.get_params() == params  # deep parameters set back give the same deep parameters
    cloned = clone(clf)
    assert cloned.get_params(deep=False)["optimizer__momentum"] == 0.9
    assert cloned.layers is not clf.layers


@pytest.mark.parametrize(
    "params, match",
    [
        ({"layers__0__unit": 3}, "valid keys are"),
        ({"layers__9__units": 3}, "valid indices 0..1"),
        ({"optimizer__lr_rate": 3}, "valid choices are"),
        ({"loss__smoothing": 3}, "valid choices are"),
    ],
)
def test_misspelled_nested_keys_raise(iris, params, match):
    X, y = iris
    with pytest.raises(ValueError, match=match):
        NetClassifier(spec(), epochs=1).set_params(**params).fit(X, y)


def test_unknown_plain_parameter_raises():
    with pytest.raises(ValueError, match="Invalid parameter 'epoch'"):
        NetClassifier().set_params(epoch=3)


def test_unknown_extra_init_parameter_raises_at_fit(iris):
    X, y = iris
    clf = NetClassifier(epoch=3)
    with pytest.raises(ValueError, match="unknown parameter 'epoch'"):
        clf.fit(X, y)


@pytest.mark.parametrize("name", ["adamm", "not-an-optimizer"])
def test_unknown_optimizer(iris, name):
    X, y = iris
    with pytest.raises(ValueError, match="unknown optimizer"):
        NetClassifier(optimizer=name, epochs=1).fit(X, y)


def test_unknown_loss_and_metric(iris):
    X, y = iris
    with pytest.raises(ValueError, match="unknown loss"):
        NetClassifier(loss="crossentropyy", epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="unknown metric"):
        NetClassifier(metrics=["acuracy"], epochs=1).fit(X, y)


def test_keras_loss_functions_become_their_loss_classes(regression_data):
    X, Y = regression_data
    reg = NetRegressor(loss=keras.losses.mean_absolute_error, epochs=2, random_state=0).fit(X, Y)
    same = NetRegressor(loss="mae", epochs=2, random_state=0).fit(X, Y)
    assert isinstance(reg.model_.loss, keras.losses.MeanAbsoluteError)
    np.testing.assert_allclose(reg.predict(X), same.predict(X), rtol=1e-5)
    huber = NetRegressor(loss=keras.losses.huber, loss__delta=0.5, epochs=1, random_state=0).fit(X, Y)
    assert loss_config(huber.model_.loss)["delta"] == 0.5
    by_class = NetRegressor(loss=keras.losses.Huber, loss__delta=0.5, epochs=1, random_state=0).fit(X, Y)
    assert isinstance(by_class.model_.loss, keras.losses.Huber)
    np.testing.assert_array_equal(by_class.predict(X), huber.predict(X))


def test_huber_delta_reaches_training_although_keras_drops_it_from_the_config(regression_data):
    """Keras' Huber.get_config() has no delta: the value and the trace cache key must still see it."""
    X, Y = regression_data
    histories = [
        NetRegressor(loss="huber", loss__delta=delta, epochs=2, random_state=0, scale_target=False)
        .fit(X, Y * 10).history_["loss"]
        for delta in (0.5, 50.0, 0.5)
    ]
    assert histories[0] == histories[2]
    assert histories[1][0] > 2 * histories[0][0]  # squared region for large delta: a much larger loss


def _half_squared_error(y_true, y_pred):
    return 0.5 * keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)


@keras.saving.register_keras_serializable(package="sknet_tests")
def registered_half_squared_error(y_true, y_pred):
    return _half_squared_error(y_true, y_pred)


def test_a_users_loss_function_trains_and_a_registered_one_pickles(regression_data):
    import pickle

    X, Y = regression_data
    mse = NetRegressor(loss="mse", epochs=3, optimizer="sgd", optimizer__learning_rate=0.01, random_state=0,
                       scale_target=False).fit(X, Y)
    half = NetRegressor(loss=_half_squared_error, epochs=3, optimizer="sgd", optimizer__learning_rate=0.02,
                        random_state=0, scale_target=False).fit(X, Y)  # half the loss, twice the step: same path
    np.testing.assert_allclose(half.history_["loss"], np.array(mse.history_["loss"]) / 2, rtol=1e-4)
    with pytest.raises(ValueError, match="takes no loss__"):
        NetRegressor(loss=_half_squared_error, loss__delta=1.0, epochs=1).fit(X, Y)
    reg = NetRegressor(loss=registered_half_squared_error, epochs=2, random_state=0).fit(X, Y)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(reg)).predict(X), reg.predict(X))


def test_an_unregistered_loss_function_still_pickles_and_refits(regression_data):
    import pickle

    X, Y = regression_data
    reg = NetRegressor(loss=_half_squared_error, epochs=2, warm_start=True, random_state=0).fit(X, Y)
    loaded = pickle.loads(pickle.dumps(reg))  # Keras cannot find the function: sknet still loads
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))
    with pytest.raises(TypeError, match="not registered with Keras"):
        loaded.model_.evaluate(X, Y, verbose=0)
    loaded.fit(X, Y)  # refits use the estimator's own loss parameter
    reg.fit(X, Y)
    np.testing.assert_allclose(loaded.history_["loss"], reg.history_["loss"], rtol=1e-6)
    loaded.model_.evaluate(X, Y, verbose=0)  # the refit network is compiled with the real function


def test_loss_names_without_a_loss_class_train(iris):
    X, y = iris
    clf = NetClassifier(loss="kl_divergence", epochs=2, random_state=0).fit(X, y)
    assert clf.model_.loss.name == "kl_divergence" and np.isfinite(clf.history_["loss"]).all()


def test_nested_values_reach_the_built_model(iris):
    X, y = iris
    clf = NetClassifier(
        spec(), optimizer="sgd", optimizer__learning_rate=0.05, optimizer__momentum=0.5,
        loss__label_smoothing=0.2, epochs=1, random_state=0,
    ).set_params(layers__0__units=12, layers__1__rate=0.4)
    clf.fit(X, y)
    assert clf.model_.layers[0].units == 12
    assert clf.model_.layers[1].rate == 0.4
    assert clf.model_.optimizer.get_config()["momentum"] == 0.5
    assert float(clf.model_.optimizer.learning_rate) == pytest.approx(0.05)
    assert clf.model_.loss.get_config()["label_smoothing"] == 0.2


def test_grid_search_over_nested_keys(digits):
    X, y = digits
    pipe = make_pipeline(StandardScaler(), NetClassifier(spec(), epochs=3, random_state=0))
    grid = {
        "netclassifier__layers__0__units": [8, 32],
        "netclassifier__layers__1__rate": [0.0, 0.3],
        "netclassifier__optimizer__learning_rate": [1e-3, 1e-2],
    }
    search = GridSearchCV(pipe, grid, cv=2).fit(X, y)
    assert set(grid) <= set(search.best_params_)
    best = search.best_estimator_[-1]
    assert best.model_.layers[0].units == search.best_params_["netclassifier__layers__0__units"]
    assert best.model_.layers[1].rate == search.best_params_["netclassifier__layers__1__rate"]
    lr = float(best.model_.optimizer.learning_rate)
    assert lr == pytest.approx(search.best_params_["netclassifier__optimizer__learning_rate"])
    results = search.cv_results_["mean_test_score"]
    assert np.ptp(results) > 0  # the keys change the model


def test_randomized_search_over_whole_values(iris):
    X, y = iris
    search = RandomizedSearchCV(
        NetClassifier(epochs=2, random_state=0),
        {"optimizer": ["adam", "sgd"], "layers": [spec(), [Dense(4)]], "batch_size": [16, 32]},
        n_iter=3, cv=2, random_state=0,
    ).fit(X, y)
    best = search.best_estimator_  # the best whole values reach the network
    assert type(best.model_.optimizer).__name__.lower() == search.best_params_["optimizer"]
    expected = [layer.units for layer in search.best_params_["layers"] if isinstance(layer, Dense)] + [3]
    assert [layer.units for layer in best.model_.layers if isinstance(layer, Dense)] == expected


def build(meta, hidden=4):
    inputs = keras.Input(shape=meta["input_shape_"])
    x = Dense(hidden, activation="relu")(inputs)
    return keras.Model(inputs, Dense(meta["n_outputs_"])(x))


def test_model_kwargs_are_searchable(regression_data):
    X, Y = regression_data
    search = GridSearchCV(NetRegressor(build, epochs=2, random_state=0), {"model__hidden": [2, 6]}, cv=2).fit(X, Y)
    units = sorted(layer.units for layer in search.best_estimator_.model_.layers if isinstance(layer, Dense))
    assert units == sorted([search.best_params_["model__hidden"], 2])  # the hidden layer and the 2 outputs


def test_model_kwargs_need_a_callable_spec(iris):
    X, y = iris
    with pytest.raises(ValueError, match="callable layers spec"):
        NetClassifier(spec(), model__hidden=3, epochs=1).fit(X, y)


def test_optimizer_loss_and_metric_templates_are_never_used(iris):
    X, y = iris
    optimizer = keras.optimizers.SGD(learning_rate=0.05, momentum=0.5)
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=0.1)
    metric = keras.metrics.CategoricalAccuracy(name="acc")
    clf = NetClassifier(spec(), optimizer=optimizer, loss=loss, metrics=[metric], epochs=2, random_state=0)
    clf.fit(X, y)
    assert not optimizer.built and int(optimizer.iterations) == 0
    assert clf.model_.optimizer is not optimizer
    assert float(metric.result()) == 0.0
    assert "acc" in clf.history_


# -- regression tests of the correctness pass ---------------------------------------------------


def _keras_loss_names():
    from sknet._compat import loss_names

    return [name for name in loss_names() if name not in ("Loss", "LossFunctionWrapper")]


@pytest.mark.parametrize("name", _keras_loss_names())
def test_every_keras_loss_name_resolves_to_its_class_and_takes_loss_args(name):
    """Every name and alias keras.losses.get accepts, with a loss__ argument (no camel-case guessing)."""
    from sknet._params import make_loss

    resolved = keras.losses.get(name)
    expected = type(resolved) if isinstance(resolved, keras.losses.Loss) else None
    loss = make_loss(name, "mse", {"reduction": "sum"})
    if expected is None:  # a function: its class is the one whose instances wrap it
        expected = next(cls for cls in vars(keras.losses).values()
                        if isinstance(cls, type) and issubclass(cls, keras.losses.Loss)
                        and getattr(cls(), "fn", None) is resolved)
    assert type(loss) is expected
    assert loss.reduction == "sum"


def test_kl_divergence_takes_loss_args_in_a_fit(iris):
    X, y = iris
    clf = NetClassifier(loss="kl_divergence", loss__reduction="sum", epochs=1, random_state=0).fit(X, y)
    assert isinstance(clf.model_.loss, keras.losses.KLDivergence)
    assert clf.model_.loss.reduction == "sum"


def test_warm_start_uses_new_optimizer_arguments_and_keeps_the_optimizer_state(iris):
    X, y = iris
    clf = NetClassifier(epochs=3, warm_start=True, random_state=0, optimizer__learning_rate=0.01).fit(X, y)
    iterations = int(clf.model_.optimizer.iterations)
    moments = [v.numpy().copy() for v in clf.model_.optimizer.variables[2:]]
    weights = [w.copy() for w in clf.model_.get_weights()]
    clf.set_params(optimizer__learning_rate=0.0, epochs=2).fit(X, y)
    for before, after in zip(weights, clf.model_.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)  # a zero rate moves no weight
    assert float(clf.model_.optimizer.learning_rate) == 0.0
    assert int(clf.model_.optimizer.iterations) == iterations + 2 * 5  # 150 rows / 32: 5 steps an epoch
    changed = [not np.allclose(a, b.numpy()) for a, b in zip(moments, clf.model_.optimizer.variables[2:],
                                                             strict=True)]
    assert any(changed)  # the moments went on accumulating from the old state


def test_warm_start_with_a_new_optimizer_argument_continues_its_moments(iris):
    """beta_1 changes the trace signature; the state still continues (same class, same layout)."""
    X, y = iris
    clf = NetClassifier(epochs=2, warm_start=True, random_state=0).fit(X, y)
    clf.set_params(optimizer__beta_1=0.5).fit(X, y)
    assert clf.model_.optimizer.get_config()["beta_1"] == 0.5
    assert int(clf.model_.optimizer.iterations) == 4 * 5


@pytest.mark.parametrize("spec", ["adam", "RMSprop", keras.optimizers.SGD, keras.optimizers.Adam(learning_rate=0.5)])
def test_optimizer_from_a_name_or_class_is_what_an_instance_would_give(spec):
    """Names and classes are made from the defaults' config (read once), never a throwaway instance."""
    from sknet._params import make_optimizer

    overrides = {"learning_rate": 0.03, "clipnorm": 2.0}
    made = make_optimizer(spec, overrides)
    template = spec if isinstance(spec, keras.optimizers.Optimizer) else (
        spec() if isinstance(spec, type) else type(keras.optimizers.get(spec))())
    name = type(template).__name__.lower()
    expected = type(template).from_config({**template.get_config(), **overrides, "name": name})
    assert type(made) is type(template) and made.get_config() == expected.get_config()
    assert make_optimizer(spec, overrides) is not made and not made.built
    with pytest.raises(ValueError, match="optimizer__momentun"):
        make_optimizer(spec, {"momentun": 0.9})


def test_clone_copies_layer_templates_through_their_configs():
    """clone() copies weightless Keras templates as Keras' own deepcopy would, minus its archive round trip."""
    shared = Dropout(0.2, seed=3)
    layers = [Dense(16, activation="relu", name="a"), shared, Dense(8), shared]
    est = NetClassifier(layers, epochs=3, optimizer__learning_rate=0.01)
    copy = clone(est)
    assert copy.get_params(deep=False).keys() == est.get_params(deep=False).keys()
    assert copy.optimizer__learning_rate == 0.01 and copy.epochs == 3
    assert type(copy.layers) is list and len(copy.layers) == 4
    assert copy.layers[1] is not copy.layers[3]  # each element copied on its own, as scikit-learn does
    for ours, template in zip(copy.layers, layers, strict=True):
        assert ours is not template and type(ours) is type(template) and ours.built == template.built
        assert ours.get_config() == template.get_config()
    assert est.layers is layers and all(a is b for a, b in zip(est.layers, layers, strict=True))  # untouched
    # A built template keeps its weights: it takes scikit-learn's deepcopy, as before.
    built = Dense(4)
    built.build((None, 3))
    copy = clone(NetClassifier([built]))
    assert copy.layers[0].built
    np.testing.assert_array_equal(copy.layers[0].kernel.numpy(), built.kernel.numpy())


# --------------------------------------------------------------------------- the user's functions (issue 28)


def mean_pred(y_true, y_pred):
    """The Keras tutorial's custom metric."""
    return keras.ops.mean(y_pred)


def test_the_tutorials_custom_metric_function_trains_like_keras(iris):
    """``metrics=['accuracy', mean_pred]`` raised Keras' "Could not locate function" at fit."""
    X, y = iris

    def local_metric(y_true, y_pred):  # a local function: no name Keras could look up
        return keras.ops.max(y_pred)

    clf = NetClassifier([Dense(8, activation="relu")], metrics=["accuracy", mean_pred, local_metric],
                        batch_size=len(X), epochs=2, random_state=0).fit(X, y, validation_data=(X, y))
    assert {"mean_pred", "local_metric", "val_mean_pred", "val_local_metric"} <= set(clf.history_)
    # softmax outputs: every row sums to 1, so the mean prediction is 1 / n_classes
    assert clf.history_["val_mean_pred"][-1] == pytest.approx(1 / 3, rel=1e-5)
    assert clf.history_["val_local_metric"][-1] == pytest.approx(float(clf.predict_proba(X).max()), rel=1e-5)


def _scaled_relu(scale):
    def activation(x):
        return keras.ops.relu(x) * scale

    return activation


@pytest.mark.parametrize("activation", ["closure", "lambda"])
def test_activation_closures_and_lambdas_in_a_layer_train_and_predict(iris, activation):
    X, y = iris
    make = {"closure": lambda: _scaled_relu(0.0), "lambda": lambda: (lambda x: keras.ops.relu(x) * 0.0)}[activation]
    zero = NetClassifier([Dense(8, activation=make())], epochs=2, random_state=0).fit(X, y)
    hidden = keras.Model(zero.model_.inputs, zero.model_.layers[0].output)
    assert np.all(np.asarray(hidden(X)) == 0)  # the function itself ran, not a stand-in
    np.testing.assert_allclose(zero.predict_proba(X), np.asarray(zero.model_(X)), rtol=1e-5, atol=1e-6)


def test_two_closures_of_one_factory_in_layers_do_not_share_a_trace(iris):
    X, y = iris
    off = NetClassifier([Dense(8, activation=_scaled_relu(0.0))], epochs=3, random_state=0).fit(X, y)
    on = NetClassifier([Dense(8, activation=_scaled_relu(1.0))], epochs=3, random_state=0).fit(X, y)
    assert on.score(X, y) > off.score(X, y) + 0.1


def test_pickling_names_an_unregistered_function_and_the_decorator(iris):
    """Fitting needs no registration; saving does, and then says which function and how."""
    import pickle

    X, y = iris

    def local_metric(y_true, y_pred):
        return keras.ops.mean(y_pred)

    clf = NetClassifier(metrics=[local_metric], epochs=1, random_state=0).fit(X, y)
    with pytest.raises(TypeError, match=r"local_metric.*register_keras_serializable"):
        pickle.dumps(clf)
    layer = NetClassifier([Dense(4, activation=_scaled_relu(1.0))], epochs=1, random_state=0).fit(X, y)
    with pytest.raises(TypeError, match=r"_scaled_relu.<locals>.activation.*register_keras_serializable"):
        pickle.dumps(layer)


def test_an_activation_closure_survives_clone_and_cross_validation(iris):
    from sklearn.model_selection import cross_val_score

    X, y = iris
    activation = _scaled_relu(1.0)
    copy = clone(NetClassifier([Dense(8, activation=activation)], epochs=2, random_state=0))
    assert copy.layers[0].activation is activation
    assert len(cross_val_score(copy, X, y, cv=2)) == 2
