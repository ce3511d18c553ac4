"""One process of the multi-worker tests: ``kerasseg train`` (the CLI) with a tiny model registered as
``tiny_mw``, recording the example ids this worker augments.

Environment: ``KERASSEG_IDS`` (a JSON file written at exit: the ids in the order augmented, and whether the
process ran a multi-worker strategy), ``KERASSEG_KILL_AT`` (the process SIGKILLs itself when it starts
augmenting this many-th example, i.e. mid-epoch), ``TF_CONFIG`` as on a cluster. Arguments: the CLI's.

An image's id is its pixel (0, 0) red value, written by the test; the augmenter sees the decoded image.
"""

import atexit
import json
import os
import signal
import sys
import threading

import keras

import kerasseg_cli as cli
from kerasseg.data import pipelines
from kerasseg.facts import PAPERS
from kerasseg.models import registry
from kerasseg.training import strategy as distribute


def tiny(classes=3, input_shape=(None, None, 3), weights=None):
    """Two convolutions, no batch norm: its gradients do not depend on how a batch is split across workers."""
    inputs = keras.Input(input_shape, name="image")
    h = keras.layers.Rescaling(1 / 255.0)(inputs)
    seeded = {"kernel_initializer": keras.initializers.GlorotUniform(seed=1)}  # same start in every run
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1", **seeded)(h)
    outputs = keras.layers.Conv2D(classes, 1, name="classifier", **seeded)(h)
    return keras.Model(inputs, outputs, name="tiny")


ids: list[int] = []
lock = threading.Lock()
kill_at = int(os.environ.get("KERASSEG_KILL_AT", "0"))
augment = pipelines.Augmenter.__call__


def recording_augment(self, image, mask, seed):
    with lock:
        ids.append(int(image[0, 0, 0]))
        if len(ids) == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
    return augment(self, image, mask, seed)


def dump():
    path = os.environ.get("KERASSEG_IDS")
    if path:
        with open(path, "w") as f:
            json.dump({"ids": ids, "multi_worker": distribute._STRATEGY is not None}, f)


if __name__ == "__main__":
    PAPERS["tiny_mw"] = {"reference": "test", "year": 2024, "backbones": ()}
    registry.register("tiny_mw")(tiny)
    pipelines.Augmenter.__call__ = recording_augment
    atexit.register(dump)
    sys.exit(cli.main(sys.argv[1:]))
