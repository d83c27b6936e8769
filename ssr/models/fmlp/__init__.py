"""FMLP-Rec (fmlp) and its spiking variants: sfmlp, ssr (deployable, whole graph on chip) and
ssr-hybrid (the released code), with the deployment modules of the spiking ones."""

from ssr.models.fmlp import fmlp, sfmlp, ssr, ssr_hybrid  # noqa: F401  (registers them)
