"""Model registry: importing this package registers every model (one file per model)."""

from ssr.models import caser, fmlp, gru4rec, pop, sasrec, sfmlp, srgnn, ssr, ssr_hybrid, tim4rec  # noqa: F401
from ssr.models.base import MODELS, SequentialRecommender, build_model, register

__all__ = ["MODELS", "SequentialRecommender", "build_model", "register"]
