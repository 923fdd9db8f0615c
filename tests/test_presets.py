"""Every config of the course offers named sizes one way, and refuses an unknown one the same way."""

from __future__ import annotations

import pytest

from shikumi.autoencoder import AutoencoderConfig
from shikumi.clip import CLIPConfig
from shikumi.gpt import GPTConfig
from shikumi.presets import UnknownPreset
from shikumi.transformer import TransformerConfig
from shikumi.unet import UNetConfig

CONFIGS = [(AutoencoderConfig, "digits"), (CLIPConfig, "quick"), (GPTConfig, "gpt2"), (TransformerConfig, "tiny"),
           (UNetConfig, "tiny")]


@pytest.mark.parametrize("config, name", CONFIGS, ids=lambda x: getattr(x, "__name__", x))
def test_a_preset_with_a_field_overridden(config, name):
    first_field = next(iter(config.__dataclass_fields__))
    default = getattr(config.preset(name), first_field)
    changed = config.preset(name, **{first_field: default})
    assert isinstance(changed, config) and changed == config.preset(name)


@pytest.mark.parametrize("config, name", CONFIGS, ids=lambda x: getattr(x, "__name__", x))
def test_an_unknown_preset_names_the_ones_there_are(config, name):
    with pytest.raises(UnknownPreset) as e:
        config.preset("no-such-size")
    assert f"{config.__name__} has no preset 'no-such-size'" in str(e.value) and name in str(e.value)
    assert isinstance(e.value, KeyError) and isinstance(e.value, ValueError)   # what each config raised before
