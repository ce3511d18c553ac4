"""The model contract shared by every builder (see DESIGN.md).

Input: RGB in [0, 255], ``(H, W, 3)`` with H and W fixed multiples of the architecture's input multiple, or
``(None, None, 3)`` (padded inside to that multiple and cropped back). Output: ``logits`` (batch, H, W, classes),
float32 even under mixed precision; with an auxiliary head, ``{"logits": ..., "aux": ...}``.
"""

from __future__ import annotations

import keras

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
            fixed = -(-size // multiple) * multiple
            raise ValueError(
                f"{model}: input {axis} {size} is not a multiple of {multiple}; pad or resize it to {fixed} "
                f"(or {size - size % multiple}), or build with input_shape=(None, None, 3) to pad inside"
            )
    return shape


def segmentation_input(input_shape, multiple: int, model: str, name: str = "image"):
    """Returns ``(inputs, x)``: the model input and the tensor the network runs on (padded if sizes are unknown)."""
    shape = check_input_shape(input_shape, multiple, model)
    inputs = keras.Input(shape=shape, name=name)
    if shape[0] is None or shape[1] is None:
        return inputs, PadToMultiple(multiple, name="pad_to_multiple")(inputs)
    return inputs, inputs


# PSPNet's weight of the auxiliary loss (Zhao et al., CVPR 2017, section 3.3 and Table 3); PSPNet's PAPERS
# dict cites it too.
AUX_LOSS_WEIGHT = 0.4


@keras.saving.register_keras_serializable(package="kerasseg")
class SegmentationModel(keras.Model):
    """A functional ``keras.Model`` whose outputs ``{"logits", "aux"}`` all learn from the one mask ``y``.

    ``model.compile(optimizer, loss=...)`` then ``model.fit(images, masks)`` trains a model with an auxiliary
    head as the papers did: the same loss on both outputs, the auxiliary one weighted ``AUX_LOSS_WEIGHT`` unless
    ``loss_weights`` is given. A model with the single ``logits`` output behaves as a plain functional model.
    """

    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, **kwargs):
        if "aux" in self.output_names:
            if loss is not None and not isinstance(loss, dict | list | tuple):
                loss = {"logits": loss, "aux": loss}
            if loss_weights is None:
                loss_weights = {"logits": 1.0, "aux": AUX_LOSS_WEIGHT}
            if metrics is not None and not isinstance(metrics, dict):
                metrics = {"logits": metrics}  # scores are those of the main output
        super().compile(optimizer=optimizer, loss=loss, loss_weights=loss_weights, metrics=metrics, **kwargs)

    def fit(self, x=None, y=None, *args, **kwargs):
        # Keras' default shuffle=True warns for every tf.data input (which shuffles itself): say False for it.
        if not args and "shuffle" not in kwargs and type(x).__module__.startswith("tensorflow"):
            kwargs["shuffle"] = False
        return super().fit(x, y, *args, **kwargs)

    def compile_from_config(self, config):
        # Keras skips the compile config of models that override compile(); this one's is safe to restore.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built and getattr(self, "optimizer", None) is not None:
            self.optimizer.build(self.trainable_variables)

    def _targets(self, y, y_pred):
        if isinstance(y_pred, dict) and y is not None and not isinstance(y, dict):
            return {key: y for key in y_pred}
        return y

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return super().compute_loss(x, self._targets(y, y_pred), y_pred, sample_weight, training=training)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        return super().compute_metrics(x, self._targets(y, y_pred), y_pred, sample_weight)


def segmentation_model(inputs, x, logits, *, name: str, aux=None, grid: str = "half_pixel") -> keras.Model:
    """Resizes ``logits`` (and ``aux``) to the input resolution and wraps them in a ``keras.Model``.

    ``x`` is the tensor returned by :func:`segmentation_input` next to ``inputs``; ``grid`` is the resize's
    (:class:`kerasseg.layers.ResizeLike`): where a cell of ``logits`` sits on the input's pixels.
    """

    def to_input_size(t, out_name):
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
