"""The spiking core: one LIF neuron (one set of semantics) and its surrogate gradients."""
