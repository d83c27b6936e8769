"""Caser (caser) and its spiking variant scaser."""

from ssr.models.caser import caser  # noqa: F401  (registers them)
