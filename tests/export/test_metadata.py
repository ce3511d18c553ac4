"""The MediaPipe ImageSegmenter metadata in a ``.tflite`` file, read back with the schemas' generated classes."""

from __future__ import annotations

import io
import zipfile

import pytest
from ai_edge_litert import schema_py_generated as tflite_fb
from export_helpers import COLOUR_LABELS

from kerasseg.export import read_labels, segmenter_metadata
from kerasseg.export.schemas import image_segmenter_metadata_schema_generated as segmenter_fb
from kerasseg.export.schemas import metadata_schema_generated as metadata_fb


def metadata_entries(flatbuffer: bytes) -> list[bytes]:
    """The buffers of the model's "TFLITE_METADATA" entries (MediaPipe reads the metadata from there)."""
    model = tflite_fb.Model.GetRootAs(flatbuffer, 0)
    entries = [model.Metadata(i) for i in range(model.MetadataLength())]
    return [model.Buffers(e.Buffer()).DataAsNumpy().tobytes() for e in entries if e.Name() == b"TFLITE_METADATA"]


def model_metadata(path: str) -> metadata_fb.ModelMetadataT:
    with open(path, "rb") as f:
        (buffer,) = metadata_entries(f.read())
    assert metadata_fb.ModelMetadata.ModelMetadataBufferHasIdentifier(buffer, 0)  # "M001"
    return metadata_fb.ModelMetadataT.InitFromObj(metadata_fb.ModelMetadata.GetRootAs(buffer, 0))


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["float32", "int8"])
def test_metadata_says_rgb_pixels_unnormalized_and_softmax_over_labelled_classes(colour_exports, mode):
    metadata = model_metadata(colour_exports[mode])
    # Custom metadata came with metadata schema 1.5.0 ("History" in metadata_schema.fbs); nothing newer is used.
    assert metadata.minParserVersion == b"1.5.0"
    (subgraph,) = metadata.subgraphMetadata
    (image,) = subgraph.inputTensorMetadata
    assert image.content.contentPropertiesType == metadata_fb.ContentProperties.ImageProperties
    assert image.content.contentProperties.colorSpace == metadata_fb.ColorSpaceType.RGB
    (normalization,) = image.processUnits
    assert normalization.optionsType == metadata_fb.ProcessUnitOptions.NormalizationOptions
    assert list(normalization.options.mean) == [0.0] and list(normalization.options.std) == [1.0]
    assert (list(image.stats.min), list(image.stats.max)) == ([0.0], [255.0])

    (logits,) = subgraph.outputTensorMetadata
    (label_file,) = logits.associatedFiles
    assert label_file.name == b"labels.txt"
    assert label_file.type == metadata_fb.AssociatedFileType.TENSOR_AXIS_LABELS
    with zipfile.ZipFile(colour_exports[mode]) as archive:
        assert archive.read("labels.txt").decode().splitlines() == COLOUR_LABELS

    (custom,) = subgraph.customMetadata
    assert custom.name == b"SEGMENTER_METADATA"
    data = custom.data.tobytes()
    assert segmenter_fb.ImageSegmenterOptions.ImageSegmenterOptionsBufferHasIdentifier(data, 0)  # "V001"
    assert segmenter_fb.ImageSegmenterOptions.GetRootAs(data, 0).Activation() == segmenter_fb.Activation.SOFTMAX


def test_metadata_written_again_replaces_the_old(colour_exports):
    with open(colour_exports["float32"], "rb") as f:
        once = f.read()
    twice = segmenter_metadata(once, ["a", "b", "c", "d"], name="relabelled")
    assert len(metadata_entries(twice)) == 1
    with zipfile.ZipFile(io.BytesIO(twice)) as archive:
        assert archive.namelist() == ["labels.txt"]
        assert archive.read("labels.txt") == b"a\nb\nc\nd\n"


@pytest.mark.slow
def test_label_map_travels_in_the_file(colour_exports, tmp_path):
    assert read_labels(colour_exports["int8"]) == COLOUR_LABELS
    plain = tmp_path / "plain.tflite"
    plain.write_bytes(b"TFL3 without metadata")
    assert read_labels(str(plain)) is None


@pytest.mark.slow
def test_labels_must_be_single_line_names(colour_exports):
    with open(colour_exports["float32"], "rb") as f:
        flatbuffer = f.read()
    with pytest.raises(ValueError, match="single-line"):
        segmenter_metadata(flatbuffer, ["sky", "road\nside"])
