"""MediaPipe ImageSegmenter metadata for ``.tflite`` exports: input normalization and a label map.

MediaPipe Tasks refuses a float32-input model without ``NormalizationOptions`` metadata. kerasseg models take RGB
pixels in [0, 255] (the backbone's own preprocessing is a layer inside the model), so the normalization is
mean 0, std 1: MediaPipe then feeds the pixels unchanged. int8 exports take uint8 pixels directly.

The writer is tflite-support's (``pip install --no-deps tflite-support==0.4.4`` and Debian's ``libusb-1.0-0``;
``--no-deps`` because it pins protobuf < 4). Its top-level package imports protobuf messages generated for
protobuf 3 and fails under protobuf 5+, so the writer is imported from ``tensorflow_lite_support`` directly,
which needs only flatbuffers. MediaPipe's own copy of the writer lacks its C++ version helper in the 1.2.x wheels.
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from collections.abc import Sequence

from kerasseg.export.flatbuffer import share_vectors

LABEL_FILE = "labels.txt"
SOFTMAX = 2  # MediaPipe's Activation enum: NONE 0, SIGMOID 1, SOFTMAX 2
INSTALL_HINT = (
    "MediaPipe metadata needs tflite-support's metadata writer: pip install --no-deps tflite-support==0.4.4 "
    "(plus the libusb-1.0-0 system package), or export with metadata=False"
)


def _writer():
    try:
        from tensorflow_lite_support.metadata import metadata_schema_py_generated as schema
        from tensorflow_lite_support.metadata.python.metadata_writers import image_segmenter, metadata_info
    except ImportError as err:
        raise ImportError(f"{INSTALL_HINT} ({err})") from err
    return schema, image_segmenter, metadata_info


def segmenter_metadata(
    flatbuffer: bytes, labels: Sequence[str], name: str = "kerasseg segmenter", description: str | None = None
) -> bytes:
    """Returns ``flatbuffer`` with ImageSegmenter metadata (mean 0, std 1, RGB) and ``labels`` as its label map."""
    labels = [str(label) for label in labels]
    bad = [label for label in labels if not label or "\n" in label]
    if bad:
        raise ValueError(f"labels must be non-empty single-line names, got {bad!r}")
    schema, image_segmenter, metadata_info = _writer()
    with tempfile.TemporaryDirectory() as tmp:
        label_path = os.path.join(tmp, LABEL_FILE)
        with open(label_path, "w", encoding="utf-8") as f:
            f.write("\n".join(labels) + "\n")
        from tensorflow_lite_support.metadata.python.metadata_writers import writer_utils

        input_md = metadata_info.InputImageTensorMd(
            name="image",
            description="RGB pixels in [0, 255], the model's full input size (resize the camera frame to it).",
            norm_mean=[0.0],
            norm_std=[1.0],
            color_space_type=schema.ColorSpaceType.RGB,
            tensor_type=writer_utils.get_input_tensor_types(bytearray(flatbuffer))[0],
        )
        output_md = metadata_info.TensorMd(
            name="logits",
            description="Per-pixel class logits (1, H, W, classes); the category mask is their argmax.",
            associated_files=[metadata_info.LabelFileMd(file_path=label_path)],
        )
        general_md = metadata_info.GeneralMd(
            name=name,
            description=description or f"Semantic segmentation into {len(labels)} classes, exported by kerasseg.",
        )
        writer = image_segmenter.MetadataWriter.create_from_metadata_info(
            bytearray(flatbuffer), general_md=general_md, input_md=input_md, output_md=output_md
        )
        populated = _with_softmax_activation(flatbuffer, bytes(writer.populate()), label_path)
    return _compacted(populated)


def _with_softmax_activation(flatbuffer: bytes, populated: bytes, label_path: str) -> bytes:
    """Adds MediaPipe's ``SEGMENTER_METADATA`` (output activation SOFTMAX) to the subgraph metadata.

    MediaPipe reads the activation from this custom metadata (schema ``image_segmenter_metadata_schema.fbs``:
    table ImageSegmenterOptions {activation: byte; min_parser_version: string}, file identifier "V001");
    without it, confidence masks are raw logits instead of probabilities. tflite-support's writer predates it.
    """
    import flatbuffers
    from tensorflow_lite_support.metadata import metadata_schema_py_generated as schema
    from tensorflow_lite_support.metadata.python import metadata

    buffer = metadata.MetadataDisplayer.with_model_buffer(populated).get_metadata_buffer()
    model_metadata = schema.ModelMetadataT.InitFromObj(schema.ModelMetadata.GetRootAsModelMetadata(buffer, 0))
    options = flatbuffers.Builder(0)
    options.StartObject(2)
    options.PrependInt8Slot(0, SOFTMAX, 0)
    options.Finish(options.EndObject(), b"V001")
    custom = schema.CustomMetadataT()
    custom.name = "SEGMENTER_METADATA"
    custom.data = list(options.Output())
    model_metadata.subgraphMetadata[0].customMetadata = [custom]
    builder = flatbuffers.Builder(0)
    builder.Finish(model_metadata.Pack(builder), metadata.MetadataPopulator.METADATA_FILE_IDENTIFIER)
    populator = metadata.MetadataPopulator.with_model_buffer(bytearray(flatbuffer))
    populator.load_metadata_buffer(builder.Output())
    populator.load_associated_files([label_path])
    populator.populate()
    return bytes(populator.get_model_buffer())


def _compacted(populated: bytes) -> bytes:
    """``populated`` with its small vectors shared again (:func:`share_vectors`), associated files kept.

    The metadata populator re-serializes the model and undoes the converter output's sharing (12% of a
    per-channel int8 MobileNet). Its associated files are a zip archive appended to the flatbuffer, so they are
    read, the flatbuffer is compacted, and the archive is appended again, as the populator itself appends it.
    """
    with zipfile.ZipFile(io.BytesIO(populated)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    out = io.BytesIO(share_vectors(populated))
    out.seek(0, io.SEEK_END)
    with zipfile.ZipFile(out, "a") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


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
