"""Fused optimizer updates: one TensorFlow kernel per variable.

Keras 3 writes each optimizer's update as a chain of element-wise operations
(``RMSprop``: square, two multiplies, add, assign, add, sqrt, multiply, divide,
assign-sub), and on TensorFlow each link reads and writes the whole variable.
TensorFlow ships fused kernels (``ResourceApplyRMSProp``, ``ResourceApplyAdam``,
``ResourceApplyKerasMomentum``, ``ResourceApplyAdadelta``, ...) for CPU and GPU that do the same update in
one pass (what that saves on the MNIST-shaped model is an info row of
``make bench``).

Only the updates whose formula is *exactly* Keras' are fused; everything the
Keras optimizer adds around ``update_step`` and the kernel would skip is
either reproduced here (learning-rate schedules, the iteration counter,
variable constraints) or sends the step back to ``optimizer.apply``:
gradient clipping, weight decay, EMA, gradient accumulation, loss scaling
(``loss_scale_factor``, and a ``LossScaleOptimizer``, which ``dtype_policy="mixed_float16"``
trains with), missing gradients, non-float32/64 variables (a ``"bfloat16"`` policy's) and
subclasses of the Keras optimizers (they may override ``update_step``).
Sparse (``IndexedSlices``) gradients, which a sparse-input network's first
``Dense`` layer produces, are densified first: Keras' own update gives them
the same dense semantics (every row's moments decay on every step), and one
fused pass over the variable is far cheaper than Keras' chain of operations.

The optimizer's own slot variables (``velocity``, ``momentum``...) are the
kernels' state, so warm starts, pickles and ``model_.optimizer`` see the same
state as with Keras' path. The one extra buffer is the ``mom`` scratch that
``ResourceApplyRMSProp`` needs when RMSprop runs without momentum; it is
overwritten on every step, and :meth:`FusedUpdate.reset` clears it before
each fit so that a NaN from an earlier fit cannot leak into the next.
"""

import keras
import tensorflow as tf

from .._compat import optimizer_slot

_FLOATS = (tf.float32, tf.float64)


def _plain(optimizer):
    """Whether ``optimizer`` does nothing around ``update_step`` that the kernels skip."""
    return (
        optimizer.clipnorm is None
        and optimizer.clipvalue is None
        and optimizer.global_clipnorm is None
        and optimizer.weight_decay is None
        and not optimizer.use_ema
        and not optimizer.gradient_accumulation_steps
        and optimizer.loss_scale_factor is None
    )


