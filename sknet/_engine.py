"""Training and inference engine: the only module that knows TensorFlow performance tricks.

Why it is faster than ``model.fit`` / ``model.predict``
-------------------------------------------------------
* The data is converted to tensors once per fit; an epoch is shuffled by an
  index permutation and gathered batch by batch *inside* one ``tf.function``
  call (a graph ``while`` loop), so there is no per-step Python or
  ``tf.data`` overhead.
* Traced functions are cached by *signature* (architecture, input spec, loss,
  optimizer class and non-learning-rate settings, metrics). A :class:`Trainer`
  owns a working copy of the model and its optimizer; each fit loads its fresh
  initial weights into it, so cross-validation folds and grid-search candidates
  that change only the data, the learning rate, the epochs or the batch size
  re-use one trace instead of paying for a new one.
* SGD, RMSprop and Adam updates run as TensorFlow's fused kernels, one per
  variable, instead of Keras' chain of element-wise operations
  (:mod:`sknet._fused`); other optimizers and options use Keras' update.
* ``predict`` never calls ``model.predict``: a new model predicts through a
  traced function of the weights (``model.stateless_call``) shared by its
  architecture (no tracing per fold or candidate); an estimator predicted
  repeatedly gets its own traced function with the weights captured, so a
  one-row prediction costs well under a millisecond.

Per-batch callbacks and ``verbose=1`` are honoured by running the epoch in
chunks (one batch per chunk for callbacks with batch hooks), on the same
traced function.
"""

import json
import re
import threading
from collections import OrderedDict

import keras
import numpy as np
import tensorflow as tf

from ._fused import fused_update
from ._params import loss_config

# Cached traced functions. Bounded, so a long-running process that fits many
# different architectures does not grow without limit.
_MAX_CACHED = 8
_TRAINERS = OrderedDict()
_PREDICTORS = OrderedDict()
_CACHE_LOCK = threading.Lock()

PREDICT_CHUNK = 8192


def state_variables(model):
    """All variables that define a model's behaviour (weights, BN stats, RNG seeds)."""
    return list(model.trainable_variables) + list(model.non_trainable_variables)


def assign_all(variables, values):
    """Assign ``values`` (arrays or variables) to ``variables``, pairwise."""
    for variable, value in zip(variables, values):
        variable.assign(value)


def copy_state(source, target):
    """Assign every state variable of ``source`` to ``target`` (same architecture)."""
    src, dst = state_variables(source), state_variables(target)
    if len(src) != len(dst):  # pragma: no cover - guarded by the signature
        raise RuntimeError("internal error: models of different architecture")
    assign_all(dst, src)


def clone_architecture(model):
    """A fresh, uncompiled copy of ``model``'s architecture (new, unset weights).

    ``keras.models.clone_model`` re-compiles a compiled model from its compile
    config: that looks the optimizer up by its registered name (so it fails for
    a user's unregistered optimizer class) and builds an optimizer the copy
    never uses. Cloning a shallow stand-in marked uncompiled avoids both
    without touching ``model``.
    """
    if not getattr(model, "compiled", False):
        return keras.models.clone_model(model)
    stand_in = object.__new__(type(model))
    stand_in.__dict__.update(model.__dict__)
    stand_in.__dict__["compiled"] = False
    return keras.models.clone_model(stand_in)


def rehome(model, strategy, metrics=()):
    """A copy of a fitted ``model`` whose variables live under ``strategy``.

    Weights, every other state variable and the optimizer state are copied, so
    a warm-started distributed fit continues where ``model`` stopped; it is
    needed when ``model`` was made outside ``strategy`` (under an earlier
    strategy object, or loaded from a pickle). ``model`` is not modified. Call
    it outside any strategy scope: variables of another strategy can only be
    read outside the new one.
    """
    state = [v.numpy() for v in state_variables(model)]
    source = model.optimizer
    config = None if source is None else source.get_config()
    slots = [v.numpy() for v in source.variables] if source is not None and source.built else None
    with strategy.scope():
        new = clone_architecture(model)
        assign_all(state_variables(new), state)
        if source is not None:
            optimizer = type(source).from_config(config)
            new.compile(optimizer=optimizer, loss=model.loss, metrics=list(metrics))
            if slots is not None:
                optimizer.build(new.trainable_variables)
                assign_all(optimizer.variables, slots)
    return new


