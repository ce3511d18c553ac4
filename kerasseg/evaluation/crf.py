"""Fully connected CRF post-processing of softmax probabilities (optional extra ``kerasseg[crf]``).

Reference: Krähenbühl & Koltun, "Efficient Inference in Fully Connected CRFs with Gaussian Edge Potentials",
NIPS 2011; used as DeepLab's post-processing (Chen et al., "DeepLab", TPAMI 2017, section 3.3). The defaults are
the settings DeepLab v2 released for ResNet-101 on PASCAL VOC 2012: 10 mean-field iterations, Gaussian
(smoothness) kernel w2 = 3, sigma_gamma = 1, bilateral (appearance) kernel w1 = 4, sigma_alpha = 67,
sigma_beta = 3.
"""

from __future__ import annotations

import numpy as np

DEEPLAB_CRF = {
    "iterations": 10,
    "pos_w": 3.0,
    "pos_xy_std": 1.0,
    "bi_w": 4.0,
    "bi_xy_std": 67.0,
    "bi_rgb_std": 3.0,
}


def require_densecrf():
    """The ``pydensecrf.densecrf`` module, or an ImportError that says how to install it."""
    try:
        import pydensecrf.densecrf as dcrf
    except ImportError as err:
        raise ImportError(
            "dense CRF post-processing needs pydensecrf2: pip install 'kerasseg[crf]' (pydensecrf2==1.1, built "
            "from source: needs a C++ compiler)"
        ) from err
    return dcrf


def dense_crf(
    image: np.ndarray,
    probabilities: np.ndarray,
    *,
    iterations: int = DEEPLAB_CRF["iterations"],
    pos_w: float = DEEPLAB_CRF["pos_w"],
    pos_xy_std: float = DEEPLAB_CRF["pos_xy_std"],
    bi_w: float = DEEPLAB_CRF["bi_w"],
    bi_xy_std: float = DEEPLAB_CRF["bi_xy_std"],
    bi_rgb_std: float = DEEPLAB_CRF["bi_rgb_std"],
) -> np.ndarray:
    """Refines (H, W, classes) probabilities of an RGB image (H, W, 3) in [0, 255]; returns probabilities.

    The unary potential is ``-log p`` (p clipped at 1e-8); mean-field inference runs ``iterations`` steps.
    """
    dcrf = require_densecrf()
    image = np.asarray(image)
    probabilities = np.asarray(probabilities, np.float32)
    if image.ndim != 3 or image.shape[-1] != 3 or image.shape[:2] != probabilities.shape[:2]:
        raise ValueError(
            f"dense_crf needs an RGB image (H, W, 3) and probabilities (H, W, classes) of the same H, W; got "
            f"{image.shape} and {probabilities.shape}"
        )
    h, w, classes = probabilities.shape
    crf = dcrf.DenseCRF2D(w, h, classes)
    unary = -np.log(np.clip(probabilities, 1e-8, 1.0)).transpose(2, 0, 1).reshape(classes, -1)
    crf.setUnaryEnergy(np.ascontiguousarray(unary, dtype=np.float32))
    crf.addPairwiseGaussian(sxy=pos_xy_std, compat=pos_w)
    rgb = np.ascontiguousarray(np.clip(np.rint(image), 0, 255).astype(np.uint8))
    crf.addPairwiseBilateral(sxy=bi_xy_std, srgb=bi_rgb_std, rgbim=rgb, compat=bi_w)
    q = np.asarray(crf.inference(int(iterations)), np.float32)
    return q.reshape(classes, h, w).transpose(1, 2, 0)
