"""GPU target (CPU fallback): timed PyTorch inference of trained checkpoints."""
