"""Every config of the course offers named sizes one way, and refuses an unknown one the same way; every model
counts its parameters one way."""

from __future__ import annotations

import pytest
import torch

from shikumi.autoencoder import VAE, Autoencoder, AutoencoderConfig
from shikumi.clip import CLIP, CLIPConfig
from shikumi.gpt import GPT, GPTConfig
from shikumi.presets import ParameterCount, UnknownPreset
from shikumi.transformer import Transformer, TransformerConfig
from shikumi.unet import UNet, UNetConfig

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


@pytest.mark.parametrize("model, config", [(Autoencoder, AutoencoderConfig.preset("digits")), (VAE, None),
                                           (CLIP, CLIPConfig.preset("quick")), (GPT, GPTConfig.preset("nano")),
                                           (Transformer, TransformerConfig.preset("tiny")),
                                           (UNet, UNetConfig.preset("tiny"))],
                         ids=lambda x: getattr(x, "__name__", ""))
def test_every_model_counts_its_parameters_one_way(model, config):
    assert model.num_parameters is ParameterCount.num_parameters   # one definition, not one per class
    if config is not None:
        built = model(config)
        assert built.num_parameters() == len(torch.nn.utils.parameters_to_vector(built.parameters()))
