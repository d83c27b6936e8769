"""TiM4Rec (tim4rec), a time-aware ANN baseline without a spiking variant."""

from ssr.models.tim4rec import tim4rec  # noqa: F401  (registers it)
