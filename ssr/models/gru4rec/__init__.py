"""GRU4Rec (gru4rec) and its spiking variant sgru4rec."""

from ssr.models.gru4rec import gru4rec  # noqa: F401  (registers them)
