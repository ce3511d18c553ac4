"""Private Keras/TensorFlow code is used in one module, kerasseg/compat.py, which checks the releases it was
written for and fails with a named error outside them; everything else uses public APIs."""

import ast
from pathlib import Path

import pytest
import tensorflow as tf

from kerasseg import compat

REPO = Path(__file__).resolve().parents[1]
PRIVATE_MODULES = ("keras.src", "tensorflow.python", "tensorflow.lite.python", "tf_keras")


def _sources():
    for folder in ("kerasseg", "kerasseg_cli"):
        for path in sorted((REPO / folder).rglob("*.py")):
            if "schemas" not in path.parts:  # flatc output
                yield path


def _private_uses(path: Path) -> list[str]:
    """Imports of private modules, ``x._name`` on anything but self/cls, and getattr/hasattr of "_name"."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            found += [f"import {n}" for n in names if n.startswith(PRIVATE_MODULES)]
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            if ast.unparse(node.value) not in ("self", "cls"):
                found.append(f"{ast.unparse(node)}")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr")
              and len(node.args) > 1 and isinstance(node.args[1], ast.Constant)
              and str(node.args[1].value).startswith("_") and not str(node.args[1].value).startswith("__")):
            found.append(ast.unparse(node))
    return found


@pytest.mark.slow
def test_no_private_api_outside_the_compat_module():
    uses = {path.relative_to(REPO).as_posix(): _private_uses(path) for path in _sources()}
    assert uses.pop("kerasseg/compat.py"), "the scan finds compat.py's own private uses (it can fail)"
    assert {path: found for path, found in uses.items() if found} == {}


(_LOW, _HIGH) = compat.KERAS_RELEASES
OUTSIDE = {"below": f"{_LOW[0]}.{_LOW[1] - 1}.2", "above": f"{_HIGH[0]}.{_HIGH[1] + 1}.0", "major": f"{_HIGH[0] + 1}.0.0"}


@pytest.mark.slow
@pytest.mark.parametrize("version", OUTSIDE.values(), ids=OUTSIDE.keys())
def test_private_keras_code_outside_the_checked_releases_is_a_named_error(monkeypatch, version):
    monkeypatch.setattr(compat.metadata, "version", lambda package: version)
    with pytest.raises(compat.UnsupportedVersionError) as raised:
        compat.fix_multi_worker_fit()
    message = str(raised.value)
    low, high = compat.KERAS_RELEASES
    assert f"multi-worker training relies on private code of keras checked for releases {low[0]}.{low[1]} to " \
           f"{high[0]}.{high[1]}; this is keras {version}" in message
    assert f"pip install 'keras>={low[0]}.{low[1]},<{high[0]}.{high[1] + 1}'" in message
    with pytest.raises(compat.UnsupportedVersionError, match=f"export relies on .* this is tensorflow.* {version}"):
        compat.frozen_graph(None)


def test_both_ends_of_the_checked_releases_pass(monkeypatch):
    for low, high in (compat.KERAS_RELEASES, compat.TENSORFLOW_RELEASES):
        for major, minor in (low, high):
            monkeypatch.setattr(compat.metadata, "version", lambda package, v=f"{major}.{minor}.0rc1": v)
            compat.require("keras", (low, high), "test")


def test_the_installed_releases_are_checked_ones():
    compat.require("keras", compat.KERAS_RELEASES, "this test")
    compat.require(compat._tensorflow_package(), compat.TENSORFLOW_RELEASES, "this test")


def test_op_determinism_is_put_back_as_it_was():
    from tensorflow.python.framework import config  # reading the switch is itself private (see compat.py)

    assert not config.is_op_determinism_enabled()
    with compat.op_determinism():
        assert config.is_op_determinism_enabled()
    assert not config.is_op_determinism_enabled()
    tf.config.experimental.enable_op_determinism()
    try:
        with compat.op_determinism():
            assert config.is_op_determinism_enabled()
        assert config.is_op_determinism_enabled()  # the caller's own setting stays
    finally:
        config.disable_op_determinism()
