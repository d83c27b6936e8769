"""Execution targets: the Lava Loihi simulator (`loihi_sim`) and GPU/CPU PyTorch (`gpu`)."""
