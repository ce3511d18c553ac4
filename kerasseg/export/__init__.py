"""Mobile export: TFLite (builtin ops only) in four quantization modes, ONNX, MediaPipe metadata, parity."""

from kerasseg.export.tflite import QUANTIZATIONS, run_tflite, tflite_ops, to_tflite

__all__ = ["QUANTIZATIONS", "run_tflite", "tflite_ops", "to_tflite"]