def _layer_names(config, names):
    """Collect the names of every layer (input layers included) in a model config."""
    if isinstance(config, dict):
        module = config.get("module") or ""
        inner = config.get("config")
        if module.startswith("keras.layers") or module.startswith("keras.src.models"):
            if isinstance(inner, dict) and isinstance(inner.get("name"), str):
                names.add(inner["name"])
        for value in config.values():
            _layer_names(value, names)
    elif isinstance(config, list):
        for value in config:
            _layer_names(value, names)
    return names


def _canonical_model_config(model):
    """The model's config as JSON, with layer names replaced by placeholders.

    Layer names are auto-generated (``dense_7``) and differ between otherwise
    identical builds; they must not defeat the cache of traced functions.
    """
    # get_config, not serialize_keras_object: the compile config (learning rate...)
    # is not part of the architecture.
    config = {"class_name": type(model).__name__, "config": model.get_config()}
    names = _layer_names(config, {layer.name for layer in model.layers} | {model.name})
    quoted = {json.dumps(name) for name in names}
    placeholders = {}

    def canonical(match):
        token = match.group(0)
        if token not in quoted:
            return token
        return placeholders.setdefault(token, f'"<layer{len(placeholders)}>"')

    return _JSON_STRING.sub(canonical, json.dumps(config, sort_keys=True, default=str))


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def _config_json(obj):
    """The class and complete config of a Keras object, as canonical JSON (a cache key part)."""
    config = keras.saving.serialize_keras_object(obj)
    if isinstance(obj, keras.losses.Loss):
        config["config"] = loss_config(obj)  # with the arguments some losses leave out
    return json.dumps(config, sort_keys=True, default=str)


def model_signature(model, x_spec):
    return (_canonical_model_config(model), x_spec)


def _has_schedule(optimizer):
    """Whether the learning rate is a schedule (traced) rather than a variable (loaded per fit)."""
    return isinstance(optimizer.get_config().get("learning_rate"), dict)


def _optimizer_signature(optimizer):
    config = optimizer.get_config()
    config.pop("name", None)
    if not _has_schedule(optimizer):
        config.pop("learning_rate", None)  # a variable: loaded per fit, not traced
    return type(optimizer).__name__ + json.dumps(config, sort_keys=True, default=str)


def _checkout(cache, key):
    with _CACHE_LOCK:
        return cache.pop(key, None)


def _checkin(cache, key, item):
    with _CACHE_LOCK:
        cache[key] = item
        cache.move_to_end(key)
        while len(cache) > _MAX_CACHED:
            cache.popitem(last=False)


def clear_caches():
    """Forget every cached trainer and predictor (frees their graphs)."""
    with _CACHE_LOCK:
        _TRAINERS.clear()
        _PREDICTORS.clear()


# --------------------------------------------------------------------------- predict


def _chunked(fn, x):
    """``fn`` over ``x`` in chunks of at most ``PREDICT_CHUNK`` rows, as NumPy."""
    if len(x) == 1:
        # A one-row matmul takes a matrix-vector kernel whose rounding differs
        # from the matrix-matrix one; two rows keep predictions independent of
        # how a data set is split into calls.
        return fn(np.repeat(x, 2, axis=0)).numpy()[:1]
    if len(x) <= PREDICT_CHUNK:
        return fn(x).numpy()
    return np.concatenate([fn(x[i : i + PREDICT_CHUNK]).numpy() for i in range(0, len(x), PREDICT_CHUNK)])


