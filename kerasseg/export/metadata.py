"""MediaPipe ImageSegmenter metadata for ``.tflite`` exports: input normalization and a label map.

MediaPipe Tasks refuses a float32-input model without ``NormalizationOptions`` metadata. kerasseg models take RGB
pixels in [0, 255] (the backbone's own preprocessing is a layer inside the model), so the normalization is
mean 0, std 1: MediaPipe then feeds the pixels unchanged. int8 exports take uint8 pixels directly.

The metadata is what tflite-support's ImageSegmenter metadata writer and MetadataPopulator write, built with
classes generated from their flatbuffer schemas (:mod:`kerasseg.export.schemas`), so it needs only ``flatbuffers``.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Sequence

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as tflite_fb

from kerasseg.export.flatbuffer import packed
from kerasseg.export.schemas import image_segmenter_metadata_schema_generated as segmenter_fb
from kerasseg.export.schemas import metadata_schema_generated as metadata_fb

LABEL_FILE = "labels.txt"
# The model's metadata entry that MetadataPopulator writes and MediaPipe looks up.
METADATA_NAME = "TFLITE_METADATA"
# What tflite-support's metadata_version.cc computes: the schema version that added the newest member in use.
# SubGraphMetadata.custom_metadata (SEGMENTER_METADATA) came in 1.5.0; everything else used here (image
# properties, normalization, stats, a TENSOR_AXIS_LABELS file without a version field) is in 1.0.0.
MIN_PARSER_VERSION = "1.5.0"


def segmenter_metadata(
    flatbuffer: bytes, labels: Sequence[str], name: str = "kerasseg segmenter", description: str | None = None
) -> bytes:
    """Returns ``flatbuffer`` with ImageSegmenter metadata (mean 0, std 1, RGB) and ``labels`` as its label map.

    Small vectors end up stored once (:func:`~kerasseg.export.flatbuffer.share_vectors`).
    """
    labels = [str(label) for label in labels]
    bad = [label for label in labels if not label or "\n" in label]
    if bad:
        raise ValueError(f"labels must be non-empty single-line names, got {bad!r}")
    description = description or f"Semantic segmentation into {len(labels)} classes, exported by kerasseg."
    metadata = _finished(model_metadata(name, description), b"M001")
    label_file = ("\n".join(labels) + "\n").encode("utf-8")
    return populated(flatbuffer, metadata, {LABEL_FILE: label_file})


def model_metadata(name: str, description: str) -> metadata_fb.ModelMetadataT:
    """The ImageSegmenter metadata: RGB pixels in, normalized by mean 0 std 1; logits out, with a label file."""
    image = metadata_fb.TensorMetadataT(
        name="image",
        description="RGB pixels in [0, 255], the model's full input size (resize the camera frame to it).",
        content=metadata_fb.ContentT(
            contentPropertiesType=metadata_fb.ContentProperties.ImageProperties,
            contentProperties=metadata_fb.ImagePropertiesT(colorSpace=metadata_fb.ColorSpaceType.RGB),
        ),
        processUnits=[
            metadata_fb.ProcessUnitT(
                optionsType=metadata_fb.ProcessUnitOptions.NormalizationOptions,
                options=metadata_fb.NormalizationOptionsT(mean=[0.0], std=[1.0]),
            )
        ],
        stats=metadata_fb.StatsT(min=[0.0], max=[255.0]),  # pixels, normalized by mean 0 std 1: unchanged
    )
    logits = metadata_fb.TensorMetadataT(
        name="logits",
        description="Per-pixel class logits (1, H, W, classes); the category mask is their argmax.",
        content=metadata_fb.ContentT(
            contentPropertiesType=metadata_fb.ContentProperties.ImageProperties,
            contentProperties=metadata_fb.ImagePropertiesT(colorSpace=metadata_fb.ColorSpaceType.GRAYSCALE),
            range=metadata_fb.ValueRangeT(min=1, max=2),  # the mask's dimensions: H and W of (1, H, W, classes)
        ),
        stats=metadata_fb.StatsT(),
        associatedFiles=[
            metadata_fb.AssociatedFileT(
                name=LABEL_FILE,
                description="Labels for categories that the model can recognize.",
                type=metadata_fb.AssociatedFileType.TENSOR_AXIS_LABELS,
            )
        ],
    )
    # MediaPipe reads the output activation from this custom metadata; without it, confidence masks are raw
    # logits instead of probabilities.
    options = segmenter_fb.ImageSegmenterOptionsT(activation=segmenter_fb.Activation.SOFTMAX)
    segmenter = metadata_fb.CustomMetadataT(name="SEGMENTER_METADATA", data=_finished(options, b"V001"))
    subgraph = metadata_fb.SubGraphMetadataT(
        inputTensorMetadata=[image], outputTensorMetadata=[logits], customMetadata=[segmenter]
    )
    return metadata_fb.ModelMetadataT(
        name=name, description=description, subgraphMetadata=[subgraph], minParserVersion=MIN_PARSER_VERSION
    )


def populated(flatbuffer: bytes, metadata: bytes, files: dict[str, bytes]) -> bytes:
    """``flatbuffer`` with ``metadata`` as its "TFLITE_METADATA" and ``files`` appended, as MetadataPopulator does.

    The metadata goes in a model buffer that a ``Model.metadata`` entry of that name points at (replacing an
    earlier one); the files go in a zip archive appended to the flatbuffer, where zip readers look (from the end).
    """
    model = tflite_fb.ModelT.InitFromObj(tflite_fb.Model.GetRootAs(flatbuffer, 0))
    buffer = tflite_fb.BufferT(data=np.frombuffer(metadata, np.uint8))
    entry = next((m for m in model.metadata or [] if m.name.decode() == METADATA_NAME), None)
    if entry is not None:
        model.buffers[entry.buffer] = buffer
    else:
        model.buffers.append(buffer)
        entry = tflite_fb.MetadataT(name=METADATA_NAME, buffer=len(model.buffers) - 1)
        model.metadata = [*(model.metadata or []), entry]
    out = io.BytesIO(packed(model))
    out.seek(0, io.SEEK_END)
    with zipfile.ZipFile(out, "a") as archive:
        for file_name, data in files.items():
            # A fixed time stamp (zip's epoch) instead of the clock's: the same model gives the same bytes.
            entry = zipfile.ZipInfo(file_name, date_time=(1980, 1, 1, 0, 0, 0))
            entry.external_attr = 0o600 << 16  # what writestr gives a file named by a string
            archive.writestr(entry, data)
    return out.getvalue()


def _finished(table, file_identifier: bytes) -> bytes:
    """A root flatbuffer of ``table`` (an object-API ``...T``), tagged with its schema's file identifier."""
    builder = flatbuffers.Builder(0)
    builder.Finish(table.Pack(builder), file_identifier)
    return bytes(builder.Output())


def read_labels(path: str) -> list[str] | None:
    """The label map packed in a ``.tflite`` file's metadata, or None when it has none.

    Associated files are a zip archive appended to the flatbuffer, so this needs no metadata library.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"TFLite model {path} does not exist")
    try:
        with zipfile.ZipFile(path) as archive:
            if LABEL_FILE not in archive.namelist():
                return None
            text = archive.read(LABEL_FILE).decode("utf-8")
    except zipfile.BadZipFile:
        return None
    return [line for line in text.splitlines() if line]


def read_label_file(path: str) -> list[str]:
    """Reads a label file: one class name per line (blank lines skipped)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"label file {path} does not exist")
    with open(path, encoding="utf-8") as f:
        labels = [line.strip() for line in f if line.strip()]
    if not labels:
        raise ValueError(f"label file {path} has no labels (one class name per line)")
    return labels
