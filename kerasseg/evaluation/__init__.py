"""Evaluation: mIoU over a dataset, multi-scale + flip and sliding-window inference, dense CRF, masks/overlays."""

from kerasseg.evaluation.crf import DEEPLAB_CRF, dense_crf, require_densecrf
from kerasseg.evaluation.inference import (
    fixed_input_size,
    load_model,
    model_logits,
    predict_probabilities,
    sliding_window_probabilities,
    window_starts,
)
from kerasseg.evaluation.scoring import evaluate, output_classes
from kerasseg.evaluation.visualize import (
    comparison_figure,
    legend_handles,
    list_images,
    overlay,
    predict_folder,
)

__all__ = [
    "DEEPLAB_CRF",
    "comparison_figure",
    "dense_crf",
    "evaluate",
    "fixed_input_size",
    "legend_handles",
    "list_images",
    "load_model",
    "model_logits",
    "output_classes",
    "overlay",
    "predict_folder",
    "predict_probabilities",
    "require_densecrf",
    "sliding_window_probabilities",
    "window_starts",
]
