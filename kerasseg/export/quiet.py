"""The converters' own output, silenced unless asked for: the TFLite converter and tf2onnx log through absl and
Python logging (deprecation notes, "Ignored output_format") and print native lines to the process's stderr
("fully_quantize: 0, ...", "Estimated count of arithmetic ops", Grappler's session notes)."""

from __future__ import annotations

import contextlib
import logging
import os
import sys

_LOGGERS = ("absl", "tensorflow", "tf2onnx")


@contextlib.contextmanager
def converter_output(verbose: bool = False):
    """Inside the block, unless ``verbose``: those loggers below ERROR are dropped and file descriptor 2 goes to
    /dev/null, while Python's ``sys.stderr`` keeps writing to the real stream (kerasseg's warnings, errors)."""
    if verbose:
        yield
        return
    levels = {name: logging.getLogger(name).level for name in _LOGGERS}
    for name in _LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    sys.stderr.flush()
    saved_fd = os.dup(2)
    python_stderr = sys.stderr
    sys.stderr = os.fdopen(os.dup(saved_fd), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    try:
        yield
    finally:
        sys.stderr.flush()
        sys.stderr.close()
        sys.stderr = python_stderr
        os.dup2(saved_fd, 2)
        os.close(saved_fd)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
