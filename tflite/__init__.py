"""Apps around kerasseg's ``.tflite`` exports: a desktop LiteRT runner, a web demo and an Android demo."""
