"""Model registry: importing this package registers every model.

Layout rule: each ANN and its spiking variants live in one folder named after the ANN
(`ssr/models/<ann>/`: the models, one file each, and the deployment modules of the spiking ones
beside them); baselines without variants (`pop.py`) and the shared contract (`base.py`) and layers
(`layers.py`) sit at the top.
"""

from ssr.models import caser, fmlp, gru4rec, pop, sasrec, srgnn, tim4rec  # noqa: F401  (each registers its family)
from ssr.models.base import MODELS, SequentialRecommender, build_model, register

__all__ = ["MODELS", "SequentialRecommender", "build_model", "register"]
