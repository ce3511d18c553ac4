import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the repository (CI always has it); tests that need it skip on a user's machine."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} (the project's shared data) is not present on this machine")
    return SHARED


@pytest.fixture(autouse=True)
def _fresh_keras_session():
    import keras

    keras.backend.clear_session()
    yield
