"""The papers' optimisers: SGD with momentum and the poly learning-rate policy (or Adam), weight decay as the
papers applied it. Used by ``SegmentationModel.compile(optimizer="auto")`` and by ``kerasseg.training``."""

from __future__ import annotations

import keras

OPTIMIZERS = ("sgd", "adam")
# SGD: PSPNet's base rate (Zhao et al., section 5.1); Adam: Kingma & Ba's default.
DEFAULT_LEARNING_RATE = {"sgd": 0.01, "adam": 1e-3}


def poly_learning_rate(learning_rate: float, decay_steps: int, power: float = 0.9):
    """The "poly" policy ``lr * (1 - step / decay_steps) ** power``, 0 at the end.

    Reference: Chen et al., "DeepLab", TPAMI 2017, section 4.1 (power 0.9), used by PSPNet and DeepLabv3.
    """
    return keras.optimizers.schedules.PolynomialDecay(learning_rate, int(decay_steps), 0.0, power=power)


def make_optimizer(
    name: str = "sgd",
    learning_rate: float | None = None,
    *,
    decay_steps: int | None = None,
    momentum: float = 0.9,
    weight_decay: float | None = 1e-4,
    power: float = 0.9,
) -> keras.optimizers.Optimizer:
    """SGD with momentum (the papers') or Adam, with the poly schedule when ``decay_steps`` is known.

    ``weight_decay`` is the papers' L2 coefficient (1e-4 in PSPNet and DeepLabv3 with ResNet, 5e-4 in FCN and
    DeepLab v1/v2 with VGG). The papers' Caffe/PyTorch SGD adds ``wd * w`` to the gradient, so the decay passes
    through the momentum buffer and shrinks weights by ``lr * wd / (1 - momentum)`` per step at steady state;
    Keras' ``weight_decay`` is applied outside the momentum (``w -= lr * wd * w``), so for SGD it is given
    ``weight_decay / (1 - momentum)`` to shrink the weights as the papers did. For Adam the value is used as is:
    decoupled decay, i.e. AdamW (Loshchilov & Hutter, ICLR 2019), since L2 inside Adam is known to be weak.
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"Unknown optimizer {name!r}; valid optimizers: {', '.join(OPTIMIZERS)}")
    rate = DEFAULT_LEARNING_RATE[name] if learning_rate is None else float(learning_rate)
    schedule = poly_learning_rate(rate, decay_steps, power) if decay_steps else rate
    if name == "sgd":
        decay = weight_decay / (1.0 - momentum) if weight_decay else None
        return keras.optimizers.SGD(schedule, momentum=momentum, weight_decay=decay)
    return keras.optimizers.Adam(schedule, weight_decay=weight_decay or None)
