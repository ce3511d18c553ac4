"""ImageNet weights for the backbones: Keras' own files, copied by layer name from ``keras.applications``.

The backbones are rebuilt here (so strides can become dilations) with keras.applications' layer names. Their
weights are read by the matching ``keras.applications`` model itself (Keras' order-based HDF5 loading, the
Keras cache ``~/.keras/models`` or ``$KERAS_HOME/models`` for ``"imagenet"``, the published hash checked:
:func:`reference_model`) and copied layer by layer, by name (:func:`copy_weights_by_name`, also the warm start's).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence

import h5py
import keras
import numpy as np

from kerasseg.facts import KERAS_APPLICATIONS_URL, weights_cache_dir
from kerasseg.files import file_hash


def file_digest(path: str, like: str) -> str:
    """The hex digest of ``path`` in the algorithm of the published hash ``like`` (32 digits: MD5, else SHA-256)."""
    return file_hash(path, "md5" if len(like) == 32 else "sha256")


def resolve_weights(backbone: str, weights, file_name: str, url_dir: str, file_hash: str | None = None) -> str:
    """The local path of ``weights``: ``"imagenet"`` (Keras' cache, downloaded if absent) or a file path.

    ``file_hash`` (MD5 or SHA-256, as Keras publishes it) is checked by ``keras.utils.get_file`` for a cached file
    and a download alike; a cached file that does not match is downloaded again.
    """
    if weights == "imagenet":
        cache_dir = os.environ.get("KERAS_HOME")  # None: Keras' own default (~/.keras)
        try:
            return keras.utils.get_file(
                file_name,
                KERAS_APPLICATIONS_URL + url_dir + file_name,
                cache_subdir="models",
                cache_dir=cache_dir,
                file_hash=file_hash,
            )
        except Exception as error:  # no network: say which file to put where
            where = os.path.join(weights_cache_dir(), file_name)
            state = "does not match its published hash" if os.path.isfile(where) else "is not there"
            raise FileNotFoundError(
                f"{backbone}: ImageNet weights file {where} {state} and could not be downloaded "
                f"({error}); copy the file from {KERAS_APPLICATIONS_URL + url_dir + file_name} there "
                f"(`kerasseg weights` lists every file) or pass weights=<path to the file>"
            ) from error
    check_weights(backbone, weights)
    return os.fspath(weights)


def check_weights(owner: str, weights) -> None:
    """``weights`` is ``None``, ``"imagenet"`` or an existing file; a builder checks this before it builds."""
    if weights is None or weights == "imagenet":
        return
    if not isinstance(weights, str | os.PathLike):
        raise ValueError(f"{owner}: weights must be None, 'imagenet' or a file path, got {weights!r}")
    if not os.path.isfile(weights):
        raise FileNotFoundError(f"{owner}: weights file {os.fspath(weights)} does not exist")


def reference_model(
    backbone: str, weights, reference: Callable[[str | None], keras.Model], file_name: str, url_dir: str,
    file_hash: str | None = None,
) -> keras.Model:
    """``reference(path)``: the ``keras.applications`` model of ``backbone`` holding ``weights`` (``"imagenet"``:
    Keras' file ``file_name``, its published ``file_hash`` checked; or a path). Every ImageNet file a kerasseg model
    reads comes through here; a file that does not fit gets a ``ValueError`` naming it and its first wrong layer."""
    return _read_reference(backbone, resolve_weights(backbone, weights, file_name, url_dir, file_hash), reference)


def _read_reference(backbone: str, path: str, reference: Callable[[str | None], keras.Model]) -> keras.Model:
    try:
        return reference(path)
    except (ValueError, OSError, KeyError, TypeError) as error:
        detail = first_mismatch(path, reference(None)) or str(error)
        raise ValueError(f"{backbone}: weights file {path} does not fit this backbone: {detail}") from error


def layer_weights(model: keras.Model) -> dict[str, list[np.ndarray]]:
    """The weights of ``model``'s layers that have any, by layer name (what :func:`copy_weights_by_name` takes)."""
    return {layer.name: layer.get_weights() for layer in model.layers if layer.weights}


def copy_weights_by_name(
    target: keras.Model,
    values: Mapping[str, Sequence[np.ndarray]],
    origin: str,
    *,
    every_layer: bool = False,
) -> None:
    """Sets the layers of ``target`` named in ``values`` (layer name → weight arrays, in the layer's order).

    Every name in ``values`` must be a layer of ``target``; with ``every_layer`` (a warm start) it is the other way
    round: every layer of ``target`` that has weights must be in ``values``, and other values are passed over.
    A missing layer or weights of other shapes are a ``ValueError`` that begins with ``origin`` (where the values
    come from: a file, a parameter) and names the layer; nothing is set then.
    """
    if every_layer:
        missing = [layer.name for layer in target.layers if layer.weights and layer.name not in values]
        if missing:
            raise ValueError(f"{origin}: no weights for layer {missing[0]!r} of {target.name}")
        values = {layer.name: values[layer.name] for layer in target.layers if layer.weights}
    pairs = []
    for name, arrays in values.items():
        try:
            layer = target.get_layer(name)
        except ValueError:
            raise ValueError(f"{origin}: {target.name} has no layer {name!r}") from None
        expected = [tuple(w.shape) for w in layer.weights]
        given = [tuple(np.shape(a)) for a in arrays]
        if expected != given:
            raise ValueError(f"{origin}: layer {name!r} expects weights {expected}, got {given}")
        pairs.append((layer, arrays))
    for layer, arrays in pairs:
        layer.set_weights(arrays)


def load_backbone_weights(
    backbone: str,
    inputs,
    features: dict,
    weights,
    *,
    reference: Callable[[str | None], keras.Model],
    file_name: str,
    url_dir: str,
    file_hash: str | None = None,
    unused: tuple[str, ...] = (),
) -> None:
    """Copies ``weights`` into the layers between ``inputs`` and ``features``.

    ``reference(weights)`` builds the matching ``keras.applications`` model without top; ``unused`` names its
    layers that the backbone leaves out. A file that does not fit it gets a ``ValueError`` that names the file
    and the first layer that does not match.
    """
    if weights is None:
        return
    path = resolve_weights(backbone, weights, file_name, url_dir, file_hash)
    source = _read_reference(backbone, path, reference)
    target = keras.Model(inputs, list(features.values()))
    values = {ours.name: theirs.get_weights() for ours, theirs in _pair_layers(target, source, backbone, unused)}
    copy_weights_by_name(target, values, f"{backbone}: weights file {path}")


def _pair_layers(target: keras.Model, source: keras.Model, backbone: str, unused) -> list:
    """(our layer, keras.applications layer) pairs: by name; unnamed Keras layers in graph order per type."""
    ours = [layer for layer in target.layers if layer.weights]
    theirs = {layer.name: layer for layer in source.layers if layer.weights and layer.name not in unused}
    pairs = [(layer, theirs.pop(layer.name)) for layer in ours if layer.name in theirs]
    paired = {id(layer) for layer, _ in pairs}
    # keras.applications leaves a few layers unnamed (Xception's residual 1x1 convolutions): their
    # generated names change from session to session, so they pair by type in the order of the graph.
    for kind in {type(layer) for layer in ours if id(layer) not in paired}:
        left = [layer for layer in ours if id(layer) not in paired and type(layer) is kind]
        right = [layer for layer in theirs.values() if type(layer) is kind]
        if len(left) != len(right):
            raise ValueError(
                f"{backbone}: layers {[layer.name for layer in left]} have no counterpart in "
                f"keras.applications' {source.name} (unpaired there: {[layer.name for layer in right]})"
            )
        pairs += list(zip(left, right, strict=True))
        for layer in right:
            theirs.pop(layer.name)
    if theirs:
        raise ValueError(f"{backbone}: keras.applications layers {sorted(theirs)} have no counterpart")
    return pairs


def _snake_case(name: str) -> str:
    # How Keras 3 names a layer's group in a ``.weights.h5`` file (its class name in snake case).
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _file_weights(path: str, model: keras.Model) -> list[tuple[str, list[tuple]]] | None:
    """The weight shapes in ``path``, as (file layer name, shapes) in the order Keras would load them."""
    with h5py.File(path, "r") as f:
        group = f["model_weights"] if "model_weights" in f else f
        if "layer_names" in group.attrs:  # legacy HDF5: order-based, one group per layer
            layers = []
            for name in group.attrs["layer_names"]:
                name = name.decode() if isinstance(name, bytes) else str(name)
                weight_names = group[name].attrs.get("weight_names", [])
                if len(weight_names):
                    layers.append((name, [tuple(group[name][w].shape) for w in weight_names]))
            return layers
        if "layers" in f:  # Keras 3 ``.weights.h5``: one group per layer, named by class and order
            layers, used = [], {}
            for layer in model.layers:
                base = _snake_case(type(layer).__name__)
                key = base if base not in used else f"{base}_{used[base]}"
                used[base] = used.get(base, 0) + 1
                if layer.weights:
                    node = f["layers"].get(key)
                    node = node.get("vars") if node is not None else None
                    shapes = [tuple(node[k].shape) for k in sorted(node, key=int)] if node is not None else []
                    layers.append((key, shapes))
            return layers
    return None


def first_mismatch(path: str, model: keras.Model) -> str | None:
    """Names the first layer of ``model`` whose weights in ``path`` are missing or shaped differently."""
    try:
        saved = _file_weights(path, model)
    except (OSError, KeyError) as error:
        return f"it is not a Keras HDF5 weights file ({error})"
    if saved is None:
        return "it holds no Keras layer weights"
    layers = [layer for layer in model.layers if layer.weights]
    for index, layer in enumerate(layers):
        expected = [tuple(w.shape) for w in layer.trainable_weights + layer.non_trainable_weights]
        if index >= len(saved):
            return f"first mismatching layer {layer.name!r}: the file has only {len(saved)} weighted layers"
        name, shapes = saved[index]
        if shapes != expected:
            return (
                f"first mismatching layer {layer.name!r} (weighted layer #{index}, {name!r} in the file) "
                f"expects {expected}, the file has {shapes}"
            )
    if len(saved) > len(layers):
        return f"the file has {len(saved)} weighted layers, {model.name} has {len(layers)}"
    return None
