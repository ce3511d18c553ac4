"""Every registered architecture satisfies the model contract (tests/model_checks.py)."""

import pytest
from model_checks import SMALL, check_model

from kerasseg.models import list_models, model_info


def test_registry_lists_the_foundation_models():
    assert {"deeplabv3plus", "unet"} <= set(list_models())


def test_every_registered_model_has_a_small_test_configuration_and_no_other_does():
    assert set(SMALL) == set(list_models())


def test_unknown_model_name_lists_valid_names():
    with pytest.raises(ValueError, match="deeplabv3plus"):
        model_info("no-such-model")


# The fast tier runs the checker on U-Net, the quickest to check (~10 s); --slow on every architecture.
FAST_TIER = {"unet"}


@pytest.mark.parametrize(
    "name", [n if n in FAST_TIER else pytest.param(n, marks=pytest.mark.slow) for n in list_models()]
)
@pytest.mark.slow
def test_model_contract(name, tmp_path):
    check_model(name, tmp_path)
