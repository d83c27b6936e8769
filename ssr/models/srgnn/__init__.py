"""SR-GNN (srgnn) and its spiking variant srsgnn."""

from ssr.models.srgnn import srgnn  # noqa: F401  (registers them)
