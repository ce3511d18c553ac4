"""Mutation check: does each family's test suite notice a wrong architecture?

Each mutation replaces one text (it must occur exactly once) in one source file, runs the family's test files
with pytest (stopping at the first failure), reports ``caught`` (a test failed) or ``SURVIVED`` (all passed),
and restores the file. Run from the repository root:

    python tools/mutate.py                 # all mutations
    python tools/mutate.py fcn unet        # those whose name contains one of the words
    python tools/mutate.py --list
    python tools/mutate.py --no-baseline   # skip the first run of the unmutated tests

The chosen tests first run unmutated; the tests that fail then (e.g. an export test without its optional
package) are named and left out of the mutation runs, which would otherwise count every mutation as caught.
A mutation that survives is a detail of the paper that no test guards.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

M = "kerasseg/models/"
B = "kerasseg/backbones/"
L = "kerasseg/layers/"
T = "tests/models/"

FCN = [T + "test_fcn.py"]
SEGNET = [T + "test_segnet.py", "tests/layers/test_pooling.py"]
DILATED = [T + "test_dilated.py"]
DEEPLAB = [T + "test_deeplab.py"]
DEEPLABV3 = [T + "test_deeplabv3.py"]
REFINENET = [T + "test_refinenet.py"]
PSPNET = [T + "test_pspnet.py", "tests/layers/test_pyramid_pooling.py"]
GCN = [T + "test_gcn.py"]
UNET = [T + "test_unet.py"]
XCEPTION = [
    "tests/backbones/test_backbone_equivalence.py::test_dilated_features_have_size_h_over_output_stride[xception]",
    "tests/backbones/test_backbone_equivalence.py::test_output_stride_32_equals_keras_applications[xception]",
    "tests/backbones/test_alignment.py",
    T + "test_deeplabv3.py::test_xception_decoder_inputs_are_h_over_4_and_h_over_16_on_the_same_pixels",
]
ALIGNMENT = [
    T + "test_deeplabv3.py::test_an_impulse_comes_back_on_its_pixel_through_both_decoder_paths",
    T + "test_deeplabv3.py::test_deeplabv3_on_xception_upsamples_onto_the_pixel",
]
RESIZING = ["tests/layers/test_resizing.py"]

# (name, file, text, replacement, test files)
MUTATIONS = [
    # FCN (Long et al. 2015)
    ("fcn: score layers not zero-initialised", M + "fcn.py",
     'name=name, kernel_initializer="zeros")', "name=name)", FCN),
    ("fcn: at-once skip scales swapped", M + "fcn.py",
     '{"pool4": 0.01, "pool3": 0.0001}', '{"pool4": 0.0001, "pool3": 0.01}', FCN),
    ("fcn: final 8x upsampling learned", M + "fcn.py",
     'trainable=False, name="upscore8"', 'trainable=True, name="upscore8"', FCN),
    ("fcn: upsampling kernel 2f-1 instead of 2f", M + "fcn.py",
     "        2 * factor,\n        strides=factor,", "        2 * factor - 1,\n        strides=factor,", FCN),
    # SegNet (Badrinarayanan et al. 2017)
    ("segnet: unpooling puts values at the mirrored index", L + "pooling.py",
     "ops.equal(indices, k)", "ops.equal(indices, 3 - k)", SEGNET),
    ("segnet: decoder unpools with the next block's indices", M + "segnet.py",
     "([x, indices[block - 1]])", "([x, indices[max(block - 2, 0)]])", SEGNET),
    ("segnet: decoder convolutions without batch norm", M + "segnet.py",
     "                x = conv_bn_relu(x, widths[block - 1], name)",
     "                x = keras.layers.Conv2D(widths[block - 1], 3, padding='same', name=name)(x)", SEGNET),
    # Dilated convolutions (Yu & Koltun 2016)
    ("dilated: context dilation 16 -> 8", M + "dilated.py",
     "CONTEXT_DILATIONS = (1, 1, 2, 4, 8, 16, 1)", "CONTEXT_DILATIONS = (1, 1, 2, 4, 8, 8, 1)", DILATED),
    ("dilated: identity initialisation off by one channel group", M + "dilated.py",
     "centre[same_group] = c / c_out", "centre[np.roll(same_group, 1, axis=1)] = c / c_out", DILATED),
    ("dilated: front-end fc6 dilation 4 -> 2", M + "dilated.py",
     "fc6_kernel=7, fc6_dilation=4", "fc6_kernel=7, fc6_dilation=2", DILATED),
    # DeepLab v1/v2 (Chen et al. 2015, 2017)
    ("deeplab v1: fc6 rate 12 -> 6", M + "deeplab.py",
     "fc6_kernel=3, fc6_dilation=12,", "fc6_kernel=3, fc6_dilation=6,", DEEPLAB),
    ("deeplab v2: ASPP-L rates (6, 12, 18, 24) -> (6, 12, 18)", M + "deeplab.py",
     "    atrous_rates=(6, 12, 18, 24),\n    aspp_branch", "    atrous_rates=(6, 12, 18),\n    aspp_branch", DEEPLAB),
    ("deeplab v2: image pyramid fused by mean, not max", M + "deeplab.py",
     'keras.layers.Maximum(name="pyramid_max")', 'keras.layers.Average(name="pyramid_max")', DEEPLAB),
    # DeepLabv3 / v3+ (Chen et al. 2017, 2018)
    ("deeplabv3: no default multi-grid", M + "deeplabv3.py",
     '    output_stride: int = 16,\n    multi_grid=(1, 2, 4),\n    atrous_rates=None,\n    aspp_filters: int = 256,\n'
     "    separable: bool = False,",
     '    output_stride: int = 16,\n    multi_grid=None,\n    atrous_rates=None,\n    aspp_filters: int = 256,\n'
     "    separable: bool = False,", DEEPLABV3),
    ("deeplabv3+: decoder's second 3x3 convolution deleted", M + "deeplabv3.py",
     '    y = conv_bn_relu(y, decoder_filters, 3, separable=separable, name="decoder_conv2")\n', "", DEEPLABV3),
    ("deeplabv3: ASPP rates (6, 12, 18) -> (6, 12, 24)", M + "deeplabv3.py",
     "for r in (6, 12, 18))", "for r in (6, 12, 24))", DEEPLABV3),
    ("deeplabv3: default output stride 16 -> 8", M + "deeplabv3.py",
     '    output_stride: int = 16,\n    multi_grid=(1, 2, 4),\n    atrous_rates=None,\n    aspp_filters: int = 256,\n'
     "    separable: bool = False,",
     '    output_stride: int = 8,\n    multi_grid=(1, 2, 4),\n    atrous_rates=None,\n    aspp_filters: int = 256,\n'
     "    separable: bool = False,", DEEPLABV3),
    ("deeplabv3: ASPP without image pooling", M + "deeplabv3.py",
     "    image_pooling: bool = True,", "    image_pooling: bool = False,", DEEPLABV3),
    ("deeplabv3+: low-level features from stride 8", M + "deeplabv3.py",
     'conv_bn_relu(features["stride4"], low_level_filters', 'conv_bn_relu(features["stride8"], low_level_filters',
     DEEPLABV3),
    ("deeplabv3 cascaded: projection shortcut in every copied block", M + "deeplabv3.py",
     "projection=y.shape[-1] != 4 * block_filters,", "projection=True,", DEEPLABV3),
    # RefineNet (Lin et al. 2017)
    ("refinenet: chained residual pooling depth 2 -> 1", M + "refinenet.py",
     "    crp_blocks: int = 2,\n    **backbone_options,", "    crp_blocks: int = 1,\n    **backbone_options,",
     REFINENET),
    ("refinenet: CRP pools 5x5 -> 3x3", M + "refinenet.py",
     "def chained_residual_pooling(x, blocks: int = 2, pool_size: int = 5,",
     "def chained_residual_pooling(x, blocks: int = 2, pool_size: int = 3,", REFINENET),
    ("refinenet: CRP blocks fed in parallel, not chained", M + "refinenet.py",
     'MaxPooling2D(pool_size, strides=1, padding="same", name=f"{name}_pool{i}")(y)',
     'MaxPooling2D(pool_size, strides=1, padding="same", name=f"{name}_pool{i}")(x)', REFINENET),
    # PSPNet (Zhao et al. 2017)
    ("pspnet: bins (1, 2, 3, 6) -> (1, 2, 3)", M + "pspnet.py",
     "    bins=(1, 2, 3, 6),\n    filters: int = 512,", "    bins=(1, 2, 3),\n    filters: int = 512,", PSPNET),
    ("pspnet: pyramid levels reduced to 1/2 of the channels", L + "pyramid_pooling.py",
     "        filters = self.filters or max(1, channels // len(self.bins))\n        self.pools",
     "        filters = self.filters or max(1, channels // 2)\n        self.pools", PSPNET),
    ("pspnet: auxiliary head on stride-8 features", M + "pspnet.py",
     'features["stride16"]', 'features["stride8"]', PSPNET),
    # GCN (Peng et al. 2017)
    ("gcn: kernel size 15 -> 7", M + "gcn.py",
     "    kernel_size: int = 15,\n    **backbone_options,", "    kernel_size: int = 7,\n    **backbone_options,", GCN),
    ("gcn: both branches k x 1 first", M + "gcn.py",
     'SpatiallySeparableConv2D(order="1xk_kx1"', 'SpatiallySeparableConv2D(order="kx1_1xk"', GCN),
    ("gcn: boundary refinement without the residual", M + "gcn.py",
     'return keras.layers.Add(name=f"{name}_add")([x, y])', 'return y', GCN),
    # U-Net (Ronneberger et al. 2015)
    ("unet: skip cropped at the top-left", M + "unet.py",
     "((dh // 2, dh - dh // 2), (dw // 2, dw - dw // 2))", "((0, dh), (0, dw))", UNET),
    ("unet: default depth 4 -> 3", M + "unet.py",
     "PAPER_DEPTH = 4", "PAPER_DEPTH = 3", UNET),
    ("unet: skip concatenated after the upsampled map", M + "unet.py",
     'Concatenate(name=f"{name}_concat")([skip, x])', 'Add(name=f"{name}_concat")([skip, x])', UNET),
    # Xception (Chollet 2017; DeepLabv3+)
    ("xception: block 14 dilation 1", B + "xception.py",
     "    rate = atrous_rate(32, output_stride)", "    rate = 1", XCEPTION),
    ("xception: middle flow not dilated", B + "xception.py",
     "middle_flow_block(x, dilation=atrous_rate(16, output_stride)", "middle_flow_block(x, dilation=1", XCEPTION),
    ("xception: input padded as unpadded Keras (no alignment)", B + "xception.py",
     "ZeroPadding2D(((3, 4), (3, 4))", "ZeroPadding2D(((0, 1), (0, 1))", XCEPTION),
    ("xception: features cropped at the top-left", B + "xception.py",
     "Cropping2D(((0, 1), (0, 1))", "Cropping2D(((1, 0), (1, 0))", XCEPTION),
    # Alignment of the decoder's and the logits' resizes (DeepLabv3+; kerasseg.layers.ResizeLike grids)
    ("deeplabv3+: Xception's resizes half-pixel again (alignment removed)", M + "deeplabv3.py",
     'aligned_resize = backbone == "xception"', "aligned_resize = False", ALIGNMENT),
    ("deeplabv3+: aligned by default on MobileNetV2 too (the zoo's geometry)", M + "deeplabv3.py",
     'aligned_resize = backbone == "xception"', 'aligned_resize = backbone in ("xception", "mobilenetv2")',
     ALIGNMENT),
    ("mobilenetv2: feature grid top-left instead of bottom-right", "kerasseg/facts.py",
     '"feature_grid": "bottom_right"', '"feature_grid": "top_left"', ["tests/backbones/test_alignment.py", *ALIGNMENT]),
    ("resize: top-left grid read with half-pixel centres", L + "resizing.py",
     "ResizeBilinear(images=x, size=size, align_corners=False, half_pixel_centers=False)",
     "ResizeBilinear(images=x, size=size, align_corners=False, half_pixel_centers=True)", RESIZING),
    ("resize: bottom-right grid not shifted by one", L + "resizing.py",
     "y[:, 1 : 1 + size[0], 1 : 1 + size[1]]", "y[:, : size[0], : size[1]]", RESIZING),
    ("resize: default grid top-left (saved files without the key change)", L + "resizing.py",
     'interpolation: str = "bilinear", grid: str = "half_pixel", **kwargs',
     'interpolation: str = "bilinear", grid: str = "top_left", **kwargs', RESIZING),
]


def pytest(tests, *options) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pytest", "-p", "no:xdist", "-q", "-p", "no:cacheprovider", *options, *tests]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True)


def failing_tests(tests) -> list[str]:
    """The node ids of ``tests`` that fail without any mutation."""
    result = pytest(tests, "-rfE")
    return [line.split()[1] for line in result.stdout.splitlines() if line.startswith(("FAILED ", "ERROR "))]


def run(mutation, deselect=()) -> tuple[str, float]:
    name, path, text, replacement, tests = mutation
    file = ROOT / path
    original = file.read_text()
    if original.count(text) != 1:
        return f"BAD MUTATION (text found {original.count(text)} times)", 0.0
    start = time.time()
    try:
        file.write_text(original.replace(text, replacement))
        result = pytest(tests, "-x", *(f"--deselect={node}" for node in deselect))
    finally:
        file.write_text(original)
    status = {0: "SURVIVED", 1: "caught"}.get(result.returncode, f"error (pytest exit {result.returncode})")
    return status, time.time() - start


def main(argv: list[str]) -> int:
    if "--list" in argv:
        for name, path, *_ in MUTATIONS:
            print(f"{name}  ({path})")
        return 0
    words = [a for a in argv if not a.startswith("--")]
    chosen = [m for m in MUTATIONS if not words or any(word in m[0] for word in words)]
    deselect = []
    if "--no-baseline" not in argv:
        deselect = failing_tests(sorted({t for m in chosen for t in m[4]}))
        for node in deselect:
            print(f"left out (fails unmutated): {node}")
    survived = 0
    print(f"| {'mutation':<62} | result   | seconds |")
    print(f"|{'-' * 64}|----------|---------|")
    for mutation in chosen:
        status, seconds = run(mutation, deselect)
        survived += status != "caught"
        print(f"| {mutation[0]:<62} | {status:<8} | {seconds:7.0f} |", flush=True)
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
