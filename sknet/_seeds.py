"""Seeds: how a build gets its randomness from ``random_state`` and nothing else.

Keras draws a default seed from Python's global ``random`` whenever a layer
or an initializer is created without one. sknet avoids that in two ways:

* :func:`with_seeds` gives every seed a layer config leaves to chance an
  explicit value drawn from ``random_state`` before the layers are made, so
  building a layer list, dict or ``Sequential`` spec never touches ``random``
  (and no other thread's use of ``random`` can change it);
* :func:`seeded_python_random` seeds ``random`` under a lock, and restores the
  user's state afterwards, around code sknet does not control: a user's build
  callable, and clones of networks whose layers may not carry seeds.
"""

import random
import threading
from contextlib import contextmanager

_SEED_LOCK = threading.RLock()


@contextmanager
def seeded_python_random(seed):
    """Run the body with Python's global RNG seeded, then restore the user's state.

    Parameters
    ----------
    seed : int or None
        ``None`` leaves the global RNG alone (fresh, unseeded randomness).
    """
    if seed is None:
        yield
        return
    with _SEED_LOCK:
        state = random.getstate()
        random.seed(seed)
        try:
            yield
        finally:
            random.setstate(state)


def with_seeds(config, seeds):
    """``config`` with every ``seed`` it leaves to chance (``None``) drawn from ``seeds``.

    Keras draws such seeds from Python's global ``random`` when a layer or an
    initializer is created; explicit seeds make a build independent of any
    other thread's use of ``random`` (and of the order layers are created in).
    """
    if isinstance(config, dict):
        return {key: int(seeds.randint(1, 2**31 - 1)) if key == "seed" and value is None
                else with_seeds(value, seeds) for key, value in config.items()}
    if isinstance(config, list):
        return [with_seeds(value, seeds) for value in config]
    return config