class Predictor:
    """A traced ``outputs = f(weights, x)`` shared by every model of one architecture.

    A new fitted model predicts without tracing anything (cross-validation
    folds, grid-search candidates).
    """

    def __init__(self, model, x_spec):
        self.template = model
        weights = [tf.TensorSpec(v.shape, v.dtype) for v in model.trainable_variables]
        others = [tf.TensorSpec(v.shape, v.dtype) for v in model.non_trainable_variables]
        template = self.template

        def forward(trainable, non_trainable, x):
            out, _ = template.stateless_call(trainable, non_trainable, x, training=False)
            return out

        # A closure per predictor: TensorFlow's retracing heuristics count calls
        # per Python function, and each architecture legitimately traces once.
        self._fn = tf.function(
            forward, input_signature=[weights, others, tf.TensorSpec(*x_spec)], autograph=False
        ).get_concrete_function()

    def __call__(self, model, x):
        trainable = [v.value for v in model.trainable_variables]
        others = [v.value for v in model.non_trainable_variables]
        return _chunked(lambda chunk: self._fn(trainable, others, tf.constant(chunk)), x)


def predictor_for(model, x_spec):
    """Return the cached :class:`Predictor` for this architecture and input spec."""
    key = model_signature(model, x_spec)
    with _CACHE_LOCK:
        predictor = _PREDICTORS.get(key)
        if predictor is not None:
            _PREDICTORS.move_to_end(key)
            return predictor
    with _seeded_build():
        predictor = Predictor(clone_architecture(model), x_spec)
    _checkin(_PREDICTORS, key, predictor)
    return predictor


class ServingCache:
    """Per-estimator predict path, never pickled or copied.

    The first calls use the shared :class:`Predictor` of the architecture (no
    tracing). An estimator predicted more than ``SERVE_AFTER`` times is being
    served: it gets its own traced function with the weights captured, which
    skips passing every weight per call (a one-row predict in about a third of
    the time).
    """

    SERVE_AFTER = 2

    def __init__(self):
        self.calls = 0
        self.shared = None
        self.dedicated = None

    def __reduce__(self):
        return (ServingCache, ())

    def __deepcopy__(self, memo):
        return ServingCache()

    def predict(self, model, x, x_spec):
        self.calls += 1
        if self.dedicated is None and self.calls > self.SERVE_AFTER:
            fn = tf.function(lambda batch: model(batch, training=False), input_signature=[tf.TensorSpec(*x_spec)])
            self.dedicated = fn.get_concrete_function()
        if self.dedicated is not None:
            fn = self.dedicated
            return _chunked(lambda chunk: fn(tf.constant(chunk)), x)
        if self.shared is None:
            self.shared = predictor_for(model, x_spec)
        return self.shared(model, x)


# --------------------------------------------------------------------------- train


def _has_batch_hooks(callback):
    base = keras.callbacks.Callback
    return any(
        getattr(type(callback), hook) is not getattr(base, hook)
        for hook in ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end")
    )


def _reset_if(condition, metrics, value):
    """In a graph: reset ``metrics`` when ``condition`` holds; returns ``value`` once that has run."""

    def reset():
        for metric in metrics:
            metric.reset_state()
        return tf.identity(value)

    return tf.cond(condition, reset, lambda: tf.identity(value))


class _Traced:
    """A ``tf.function`` of fixed signature, traced on first use and then called
    through its concrete function: that skips the polymorphic dispatch (argument
    binding, trace lookup), about 0.2 ms per call, which an epoch pays once.
    """

    def __init__(self, fn, signature):
        # autograph=False: the loops are explicit tf.while_loops and Keras layers
        # need no conversion; skipping autograph halves the tracing time.
        self._function = tf.function(fn, input_signature=signature, autograph=False)
        self._concrete = None

    def __call__(self, *args):
        if self._concrete is None:
            self._concrete = self._function.get_concrete_function()
        return self._concrete(*args)


