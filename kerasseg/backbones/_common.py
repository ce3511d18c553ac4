"""What every backbone family shares: valid output strides and the atrous (dilation) schedule."""

from __future__ import annotations

OUTPUT_STRIDES = (8, 16, 32)
FEATURE_KEYS = ("stride2", "stride4", "stride8", "stride16", "stride32")


def check_output_stride(name: str, output_stride) -> int:
    if output_stride not in OUTPUT_STRIDES:
        raise ValueError(
            f"{name}: output_stride must be one of {', '.join(map(str, OUTPUT_STRIDES))}, got {output_stride!r}"
        )
    return int(output_stride)


def stage_stride(nominal_stride: int, output_stride: int) -> int:
    """Stride of the layer that takes a stage to ``nominal_stride``: 2, or 1 once ``output_stride`` is reached."""
    return 2 if nominal_stride <= output_stride else 1


def atrous_rate(nominal_stride: int, output_stride: int) -> int:
    """Dilation of a convolution that runs at ``nominal_stride`` in the undilated network.

    The atrous algorithm (Chen et al., DeepLab): every stride 2 removed past ``output_stride`` doubles the
    dilation of all later convolutions, so their receptive fields stay those of the pretrained network.
    """
    return max(1, nominal_stride // output_stride)
