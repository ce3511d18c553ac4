import os
import sys
import zlib
from pathlib import Path

import pytest

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
# The library looks in no clone's folders by itself: the test session (and the CLI processes it starts) names the
# checkout's zoo and the project's shared data, unless the caller already chose others.
os.environ.setdefault("KERASSEG_ZOO", str(REPO / "saved_models"))
os.environ.setdefault("KERASSEG_DATA", str(SHARED / "data"))
# Under CI a skip is a failure: CI installs every outside tool (tools/setup-tests.sh) and has ../shared, so a
# skipped test there is a test that silently stopped running.
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
_skipped: list[tuple[str, str]] = []  # (test id, reason)


def _record_skip(report) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _skipped.append((report.nodeid, reason.removeprefix("Skipped: ")))


pytest_runtest_logreport = _record_skip
pytest_collectreport = _record_skip  # module-level skips; pytest-xdist forwards these to the controller too


def pytest_addoption(parser) -> None:
    parser.addoption(
        "--slow", action="store_true", default=False,
        help="run the slow tier too, i.e. every test (README, Contributing); without it tests marked slow are "
        "deselected, unless named by node id",
    )  # fmt: skip


def pytest_report_header(config) -> str:
    if config.getoption("--slow"):
        return "tier: all tests (--slow)"
    return "tier: fast (tests marked slow are deselected; --slow runs every test)"


def _named_on_command_line(config) -> list[str]:
    """The node ids given on the command line (``path::test``), relative to the root directory as node ids are."""
    named = []
    for arg in config.args:
        path, sep, rest = arg.partition("::")
        if sep:
            full = (Path(config.invocation_params.dir) / path).resolve()
            try:
                named.append(f"{full.relative_to(config.rootpath).as_posix()}::{rest}")
            except ValueError:
                continue
    return named


def pytest_collection_modifyitems(config, items) -> None:
    """The fast tier: tests marked ``slow`` are deselected (not skipped: under CI a skip fails the run) unless
    ``--slow`` is given or the test is named by node id."""
    if config.getoption("--slow"):
        return
    named = _named_on_command_line(config)

    def wanted(item) -> bool:
        return item.get_closest_marker("slow") is None or any(
            item.nodeid == n or item.nodeid.startswith((n + "[", n + "::")) for n in named
        )

    deselected = [item for item in items if not wanted(item)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if wanted(item)]


def pytest_terminal_summary(terminalreporter, config) -> None:
    seed = getattr(config.option, "randomly_seed", None)
    if isinstance(seed, int):  # pytest-randomly's header line, which -q hides
        terminalreporter.write_line(f"random order: --randomly-seed={seed} repeats this run")
    if CI and _skipped:
        terminalreporter.section("skipped tests fail the run under CI", red=True)
        for nodeid, reason in _skipped:
            terminalreporter.line(f"SKIPPED {nodeid or '(collection)'}: {reason}", red=True)


def pytest_sessionfinish(session, exitstatus) -> None:
    # On the pytest-xdist controller only (workers carry "workerinput"), which sees every worker's reports.
    if CI and _skipped and exitstatus == pytest.ExitCode.OK and not hasattr(session.config, "workerinput"):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the repository (CI always has it); tests that need it skip on a user's machine."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} (the project's shared data) is not present on this machine")
    return SHARED


def _global_state() -> dict:
    """The process-wide Keras/TensorFlow settings a library call must leave as it found them (issue 27)."""
    import keras
    from tensorflow.python.framework import config as tf_config  # no public getter of op determinism

    return {
        "dtype policy": keras.config.dtype_policy().name,
        "floatx": keras.config.floatx(),
        "image data format": keras.config.image_data_format(),
        "op determinism": tf_config.is_op_determinism_enabled(),
    }


def _test_seed(request) -> int:
    """The seed of one test: pytest-randomly's (a new one each run, printed in the header; ``--randomly-seed=N``
    repeats a run, order included), else 0, plus the test id, as pytest-randomly reseeds ``random``."""
    base = getattr(request.config.option, "randomly_seed", None)
    return ((base if isinstance(base, int) else 0) + zlib.crc32(request.node.nodeid.encode())) % 2**32


@pytest.fixture(autouse=True)
def _fresh_keras_session(request):
    """Every test starts from a fresh Keras session and its own seed, so the weights a test draws do not depend
    on which tests ran before it in its worker; and leaves the global settings as it found them."""
    import keras

    keras.backend.clear_session()
    keras.utils.set_random_seed(_test_seed(request))
    before = _global_state()
    yield
    after = _global_state()
    if after != before:
        from tensorflow.python.framework import config as tf_config

        keras.config.set_dtype_policy(before["dtype policy"])
        keras.config.set_floatx(before["floatx"])
        keras.config.set_image_data_format(before["image data format"])
        (tf_config.enable_op_determinism if before["op determinism"] else tf_config.disable_op_determinism)()
        changed = {k: f"{before[k]} -> {after[k]}" for k in before if before[k] != after[k]}
        pytest.fail(f"the test left global Keras/TensorFlow settings changed (now restored): {changed}")