class FusedUpdate:
    """``apply(grads, variables)`` with fused kernels, for a built Keras optimizer.

    Use :func:`fused_update` to get one (it returns None for optimizers that
    cannot be fused). Call it inside a ``tf.function`` in place of
    ``optimizer.apply``; a call whose gradients cannot be fused (decided at
    trace time) falls back to ``optimizer.apply``.
    """

    def __init__(self, optimizer, variables):
        self.optimizer = optimizer
        self.variables = list(variables)
        self._scratch = None
        if isinstance(optimizer, keras.optimizers.RMSprop) and optimizer.momentum == 0:
            self._scratch = [
                tf.Variable(tf.zeros(v.shape, v.dtype), trainable=False, name="sknet_rmsprop_scratch")
                for v in self.variables
            ]

    def reset(self):
        """Zero the scratch buffers (call before each fit)."""
        for buffer in self._scratch or ():
            buffer.assign(tf.zeros_like(buffer))

    def _fusable(self, grads, variables):
        return (
            len(grads) == len(self.variables)
            and all(v is w for v, w in zip(variables, self.variables, strict=True))
            and all(isinstance(g, tf.Tensor) for g in grads)
            and all(v.dtype in _FLOATS for v in variables)
            and not any(getattr(v, "overwrite_with_gradient", False) for v in variables)
        )

    def __call__(self, grads, variables):
        # A sparse gradient (the first Dense layer of a sparse-input network) is densified: Keras'
        # own update gives IndexedSlices the same dense semantics (every row's moments decay).
        grads = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in grads]
        variables = list(variables)
        if not self._fusable(grads, variables):
            return self.optimizer.apply(grads, variables)
        optimizer = self.optimizer
        learning_rate = optimizer.learning_rate  # reads the schedule at the current iteration
        updates, per_step = [], {}
        for i, (grad, variable) in enumerate(zip(grads, variables, strict=True)):
            dtype = variable.dtype
            lr = tf.cast(learning_rate, dtype)
            grad = tf.cast(grad, dtype)
            updates.append(self._update(i, variable, grad, lr, dtype, per_step))
        with tf.control_dependencies(updates):
            for variable in variables:
                if variable.constraint is not None:
                    variable.assign(variable.constraint(variable))
            optimizer.iterations.assign_add(1)

    def _update(self, i, variable, grad, lr, dtype, per_step):
        optimizer = self.optimizer
        handle = variable.value.handle

        def const(value):
            return tf.constant(value, dtype)

        def slot(name):
            return optimizer_slot(optimizer, name, variable).value.handle

        if isinstance(optimizer, keras.optimizers.SGD):
            if optimizer.momentum == 0:
                return tf.raw_ops.ResourceApplyGradientDescent(var=handle, alpha=lr, delta=grad)
            return tf.raw_ops.ResourceApplyKerasMomentum(
                var=handle, accum=slot("momentums"), lr=lr, grad=grad,
                momentum=const(optimizer.momentum), use_nesterov=optimizer.nesterov,
            )
        if isinstance(optimizer, keras.optimizers.RMSprop):
            if optimizer.momentum > 0:
                mom = slot("_momentums")
            else:
                mom = self._scratch[i].handle
            common = dict(
                ms=slot("_velocities"), mom=mom, lr=lr, rho=const(optimizer.rho),
                momentum=const(optimizer.momentum), epsilon=const(optimizer.epsilon), grad=grad,
            )
            if optimizer.centered:
                return tf.raw_ops.ResourceApplyCenteredRMSProp(
                    var=handle, mg=slot("_average_gradients"), **common
                )
            return tf.raw_ops.ResourceApplyRMSProp(var=handle, **common)
        if isinstance(optimizer, keras.optimizers.Adadelta):
            # accum = rho accum + (1 - rho) g^2; update = sqrt(accum_update + eps) / sqrt(accum + eps) g;
            # var -= lr update; accum_update = rho accum_update + (1 - rho) update^2: Keras' update_step.
            return tf.raw_ops.ResourceApplyAdadelta(
                var=handle, accum=slot("_accumulated_grads"), accum_update=slot("_accumulated_delta_vars"),
                lr=lr, rho=const(optimizer.rho), epsilon=const(optimizer.epsilon), grad=grad,
            )
        # Adam: the same bias correction as Keras (step = iterations + 1). The
        # step's scalars are computed once per dtype, not once per variable.
        if dtype not in per_step:
            per_step[dtype] = _AdamStep(optimizer, lr, dtype)
        scalars = per_step[dtype]
        common = dict(
            var=handle, m=slot("_momentums"), v=slot("_velocities"), beta1_power=scalars.beta1_power,
            beta2_power=scalars.beta2_power, lr=lr, beta1=const(optimizer.beta_1), beta2=const(optimizer.beta_2),
            epsilon=const(optimizer.epsilon), grad=grad,
        )
        if optimizer.amsgrad:
            return tf.raw_ops.ResourceApplyAdamWithAmsgrad(
                vhat=slot("_velocity_hats"), **common
            )
        if _ELEMENTWISE_ADAM[0] <= variable.shape.num_elements() <= _ELEMENTWISE_ADAM[1]:
            return _adam_elementwise(handle, common["m"], common["v"], grad, scalars)
        return tf.raw_ops.ResourceApplyAdam(**common)


