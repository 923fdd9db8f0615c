"""Named sizes of a model: `GPTConfig.preset("gpt2")`, `UNetConfig.preset("quick", dropout=0.1)`.

Every config class of the course offers its sizes the same way, through `choose`, and an unknown name is the
same error everywhere, `UnknownPreset`, which names the sizes there are.
"""

from __future__ import annotations

import dataclasses


class UnknownPreset(KeyError, ValueError):
    """A preset name the config does not have (a KeyError and a ValueError, as the course's configs raised
    one or the other before)."""

    def __str__(self) -> str:   # KeyError would print the message in quotes
        return str(self.args[0]) if self.args else ""


def choose(config_class, presets: dict, name: str, **overrides):
    """presets[name] as a config_class, with any field overridden. presets' values are dicts of fields, or
    config instances."""
    if name not in presets:
        raise UnknownPreset(f"{config_class.__name__} has no preset {name!r}; choose from {', '.join(presets)}")
    base = presets[name]
    if dataclasses.is_dataclass(base) and not isinstance(base, type):
        return dataclasses.replace(base, **overrides)
    return config_class(**{**base, **overrides})
