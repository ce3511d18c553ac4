"""Name → builder registry, used by ``kerasseg.get_model``, ``list_models()`` and the CLI."""

from __future__ import annotations

import functools
import inspect
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field

import keras

from kerasseg.facts import PAPERS


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows about one builder (facts come from the family's metadata dict)."""

    name: str
    builder: Callable[..., keras.Model]
    paper: str
    year: int
    backbones: tuple[str, ...] = ()
    published: dict = field(default_factory=dict)
    # Whether the builder accepts input_shape=(None, None, 3) and returns logits at the input size.
    dynamic: bool = True


_REGISTRY: dict[str, ModelInfo] = {}


def register(name: str, *, dynamic=True):
    """Decorator: ``@register("pspnet")`` above a builder; its paper, year, backbones and published figures are
    ``kerasseg.facts.PAPERS[name]``."""

    def wrap(builder):
        if name in _REGISTRY:
            raise ValueError(f"model name {name!r} is registered twice")
        signature = inspect.signature(builder)

        @functools.wraps(builder)
        def checked(*args, **kwargs):
            try:
                bound = signature.bind_partial(*args, **kwargs)
            except TypeError as error:  # an argument the builder does not take: name the ones it does
                raise TypeError(f"{name}: {error}; its arguments: {', '.join(signature.parameters)}") from None
            # before any layer is built: classes=0 would otherwise surface as Keras' "filters=0"
            classes = bound.arguments.get("classes", signature.parameters["classes"].default)
            if isinstance(classes, bool) or not isinstance(classes, numbers.Integral) or classes < 1:
                raise ValueError(f"{name}: classes must be a positive integer (the class count), got {classes!r}")
            return builder(*args, **kwargs)

        facts = PAPERS[name]
        _REGISTRY[name] = ModelInfo(
            name, checked, facts["reference"], facts["year"], facts["backbones"], facts, dynamic
        )
        return checked

    return wrap


def list_models() -> list[str]:
    """The registered architecture names, sorted."""
    return sorted(_REGISTRY)


def model_info(name: str) -> ModelInfo:
    """The registry entry of ``name``; an unknown name gets an error that lists the valid ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"Unknown model {name!r}; valid models: {', '.join(list_models())}") from None


def get_model(name: str, **kwargs) -> keras.Model:
    """Builds the registered architecture ``name`` with the builder's keyword arguments."""
    return model_info(name).builder(**kwargs)