class Trainer:
    """A working model, its optimizer, loss and metrics, and their traced functions.

    Parameters
    ----------
    model : keras.Model
        A model of the target architecture; the trainer builds its own copy.
    optimizer, loss : keras objects (fresh, owned by the trainer)
    metrics : list of keras.metrics.Metric (fresh, owned by the trainer)
    x_spec, y_spec : (shape, dtype) pairs with a ``None`` batch dimension
    """

    def __init__(self, model, optimizer, loss, metrics, x_spec, y_spec):
        self.model = clone_architecture(model)
        self.optimizer = optimizer
        self.loss = loss
        self.model.compile(optimizer=optimizer, loss=loss)
        self.optimizer.build(self.model.trainable_variables)
        # One fused TensorFlow kernel per variable where the update allows it.
        self._fused = fused_update(self.optimizer, self.model.trainable_variables)
        self._apply = self._fused or self.optimizer.apply
        self._optimizer_init = [v.numpy() for v in self.optimizer.variables]
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.metrics = list(metrics)
        self.val_loss_tracker = keras.metrics.Mean(name="val_loss")
        self.val_metrics = [type(m).from_config(m.get_config()) for m in self.metrics]
        data = [
            tf.TensorSpec(*x_spec),
            tf.TensorSpec(*y_spec),
            tf.TensorSpec((None,), tf.float32),
        ]
        scalar = tf.TensorSpec((), tf.int32)
        # Closures, not bound methods: TensorFlow's retracing heuristics count
        # traces per Python function, and each trainer legitimately traces once.
        self._run_steps = _Traced(
            lambda *args: self._steps(*args), data + [tf.TensorSpec((None,), tf.int32), scalar, scalar, scalar]
        )
        self._evaluate = _Traced(lambda *args: self._eval(*args), data + [scalar])

    # -- traced bodies ------------------------------------------------------

    def _total_loss(self, y, pred, sw):
        """The weighted loss plus the layers' regularization losses."""
        loss = self.loss(y, pred, sample_weight=sw)
        if self.model.losses:
            loss = loss + tf.add_n(self.model.losses)
        return loss

    def _step(self, x, y, sw):
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            pred = self.model(x, training=True)
            loss = self._total_loss(y, pred, sw)
            scaled = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, variables)
        self._apply(grads, variables)
        n = tf.shape(x)[0]
        self.loss_tracker.update_state(loss, sample_weight=tf.cast(n, loss.dtype))
        for metric in self.metrics:
            metric.update_state(y, pred)

    def _steps(self, x, y, sw, perm, batch_size, start, stop):
        """Steps ``start`` to ``stop`` of an epoch; returns the epoch's metric results so far.

        The first chunk of an epoch (``start == 0``) resets the metrics in the graph.
        """
        n = tf.shape(perm)[0]
        trackers = [self.loss_tracker] + self.metrics
        start = _reset_if(tf.equal(start, 0), trackers, start)

        def body(i):
            lo = i * batch_size
            idx = perm[lo : tf.minimum(lo + batch_size, n)]
            self._step(tf.gather(x, idx), tf.gather(y, idx), tf.gather(sw, idx))
            return (i + 1,)

        end = tf.while_loop(lambda i: i < stop, body, (start,))[0]
        with tf.control_dependencies([end]):
            return [m.result() for m in trackers]

    def _eval(self, x, y, sw, batch_size):
        """Evaluate on ``(x, y, sw)``; returns the validation metric results."""
        n = tf.shape(x)[0]
        trackers = [self.val_loss_tracker] + self.val_metrics
        for metric in trackers:  # ordered before the loop: both touch the metrics' variables
            metric.reset_state()

        def body(lo):
            hi = tf.minimum(lo + batch_size, n)
            xb, yb, swb = x[lo:hi], y[lo:hi], sw[lo:hi]
            pred = self.model(xb, training=False)
            loss = self._total_loss(yb, pred, swb)
            self.val_loss_tracker.update_state(loss, sample_weight=tf.cast(hi - lo, loss.dtype))
            for metric in self.val_metrics:
                metric.update_state(yb, pred)
            return (hi,)

        end = tf.while_loop(lambda lo: lo < n, body, (tf.constant(0),))[0]
        with tf.control_dependencies([end]):
            return [m.result() for m in trackers]

    # -- state --------------------------------------------------------------

    def load(self, model, optimizer_state=None, learning_rate=None):
        """Load a model's weights and an optimizer state (or a fresh one)."""
        copy_state(model, self.model)
        assign_all(self.optimizer.variables, self._optimizer_init if optimizer_state is None else optimizer_state)
        if self._fused is not None:
            self._fused.reset()
        if learning_rate is not None and optimizer_state is None:
            self.optimizer.learning_rate = learning_rate

    def optimizer_state_of(self, model):
        """The optimizer variables of ``model`` if they can continue this trainer's, else None."""
        optimizer = getattr(model, "optimizer", None)
        if optimizer is None or not optimizer.built or type(optimizer) is not type(self.optimizer):
            return None
        if len(optimizer.variables) != len(self.optimizer.variables):
            return None
        return list(optimizer.variables)

    def save_optimizer_state(self, model):
        """Copy the optimizer state into ``model.optimizer`` (so that it is saved with it)."""
        optimizer = getattr(model, "optimizer", None)
        if optimizer is None or type(optimizer) is not type(self.optimizer):
            return
        if not optimizer.built:
            optimizer.build(model.trainable_variables)
        if len(optimizer.variables) == len(self.optimizer.variables):
            assign_all(optimizer.variables, self.optimizer.variables)

    # -- the loop -----------------------------------------------------------

    def evaluate(self, x, y, sw, batch_size):
        results = self._evaluate(x, y, sw, tf.constant(batch_size, tf.int32))
        return {
            _val_name(m.name): float(value)
            for m, value in zip([self.val_loss_tracker] + self.val_metrics, results)
        }

    def fit(self, data, *, epochs, batch_size, rng, callbacks, verbose, validation=None):
        """Train for up to ``epochs`` epochs.

        Parameters
        ----------
        data : tuple of tensors ``(x, y, sample_weight)``
        rng : numpy.random.RandomState
            Draws each epoch's shuffle.
        callbacks : list of keras.callbacks.Callback
            Fresh callbacks owned by this fit.
        validation : tuple of tensors or None

        Returns
        -------
        history, status : see :func:`run_epochs`
        """
        x, y, sw = data
        n = int(x.shape[0])
        steps = -(-n // batch_size)
        chunk = steps
        if any(_has_batch_hooks(cb) for cb in callbacks):
            chunk = 1
        elif verbose == 1:
            chunk = max(1, steps // 20)
        cb_list = callback_list(callbacks, self.model, verbose, epochs, steps)
        bs = tf.constant(batch_size, tf.int32)

        names = [m.name for m in [self.loss_tracker] + self.metrics]

        def run_epoch(epoch):
            perm = tf.constant(rng.permutation(n).astype("int32"))
            for start in range(0, steps, chunk):
                stop = min(start + chunk, steps)
                if chunk < steps:
                    cb_list.on_train_batch_begin(start)
                results = self._run_steps(x, y, sw, perm, bs, tf.constant(start), tf.constant(stop))
                if chunk < steps:
                    cb_list.on_train_batch_end(stop - 1, {names[0]: float(results[0])})
            logs = {name: float(value) for name, value in zip(names, results)}
            if validation is not None:
                logs.update(self.evaluate(*validation, batch_size=max(batch_size, 1024)))
            return logs

        return run_epochs(run_epoch, cb_list, self.model, epochs)


def _val_name(name):
    """The history key of a validation metric: ``val_`` once."""
    return "val_" + name.removeprefix("val_")


def callback_list(callbacks, model, verbose, epochs, steps):
    """Keras' ``CallbackList`` (with its progress bar for ``verbose`` 1 and 2)."""
    return keras.callbacks.CallbackList(
        callbacks, add_history=False, add_progbar=verbose in (1, 2), model=model, verbose=verbose,
        epochs=epochs, steps=steps,
    )


def run_epochs(run_epoch, cb_list, model, epochs):
    """The epoch loop both engines share: callbacks, history, NaN and interrupt handling.

    ``run_epoch(epoch)`` trains one epoch and returns its logs.

    Returns
    -------
    history : list of dict
        One dict of logs per completed epoch.
    status : None, "nan" or "interrupted"
        "nan": the loss became NaN/inf (its epoch's logs end ``history``);
        "interrupted": a KeyboardInterrupt stopped training.
    """
    model.stop_training = False
    history, logs, status = [], {}, None
    cb_list.on_train_begin()
    try:
        for epoch in range(epochs):
            cb_list.on_epoch_begin(epoch)
            logs = run_epoch(epoch)
            if not np.isfinite(logs["loss"]):
                history.append(logs)
                return history, "nan"
            cb_list.on_epoch_end(epoch, logs)
            history.append(dict(logs))
            if model.stop_training:
                break
    except KeyboardInterrupt:
        status = "interrupted"
    cb_list.on_train_end(logs)
    return history, status


def as_float(X):
    """``X`` as a float32 NumPy array (a copy only when the dtype differs)."""
    return np.asarray(X, dtype="float32")


def as_tensors(X, y, sample_weight):
    """The ``(x, y, sample_weight)`` tensors a :class:`Trainer` consumes."""
    return (
        tf.constant(as_float(X)),
        tf.constant(np.asarray(y, dtype="float32")),
        tf.constant(np.asarray(sample_weight, dtype="float32")),
    )


def _spec_of(tensor):
    return ((None,) + tuple(tensor.shape[1:]), tensor.dtype)


def train(model, data, *, optimizer, loss, metrics, continue_optimizer, epochs, batch_size,
          rng, callbacks, verbose, validation=None, strategy=None):
    """Train ``model`` in place on ``data`` with a cached :class:`Trainer`.

    ``data`` and ``validation`` are ``(X, y, sample_weight)`` NumPy arrays.
    ``optimizer`` (the template of this fit: a trainer builds its own copy),
    ``loss`` and ``metrics`` only shape a new trainer; when a trainer of the
    same signature is cached, they contribute just their learning rate. With
    ``continue_optimizer``, the state saved in ``model.optimizer`` by an
    earlier fit is continued instead of starting the optimizer afresh. The final optimizer state is saved into
    ``model.optimizer`` (a compiled model), so it travels with the model.

    Returns
    -------
    history : list of dict
    status : None, "nan" or "interrupted"
        On "nan", ``model`` is left untouched.
    """
    data = as_tensors(*data)
    validation = None if validation is None else as_tensors(*validation)
    x_spec, y_spec = _spec_of(data[0]), _spec_of(data[1])
    key = (
        model_signature(model, x_spec),
        y_spec,
        _optimizer_signature(optimizer),
        _config_json(loss),
        tuple(_config_json(m) for m in metrics),
    )
    trainer = _checkout(_TRAINERS, key)
    if trainer is None:
        with _seeded_build():
            own = type(optimizer).from_config(optimizer.get_config())
            trainer = Trainer(model, own, loss, metrics, x_spec, y_spec)
    try:
        state = trainer.optimizer_state_of(model) if continue_optimizer else None
        trainer.load(model, state, None if _has_schedule(optimizer) else float(optimizer.learning_rate))
        history, status = trainer.fit(
            data, epochs=epochs, batch_size=batch_size, rng=rng, callbacks=callbacks,
            verbose=verbose, validation=validation,
        )
        if status != "nan":
            copy_state(trainer.model, model)
            trainer.save_optimizer_state(model)
    finally:
        _checkin(_TRAINERS, key, trainer)
    return history, status


def _seeded_build():
    """Cloning a model draws default seeds; keep the user's Python RNG untouched."""
    from ._spec import seeded_python_random

    return seeded_python_random(0)


def train_distributed(model, data, *, optimizer, loss, metrics, continue_optimizer, epochs, batch_size,
                      rng, callbacks, verbose, validation=None, strategy):
    """Train ``model`` (built and compiled under ``strategy.scope()``) on every replica.

    A custom training loop over ``strategy.experimental_distribute_dataset``:
    each global batch of ``batch_size`` rows is split over the replicas (and,
    with ``MultiWorkerMirroredStrategy``, over the workers of ``TF_CONFIG``),
    gradients are all-reduced by the optimizer, and the loss is averaged over
    the global batch. Keras' own ``model.fit`` is not used because it does not
    run under ``MultiWorkerMirroredStrategy`` in Keras 3. Shuffling is seeded
    from ``rng``. ``model`` is trained in place; if the loss becomes NaN, a
    warm-started ``model`` gets its weights and optimizer state back.
    """
    data = as_tensors(*data)
    n = int(data[0].shape[0])
    seed = int(rng.randint(np.iinfo(np.int32).max))
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    dataset = (
        tf.data.Dataset.from_tensor_slices(data)
        .shuffle(n, seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .with_options(options)
    )
    per_example = type(loss).from_config({**loss_config(loss), "reduction": None})
    with strategy.scope():
        if model.optimizer is None:  # a fresh model arrives compiled with this fit's optimizer
            model.compile(optimizer=optimizer, loss=loss)
        optimizer = model.optimizer  # continues its own state on warm starts
        optimizer.build(model.trainable_variables)
        trackers = [keras.metrics.Mean(name="loss")] + list(metrics)
        val_trackers = [keras.metrics.Mean(name="val_loss")] + [type(m).from_config(m.get_config()) for m in metrics]
    distributed = strategy.experimental_distribute_dataset(dataset)

    def replica_step(xb, yb, swb):
        with tf.GradientTape() as tape:
            pred = model(xb, training=True)
            losses = per_example(yb, pred, sample_weight=swb)
            step_loss = tf.nn.compute_average_loss(losses, global_batch_size=batch_size)
            if model.losses:
                step_loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
        grads = tape.gradient(step_loss, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        trackers[0].update_state(losses)
        for metric in trackers[1:]:
            metric.update_state(yb, pred)

    @tf.function
    def train_step(batch):
        strategy.run(replica_step, args=batch)

    @tf.function
    def evaluate(xv, yv, swv):
        pred = model(xv, training=False)
        val_trackers[0].update_state(per_example(yv, pred, sample_weight=swv))
        for metric in val_trackers[1:]:
            metric.update_state(yv, pred)

    validation = None if validation is None else as_tensors(*validation)
    cb_list = callback_list(callbacks, model, verbose, epochs, -(-n // batch_size))
    # Trained in place: keep what a diverging warm-started fit would destroy.
    variables = state_variables(model) + list(optimizer.variables)
    before = [v.numpy() for v in variables] if continue_optimizer else None

    def run_epoch(epoch):
        for tracker in trackers + val_trackers:
            tracker.reset_state()
        for batch in distributed:
            train_step(batch)
        logs = {t.name: float(t.result()) for t in trackers}
        if validation is not None:
            evaluate(*validation)
            logs.update({_val_name(t.name): float(t.result()) for t in val_trackers})
        return logs

    history, status = run_epochs(run_epoch, cb_list, model, epochs)
    if status == "nan" and before is not None:
        assign_all(variables, before)
    return history, status
