"""Conversion stage: trained spiking checkpoint -> NIR graph and manifest (`ssr-export`)."""
