"""Training stage: prepared dataset (HDF5) -> trained checkpoint (`RUN_DIR/model.pt`)."""
