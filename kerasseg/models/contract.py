"""The model contract shared by every builder (see DESIGN.md).

Input: RGB in [0, 255], ``(H, W, 3)`` with H and W fixed multiples of the architecture's input multiple, or
``(None, None, 3)`` (padded inside to that multiple and cropped back). Output: ``logits`` (batch, H, W, classes),
float32 even under mixed precision. An auxiliary head is a training-only second output (``SegmentationModel``).
A builder starts with :func:`segmentation_input` and ends with :func:`classifier` and :func:`segmentation_model`.
"""

from __future__ import annotations

import keras

from kerasseg.facts import PAPERS
from kerasseg.layers import CropLike, PadToMultiple, ResizeLike


def check_input_shape(input_shape, multiple: int, model: str) -> tuple:
    """Validates a builder's ``input_shape``; fixed sizes must be multiples of ``multiple``."""
    shape = tuple(input_shape)
    if len(shape) != 3:
        raise ValueError(f"{model}: input_shape must be (height, width, channels), got {shape}")
    if shape[2] != 3:
        raise ValueError(f"{model}: input must be RGB with 3 channels, got {shape[2]} channels")
    for axis, size in zip(("height", "width"), shape[:2], strict=True):
        if size is not None and size % multiple:
            larger, smaller = -(-size // multiple) * multiple, size - size % multiple
            other = f" (or {smaller})" if smaller else ""  # an input smaller than the multiple has no smaller size
            raise ValueError(
                f"{model}: input {axis} {size} is not a multiple of {multiple}; pad or resize it to {larger}{other}, "
                "or build with input_shape=(None, None, 3) to pad inside"
            )
    return shape


def segmentation_input(input_shape, multiple: int, model: str, name: str = "image"):
    """Returns ``(inputs, x)``: the model input and the tensor the network runs on (padded if sizes are unknown)."""
    shape = check_input_shape(input_shape, multiple, model)
    inputs = keras.Input(shape=shape, name=name)
    if shape[0] is None or shape[1] is None:
        return inputs, PadToMultiple(multiple, name="pad_to_multiple")(inputs)
    return inputs, inputs


# PSPNet's weight of the auxiliary loss (Zhao et al., CVPR 2017, section 3.3 and Table 3).
AUX_LOSS_WEIGHT = PAPERS["pspnet"]["aux_loss_weight"]
# Keras losses that expect probabilities unless told from_logits=True: wrong on kerasseg's logits.
_PROBABILITY_LOSSES = ("sparse_categorical_crossentropy", "categorical_crossentropy")


@keras.saving.register_keras_serializable(package="kerasseg")
class SegmentationModel(keras.Model):
    """A functional ``keras.Model``: RGB image → ``logits``, with an optional auxiliary head for training.

    Called at inference (``predict``, ``evaluate``, ``model(x)``) it returns the one ``logits`` array. A model
    built with an auxiliary head (PSPNet's) keeps it as a second output of its graph, ``{"logits", "aux"}``,
    returned only by ``model(x, training=True)``: ``fit`` puts the compiled loss on both outputs, the auxiliary
    one weighted ``aux_weight`` (the paper's 0.4), from the one mask ``y``, and the paper's test-time network
    is the logits path alone (section 3.3). ``kerasseg.models.inference_model`` cuts the graph to it (export).

    ``compile()`` without arguments gives the papers' recipe, as keras-hub's tasks do with ``"auto"``: SGD with
    momentum 0.9, learning rate 0.01 and weight decay 1e-4 (``kerasseg.training.compile_model`` adds the poly
    schedule once the number of steps is known), :class:`kerasseg.losses.SegmentationCrossEntropy` ignoring the
    label 255, and :class:`kerasseg.metrics.MeanIoU` over the model's classes.
    """

    def compile(self, optimizer="auto", loss="auto", loss_weights=None, metrics="auto", *, aux_weight=None,
                **kwargs):
        # Files saved before the single-output contract compiled {"logits": ..., "aux": ...}: read them as such.
        if isinstance(loss, dict):
            loss = loss.get("logits")
        if isinstance(loss_weights, dict):
            aux_weight = loss_weights.get("aux") if aux_weight is None else aux_weight
            loss_weights = None
        if isinstance(metrics, dict):
            metrics = metrics.get("logits")
        self.aux_weight = AUX_LOSS_WEIGHT if aux_weight is None else float(aux_weight)
        loss = _auto_loss() if _is_auto(loss) else _logits_loss(loss)
        self.aux_loss = _aux_loss(loss) if "aux" in self.output_names else None
        super().compile(
            optimizer=_auto_optimizer() if _is_auto(optimizer) else optimizer,
            loss=loss,
            loss_weights=loss_weights,
            metrics=_auto_metrics(self) if _is_auto(metrics) else metrics,
            **kwargs,
        )

    def get_compile_config(self):
        config = super().get_compile_config()
        if config and self.compiled:
            config["aux_weight"] = self.aux_weight
        return config

    def compile_from_config(self, config):
        # Keras skips the compile config of models that override compile(); this one's is safe to restore.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built and getattr(self, "optimizer", None) is not None:
            self.optimizer.build(self.trainable_variables)

    def call(self, inputs, training=None, mask=None, **kwargs):
        outputs = super().call(inputs, training=training, mask=mask, **kwargs)
        return outputs if training else _logits(outputs)

    def compute_output_spec(self, inputs, training=None, mask=None):
        spec = super().compute_output_spec(inputs, training=training, mask=mask)
        return spec if training else _logits(spec)

    def fit(self, x=None, y=None, *args, **kwargs):
        # Keras' default shuffle=True warns for every tf.data input (which shuffles itself): say False for it.
        if not args and "shuffle" not in kwargs and type(x).__module__.startswith("tensorflow"):
            kwargs["shuffle"] = False
        return super().fit(x, y, *args, **kwargs)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        aux = y_pred.get("aux") if isinstance(y_pred, dict) else None
        loss = super().compute_loss(x, y, _logits(y_pred), sample_weight, training=training)
        if aux is None or self.aux_loss is None or not self.aux_weight:
            return loss
        return loss + self.aux_weight * self.aux_loss(y, aux, sample_weight)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        return super().compute_metrics(x, y, _logits(y_pred), sample_weight)


def _logits(outputs):
    return outputs["logits"] if isinstance(outputs, dict) else outputs


def _is_auto(value) -> bool:
    return isinstance(value, str) and value == "auto"


def _auto_optimizer():
    from kerasseg.optimizers import make_optimizer

    return make_optimizer("sgd")


def _auto_loss():
    from kerasseg.losses import SegmentationCrossEntropy

    return SegmentationCrossEntropy()


def _auto_metrics(model: keras.Model) -> list:
    from kerasseg.metrics import MeanIoU

    return [MeanIoU(int(model.get_layer("logits").output.shape[-1]))]


def _logits_loss(loss):
    """The loss, unless it reads ``logits`` as probabilities (Keras' cross-entropies by name, or without
    ``from_logits=True``): that trains silently wrong, so it is an error that says what to use."""
    if isinstance(loss, str) and loss in _PROBABILITY_LOSSES:
        named = loss
    elif isinstance(loss, keras.losses.Loss) and loss.get_config().get("from_logits") is False:
        named = type(loss).__name__
    else:
        return loss
    raise ValueError(
        f"loss {named!r} expects probabilities, and kerasseg models return logits: use "
        "kerasseg.losses.SegmentationCrossEntropy() (it ignores the label 255) or "
        "keras.losses.SparseCategoricalCrossentropy(from_logits=True)"
    )


def _aux_loss(loss):
    """The compiled loss as a ``keras.losses.Loss`` (a name or a function is wrapped), for the auxiliary head."""
    loss = keras.losses.get(loss)
    return loss if loss is None or isinstance(loss, keras.losses.Loss) else keras.losses.LossFunctionWrapper(loss)


def classifier(x, classes: int, kernel_size: int = 1, *, name: str = "classifier", **options):
    """The convolution to ``classes`` scores, 1×1 unless the paper says otherwise ("same" padded then).

    Every builder scores its classes through here; ``name`` is the layer's name, which saved files, warm starts
    and the zoo load by, and ``options`` go to ``keras.layers.Conv2D`` (an initialiser, a dilation).
    """
    padding = {"padding": "same"} if kernel_size > 1 else {}
    return keras.layers.Conv2D(classes, kernel_size, name=name, **{**padding, **options})(x)


def segmentation_model(
    inputs, x, logits, *, name: str, aux=None, grid: str = "half_pixel", at_input_size: bool = True
) -> keras.Model:
    """Resizes ``logits`` (and ``aux``) to the input resolution and wraps them in a :class:`SegmentationModel`.

    ``x`` is the tensor returned by :func:`segmentation_input` next to ``inputs``; ``grid`` is the resize's
    (:class:`kerasseg.layers.ResizeLike`): where a cell of ``logits`` sits on the input's pixels.
    ``at_input_size=False`` keeps ``logits`` at their own size: the one network built so is U-Net with valid
    convolutions, whose output covers the centre of its input tile (572 → 388; overlap-tile inference).
    """

    def to_input_size(t, out_name):
        if at_input_size:
            t = ResizeLike(grid=grid, name=f"{out_name}_resize")([t, x])
            if x is not inputs:
                t = CropLike(name=f"{out_name}_crop")([t, inputs])
        return keras.layers.Activation("linear", dtype="float32", name=out_name)(t)

    outputs = to_input_size(logits, "logits")
    if aux is not None:
        outputs = {"logits": outputs, "aux": to_input_size(aux, "aux")}
    return SegmentationModel(inputs, outputs, name=name)


def inference_model(model: keras.Model) -> keras.Model:
    """Drops an auxiliary head: returns a model with the single ``logits`` output (for export)."""
    outputs = model.outputs
    if len(outputs) == 1:
        return model
    logits = model.get_layer("logits").output
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    return keras.Model(inputs, logits, name=model.name)
