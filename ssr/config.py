"""Range-checked config dataclasses: every value is checked where the config is built, so the CLI, a
checkpoint, a resumed run and a tuning trial all get the same one-line error.

A config inherits `Checked` and declares its fields' ranges in `ranges` (field name -> Range); a
field without its own entry takes the shared meaning of its name from FIELD_RANGES (`hidden` is
always a width, `dropout` always a probability, ...). Every numeric field must have a range: a test
walks every registered config and fails on one that has none.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Range:
    """low <= value <= high (or < with the open flags); None: unbounded. Floats must be finite."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[Any, ...] | None = None  # for strings: the allowed values
    pattern: str | None = None  # for strings: a regular expression the whole value must match

    def problem(self, value: Any) -> str | None:
        """Why `value` is out of range (a phrase), or None when it is fine."""
        if self.choices is not None:
            return None if value in self.choices else f"one of {', '.join(map(str, self.choices))}"
        if self.pattern is not None:
            return None if isinstance(value, str) and re.fullmatch(self.pattern, value) else f"matching {self.pattern}"
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            return None  # types are checked by config_from_dict; None means "default" where allowed
        if isinstance(value, float) and not math.isfinite(value):
            return f"a finite number{self._bounds()}"
        below = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        above = self.high is not None and (value >= self.high if self.high_open else value > self.high)
        return f"a number{self._bounds()}" if below or above else None

    def _bounds(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        return " " + " and ".join(parts) if parts else ""


def at_least(low: float) -> Range:
    return Range(low=low)


POSITIVE = Range(low=0.0, low_open=True)
COUNT = at_least(1)  # widths, layers, steps, sizes
NON_NEGATIVE = at_least(0)
PROBABILITY = Range(low=0.0, high=1.0, high_open=True)  # dropout: 1 would zero every unit
FRACTION = Range(low=0.0, high=1.0, low_open=True, high_open=True)
ANY = Range()
SURROGATES = ("atan", "sigmoid", "rectangle")

# the shared meaning of a field name, used when a config does not declare its own range
FIELD_RANGES: dict[str, Range] = {
    "hidden": COUNT, "blocks": COUNT, "layers": COUNT, "heads": COUNT, "ffn_multiplier": COUNT,
    "time_steps": COUNT, "steps": COUNT, "window": COUNT, "vertical_filters": COUNT,
    "horizontal_filters": COUNT, "state": COUNT, "conv": COUNT, "expand": COUNT, "head_dim": COUNT,
    "dropout": PROBABILITY, "attention_dropout": PROBABILITY, "time_dropout": PROBABILITY,
    "tau": Range(low=1.0),  # dt = 1: tau < 1 overshoots (h = v + (x - v) / tau), tau = 0 divides by zero
    "v_threshold": POSITIVE, "attention_threshold": POSITIVE,
    "init_std": POSITIVE, "item_init_std": POSITIVE, "item_current_scale": POSITIVE, "norm_eps": POSITIVE,
    "surrogate": Range(choices=SURROGATES),
    "side_info": Range(pattern=r"none|[a-z][a-z0-9_]*(\+[a-z][a-z0-9_]*)*"),  # modalities joined by +
    "fusion": Range(choices=("sum", "concat")),
    "recurrence": Range(choices=("per_step", "once")),  # how often a spiking model's float recurrence runs
    "scoring": Range(choices=("float", "spikes")),  # what a spiking model scores against: its item table or its spikes
}


class Checked:
    """Mixin for frozen config dataclasses: `__post_init__` checks every field against its range and
    then calls `check()` for rules across fields. Errors name the config, the field, the expected
    range and the value."""

    ranges: ClassVar[dict[str, Range]] = {}
    # how users set a field, named in its error: "--" for command-line options (batch_size ->
    # --batch-size), "--model-config " for model configs (time_steps -> --model-config time_steps=...)
    option_prefix: ClassVar[str] = "--model-config "

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            rule = range_of(type(self), field.name)
            problem = rule.problem(value) if rule is not None else None
            if problem:
                raise ValueError(f"{type(self).__name__}.{field.name} must be {problem}, got {value!r} "
                                 f"({self.option(field.name)})")
        self.check()

    def option(self, name: str) -> str:
        """How a user sets field `name`, for error messages."""
        if self.option_prefix.endswith(" "):  # a KEY=VALUE option
            return f"{self.option_prefix}{name}=..."
        return self.option_prefix + name.replace("_", "-")  # a flag of its own

    def check(self) -> None:
        """Rules that involve several fields; raise ValueError naming them."""


@dataclass(frozen=True)
class ModelConfig(Checked):
    """The fields every model's config has: side information (ssr.models.fusion).

    `former_defaults` (a class attribute, not a field): fields a model gained, or whose default
    changed, after checkpoints were written -> the value a saved config without that field means (the
    behaviour of the code that wrote it). read_checkpoint fills them in, so an old checkpoint never
    silently takes today's default."""

    former_defaults: ClassVar[dict[str, Any]] = {}

    side_info: str = "none"  # item feature modalities fused into the item table: none | text | image | text+image
    fusion: str = "sum"  # how: sum (one map per modality, added) | concat (one map over [id; features])


def range_of(config_cls: type, name: str) -> Range | None:
    """The range a config class applies to its field `name` (its own, else the shared one)."""
    own = getattr(config_cls, "ranges", {})
    return own[name] if name in own else FIELD_RANGES.get(name)


def field_names(config_cls: type) -> set[str]:
    """The names of a config dataclass's fields."""
    return {field.name for field in dataclasses.fields(config_cls)}
