"""SASRec (sasrec) and its spiking variant sfsrec."""

from ssr.models.sasrec import sasrec  # noqa: F401  (registers them)
