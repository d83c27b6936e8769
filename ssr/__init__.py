"""SSR: spiking sequential recommenders from training to neuromorphic hardware.

Pipeline (each stage reads only the previous stage's file):
raw log -> prepared dataset (HDF5, `ssr.data`) -> trained checkpoint (`ssr.train`) -> NIR graph
(`ssr.convert`) -> target run (`ssr.targets.loihi_sim`, `ssr.targets.gpu`) -> measurements (JSON)
-> energy report (`ssr.energy`).
"""

__version__ = "0.1.0"
