"""Mobile export: TFLite (builtin ops only) in four quantization modes, ONNX, MediaPipe metadata, parity."""

from kerasseg.export.flatbuffer import tflite_op_list, tflite_ops, tflite_quantization
from kerasseg.export.gpu import gpu_unsupported
from kerasseg.export.metadata import read_label_file, read_labels, segmenter_metadata
from kerasseg.export.onnx import onnx_ops, run_onnx, to_onnx
from kerasseg.export.parity import format_report, parity_report, read_report, write_report
from kerasseg.export.preparation import PreparedModel, native_resolution_model, prepare
from kerasseg.export.runner import run_tflite, tflite_input_size
from kerasseg.export.tflite import QUANTIZATIONS, to_tflite, to_tflite_modes

__all__ = [
    "QUANTIZATIONS", "PreparedModel", "format_report", "gpu_unsupported", "native_resolution_model",
    "onnx_ops", "parity_report", "prepare", "read_label_file", "read_labels", "read_report", "run_onnx",
    "run_tflite", "segmenter_metadata", "tflite_input_size", "tflite_op_list", "tflite_ops",
    "tflite_quantization", "to_onnx", "to_tflite", "to_tflite_modes", "write_report"
]