class _AdamStep:
    """The scalars of one Adam step for variables of one dtype, as the kernel computes them."""

    def __init__(self, optimizer, lr, dtype):
        one = tf.constant(1, dtype)
        step = tf.cast(optimizer.iterations + 1, dtype)
        self.dtype = dtype
        self.beta1_power = tf.pow(tf.constant(optimizer.beta_1, dtype), step)
        self.beta2_power = tf.pow(tf.constant(optimizer.beta_2, dtype), step)
        # For the element-wise form (unused ops are pruned from the graph):
        self.alpha = lr * tf.sqrt(one - self.beta2_power) / (one - self.beta1_power)
        self.one_minus_beta1 = one - tf.constant(optimizer.beta_1, dtype)
        self.one_minus_beta2 = one - tf.constant(optimizer.beta_2, dtype)
        self.epsilon = tf.constant(optimizer.epsilon, dtype)


# Variable sizes (elements) whose Adam update runs as element-wise operations.
# TensorFlow's CPU ``ResourceApplyAdam`` shards its loop over the intra-op
# thread pool by a cost estimate that grows with the square of the variable's
# size, so from about a hundred elements on it hands every update to another
# thread, and the hand-off costs more than a small update (measured on the
# 2-core benchmark machine, per step and variable: 60-70 us for 100 to 6,400
# elements against 15-28 us element-wise; about even at 16k elements; the
# kernel three times faster at 400k). Variables of a few dozen elements run
# inline in the kernel, which is then the cheaper (about 10 us against 15).
_ELEMENTWISE_ADAM = (96, 8192)


def _adam_elementwise(var, m, v, grad, step):
    """``ResourceApplyAdam`` written out as element-wise operations, bitwise the same.

    The kernel (TensorFlow's ``ApplyAdamNonCuda``) evaluates exactly these
    expressions, in this order, each correctly rounded: ``alpha = lr *
    sqrt(1 - beta2_power) / (1 - beta1_power)``, ``m += (g - m) * (1 - beta1)``,
    ``v += (g * g - v) * (1 - beta2)``, ``var -= (m * alpha) / (sqrt(v) +
    epsilon)``; so does Keras' own ``Adam.update_step``. The results are
    identical to the kernel's (tests/test_fused.py checks it bit for bit).

    Parameters
    ----------
    var, m, v : resource handles of the variable and its two moments
    grad : tensor
    step : _AdamStep
    """
    m_value = tf.raw_ops.ReadVariableOp(resource=m, dtype=step.dtype)
    v_value = tf.raw_ops.ReadVariableOp(resource=v, dtype=step.dtype)
    m_value = m_value + (grad - m_value) * step.one_minus_beta1
    v_value = v_value + (tf.square(grad) - v_value) * step.one_minus_beta2
    return tf.group(
        tf.raw_ops.AssignVariableOp(resource=m, value=m_value),
        tf.raw_ops.AssignVariableOp(resource=v, value=v_value),
        tf.raw_ops.AssignSubVariableOp(resource=var, value=(m_value * step.alpha) / (tf.sqrt(v_value) + step.epsilon)),
    )


_FUSED_TYPES = (keras.optimizers.SGD, keras.optimizers.RMSprop, keras.optimizers.Adam, keras.optimizers.Adadelta)


def fused_update(optimizer, variables):
    """A :class:`FusedUpdate` for ``optimizer`` (built on ``variables``), or None.

    None when the optimizer is not exactly SGD, RMSprop, Adam or Adadelta (subclasses
    such as a user's own may change ``update_step``), is a
    ``LossScaleOptimizer`` (a ``"mixed_float16"`` fit) or uses a feature the
    kernels do not have (see the module docstring).
    """
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        # Its apply unscales the gradients, skips the step when one is not finite and
        # adjusts the scale: the kernels would apply the scaled gradients.
        return None
    if type(optimizer) not in _FUSED_TYPES or not _plain(optimizer):
        return None
    return FusedUpdate(optimizer, variables)
