"""The size of a model: named sizes, `GPTConfig.preset("gpt2")`, `UNetConfig.preset("quick", dropout=0.1)`, and
the count of its parameters, `model.num_parameters()`.

Every config class of the course offers its sizes the same way, through `choose`, and an unknown name is the
same error everywhere, `UnknownPreset`, which names the sizes there are. Every model class (GPT, Transformer,
CLIP, UNet, Autoencoder) counts its parameters the same way, through `ParameterCount`.
"""

from __future__ import annotations

import dataclasses


class UnknownPreset(KeyError, ValueError):
    """A preset name the config does not have (a KeyError and a ValueError, as the course's configs raised
    one or the other before)."""

    def __str__(self) -> str:   # KeyError would print the message in quotes
        return str(self.args[0]) if self.args else ""


class ParameterCount:
    """`model.num_parameters()`, as Hugging Face's models have it; mixed into each model class (an nn.Module)."""

    def num_parameters(self) -> int:
        """How many numbers training adjusts; a matrix two layers share (tied weights) is counted once."""
        return sum(p.numel() for p in self.parameters())


def choose(config_class, presets: dict, name: str, **overrides):
    """presets[name] as a config_class, with any field overridden. presets' values are dicts of fields, or
    config instances."""
    if name not in presets:
        raise UnknownPreset(f"{config_class.__name__} has no preset {name!r}; choose from {', '.join(presets)}")
    base = presets[name]
    if dataclasses.is_dataclass(base) and not isinstance(base, type):
        return dataclasses.replace(base, **overrides)
    return config_class(**{**base, **overrides})
