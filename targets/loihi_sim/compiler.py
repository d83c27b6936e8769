"""NIR graph -> Lava processes for the Loihi 2 CPU simulator.

Every NIR node we export maps onto a Lava process, one handler per NIR type (`LAVA_MAPPINGS`):

| NIR | Lava |
| --- | --- |
| `Input` | `RingBuffer` source (the host's input, one column per time step) |
| `Affine`, `Linear`, `Conv1d` into a `LIF` | `Sparse` (or `DelaySparse`, see below) on the flattened (C-order) vectors; zero weights are no synapses; the bias becomes the LIF's `bias_mant` |
| `LIF` | `CountingLIF` (lava's `LIFReset` + spike counts), with `ssr.spiking.lif.to_lava`: du = 1, dv = 1/tau, vth, every weight and bias into it x 1/tau |
| `Affine`/`Linear`/`Conv1d` -> `I` | `IntegratingSparse` (synapses into an integrator; it records the scores) |
| `Output` after an `I` | read from the `IntegratingSparse`'s record |

Timing. A Lava synapse emits on the step after it receives (lava's `Sparse` buffers one step). So a
neuron `lag` synapses away from the input handles the model's time step t at Lava step t + 1 + lag,
and where two paths of different length meet (a residual), the shorter one gets a `DelaySparse`
with the missing steps. Sequences stream back to back, T steps each: every neuron and integrator
resets its state at the first step of each sequence's window at its own lag (`reset_interval` = T,
`reset_offset` = its lag), so one compile serves any number of sequences.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from ssr.convert.primitives import PRIMITIVES, Blocks, node_shape, primitive
from ssr.spiking.fixed_point import grid_exponent, grid_mantissas, power_of_two_at_most, readout_scale
from ssr.spiking.lif import LIFParams, to_lava

SYNAPSES = tuple(name for name, p in PRIMITIVES.items() if p.matrix is not None)  # wired as Lava synapses


def _flat_shape(node) -> tuple[int, int]:
    """(flattened input size, flattened output size) of a node."""
    return int(np.prod(node_shape(node, "input_type"))), int(np.prod(node_shape(node)))


def synapse_matrix(node) -> tuple[sparse.csr_matrix, np.ndarray]:
    """A synapse node as (weights (out, in) on C-order flattened vectors, bias (out,)): its primitive's."""
    return primitive(node).matrix(node)


def synapse_blocks(node) -> Blocks | None:
    """A synapse node's repeated dense block, where its primitive has one (the process models'
    fast product; the weights stay `synapse_matrix`'s)."""
    blocks = primitive(node).blocks
    return None if blocks is None else blocks(node)


@dataclass
class Synapse:
    name: str
    source: str  # an Input or LIF node
    target: str  # a LIF or I node
    weights: sparse.csr_matrix  # (target size, source size), already x input_scale of a LIF target
    delay: int = 0  # extra steps beyond the one every synapse has
    blocks: Blocks | None = None  # the weights' repeated dense block, per sequence (a hint; checked when used)


@dataclass
class Plan:
    """What the compiler builds, before any Lava object exists (tests read it)."""

    time_steps: int
    inputs: dict[str, int] = field(default_factory=dict)  # Input node -> size
    lifs: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> size, lag, bias, params
    synapses: list[Synapse] = field(default_factory=list)
    integrators: dict[str, dict[str, Any]] = field(default_factory=dict)  # I node -> synapse, lag, output
    lags: dict[str, int] = field(default_factory=dict)
    spike_outputs: dict[str, str] = field(default_factory=dict)  # Output node -> the LIF node it reads
    step_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)  # Output node <- a synapse, per step

    def synaptic_ops(self, events: dict[str, np.ndarray]) -> dict[str, float]:
        """The one count of synaptic operations: per synapse node, sum over its source's neurons of
        events (spikes, or non-zero inputs of an Input node; (size,) totals) x fan-out (the non-zero
        weights leaving that neuron). Covers synapses into LIF layers, into integrators and into
        per-step outputs; a host current injected straight into a neuron (an identity synapse named
        'a->b') is not a synaptic operation."""
        ops: dict[str, float] = {}
        for synapse in self.synapses:
            if "->" not in synapse.name:
                ops[synapse.name] = _events_x_fan_out(events[synapse.source], synapse.weights)
        for integrator in self.integrators.values():
            ops[integrator["synapse"]] = _events_x_fan_out(events[integrator["source"]], integrator["weights"])
        for output in self.step_outputs.values():
            ops[output["synapse"]] = _events_x_fan_out(events[output["source"]], output["weights"])
        return ops


def _events_x_fan_out(events: np.ndarray, weights) -> float:
    """events (neurons,) . fan-out (non-zero weights leaving each neuron of a (targets, neurons) matrix)."""
    return float(np.asarray(events, dtype=np.float64) @ np.diff(sparse.csc_matrix(weights).indptr))


@dataclass
class _Layout:
    """What the per-primitive mappings share while `plan_graph` walks the graph in topological order."""

    graph: Any
    plan: Plan
    kinds: dict[str, str]  # node -> NIR type name
    incoming: dict[str, list[str]]  # node -> the nodes with an edge into it

    def spiking_source(self, synapse: str) -> str:
        """The one Input or LIF node feeding a synapse node."""
        sources = self.incoming[synapse]
        if len(sources) != 1 or self.kinds[sources[0]] not in ("Input", "LIF"):
            raise ValueError(f"synapse node {synapse} must take exactly one Input or LIF node as input "
                             f"(has {', '.join(sources) or 'none'})")
        return sources[0]


def _map_input(layout: _Layout, name: str) -> None:
    """`Input` -> a RingBuffer source the host fills, one column per step (lag 0)."""
    layout.plan.inputs[name] = _flat_shape(layout.graph.nodes[name])[1]
    layout.plan.lags[name] = 0


def _map_lif(layout: _Layout, name: str) -> None:
    """`LIF` -> CountingLIF (lava's LIFReset + spike counts) with ssr.spiking.lif.to_lava's parameters;
    every synapse node into it becomes a Sparse (DelaySparse where its path is shorter) x 1/tau, its
    bias the LIF's bias; a direct Input/LIF edge is an identity synapse; an integrator `I` feeds it."""
    plan, kinds, node = layout.plan, layout.kinds, layout.graph.nodes[name]
    tau, r, v_leak = (np.unique(np.asarray(getattr(node, k))) for k in ("tau", "r", "v_leak"))
    v_th, v_reset = np.unique(np.asarray(node.v_threshold)), np.unique(np.asarray(node.v_reset))
    if any(len(v) != 1 for v in (tau, v_leak, r, v_th, v_reset)) or v_leak[0] != 0 or r[0] != 1:
        raise ValueError(f"LIF node {name}: Lava's LIF needs one tau, threshold and reset per layer, "
                         "r = 1 and v_leak = 0")
    lava = to_lava(LIFParams(tau=float(tau[0]), v_threshold=1.0, v_reset=float(v_reset[0])))
    lava["vth"] = float(v_th[0])  # the file's threshold, as it is
    size = int(np.prod(node.tau.shape))
    bias = np.zeros(size)
    lag = 0
    pending = []
    for source in layout.incoming[name]:
        source_kind = kinds[source]
        if source_kind in SYNAPSES:
            origin = layout.spiking_source(source)
            weights, synapse_bias = synapse_matrix(layout.graph.nodes[source])
            bias += synapse_bias * lava["input_scale"]
            pending.append(Synapse(source, origin, name, weights * lava["input_scale"],
                                   blocks=synapse_blocks(layout.graph.nodes[source])))
            lag = max(lag, plan.lags[origin] + 1)
        elif source_kind == "I":
            integrator = plan.integrators[source]
            integrator["weights"] = integrator["weights"] * lava["input_scale"]
            integrator["bias"] = integrator["bias"] * lava["input_scale"]
            integrator["target"] = name
            lag = max(lag, plan.lags[source])
        elif source_kind in ("Input", "LIF"):  # a direct edge: an identity synapse
            pending.append(Synapse(f"{source}->{name}", source, name,
                                   sparse.identity(size, format="csr") * lava["input_scale"],
                                   blocks=Blocks(1, 1, 1, size)))
            lag = max(lag, plan.lags[source] + 1)
        else:
            raise ValueError(f"LIF node {name} takes input from {source} ({source_kind}); "
                             "the Lava compiler connects LIFs to synapse, I, Input or LIF nodes only")
    for synapse in pending:
        synapse.delay = lag - plan.lags[synapse.source] - 1
    for source in layout.incoming[name]:
        if kinds[source] == "I" and plan.lags[source] != lag:
            raise ValueError(f"integrator {source} reaches LIF node {name} on a shorter path than its "
                             "other inputs; the compiler cannot delay integrator outputs")
    plan.synapses += pending
    plan.lifs[name] = {"size": size, "lag": lag, "bias": bias, **lava}
    plan.lags[name] = lag


def _map_integrator(layout: _Layout, name: str) -> None:
    """`I` (fed by one synapse node) -> IntegratingSparse: the synapses and the integrator in one
    process, r folded into the weights; it feeds a LIF or records a readout."""
    plan, incoming = layout.plan, layout.incoming
    if len(incoming[name]) != 1 or layout.kinds[incoming[name][0]] not in SYNAPSES:
        raise ValueError(f"integrator node {name} must take exactly one Affine/Linear/Conv1d node as input")
    synapse = incoming[name][0]
    origin = layout.spiking_source(synapse)
    weights, bias = synapse_matrix(layout.graph.nodes[synapse])
    r = np.asarray(layout.graph.nodes[name].r, dtype=np.float64).ravel()
    plan.integrators[name] = {"synapse": synapse, "source": origin, "weights": sparse.diags(r) @ weights,
                              "bias": bias * r, "input_lag": plan.lags[origin], "target": None,
                              "blocks": synapse_blocks(layout.graph.nodes[synapse])}
    plan.lags[name] = plan.lags[origin] + 1


def _map_output(layout: _Layout, name: str) -> None:
    """`Output` -> read back by the host: an integrator's record at each sequence's last step, a LIF's
    spikes every step, or a synapse node's output every step."""
    plan, kinds, sources = layout.plan, layout.kinds, layout.incoming[name]
    source_kind = kinds[sources[0]] if len(sources) == 1 else None
    if source_kind == "I":  # a readout integrator: its value at each sequence's last step
        plan.integrators[sources[0]]["target"] = name
        plan.lags[name] = plan.lags[sources[0]]
    elif source_kind == "LIF":  # spikes handed to the host, every step
        plan.spike_outputs[name] = sources[0]
        plan.lags[name] = plan.lags[sources[0]]
    elif source_kind in SYNAPSES:  # a synapse's output handed to the host, every step
        origin = layout.spiking_source(sources[0])
        weights, bias = synapse_matrix(layout.graph.nodes[sources[0]])
        plan.step_outputs[name] = {"synapse": sources[0], "source": origin, "weights": weights,
                                   "bias": bias, "input_lag": plan.lags[origin],
                                   "blocks": synapse_blocks(layout.graph.nodes[sources[0]])}
        plan.lags[name] = plan.lags[origin] + 1
    else:
        raise ValueError(f"output node {name} must be fed by one I, LIF or synapse node")


def _map_synapse(layout: _Layout, name: str) -> None:
    """Synapse primitives (those with a `matrix`) are wired by the node they feed (LIF, I or Output)."""


# the Lava mapping of each primitive, by NIR type: one handler each (ssr.convert.primitives owns
# their step semantics and synapse matrices); adding a primitive to Lava is one entry here
LAVA_MAPPINGS = {"Input": _map_input, "Output": _map_output, "LIF": _map_lif, "I": _map_integrator,
                 **{name: _map_synapse for name in SYNAPSES}}


def plan_graph(graph, time_steps: int) -> Plan:
    """Check that `graph` has the shape our compiler handles and lay it out (weights, lags, delays):
    every node, in topological order, through its primitive's entry in LAVA_MAPPINGS."""
    unsupported = sorted({f"{name} ({type(node).__name__})" for name, node in graph.nodes.items()
                          if type(node).__name__ not in LAVA_MAPPINGS})
    if unsupported:
        raise ValueError(f"cannot compile NIR node(s) {', '.join(unsupported)} to Lava "
                         f"(supported: {', '.join(LAVA_MAPPINGS)})")
    layout = _Layout(graph, Plan(time_steps=time_steps), {name: type(node).__name__ for name, node in graph.nodes.items()},
                     {name: [s for s, t in graph.edges if t == name] for name in graph.nodes})
    for name in _topological(graph):
        LAVA_MAPPINGS[layout.kinds[name]](layout, name)
    return layout.plan


def repeat_on_diagonal(matrix, copies: int) -> sparse.csr_matrix:
    """copies x `matrix` on the diagonal, each row's entries in the original's order (the order a
    row's products are added in: float sums must not change); copy b's entries follow copy b - 1's
    (the layout lava_processes.models.dense_blocks checks)."""
    matrix = sparse.csr_matrix(matrix)
    rows, cols = matrix.shape
    indptr = np.concatenate([[0], (matrix.indptr[1:][None, :] + matrix.nnz * np.arange(copies)[:, None]).ravel()])
    indices = (matrix.indices[None, :] + cols * np.arange(copies)[:, None]).ravel()
    return sparse.csr_matrix((np.tile(matrix.data, copies), indices, indptr), shape=(rows * copies, cols * copies))


def batch_plan(plan: Plan, copies: int) -> Plan:
    """The plan for `copies` sequences at once: every population `copies` times side by side (copy b
    of a neuron at index b * size + i) and every synapse block-diagonal (copy b reaches copy b only),
    so one Lava step advances `copies` sequences and the per-step cost of the simulator's process
    synchronisation is shared. Lags, delays, resets and parameters are the unbatched plan's."""
    if copies == 1:
        return plan

    batched = Plan(time_steps=plan.time_steps, lags=dict(plan.lags), spike_outputs=dict(plan.spike_outputs),
                   inputs={name: size * copies for name, size in plan.inputs.items()})
    batched.lifs = {name: {**lif, "size": lif["size"] * copies, "bias": np.tile(lif["bias"], copies)}
                    for name, lif in plan.lifs.items()}
    batched.synapses = [Synapse(s.name, s.source, s.target, repeat_on_diagonal(s.weights, copies), s.delay, s.blocks)
                        for s in plan.synapses]
    batched.integrators = {name: {**i, "weights": repeat_on_diagonal(i["weights"], copies), "bias": np.tile(i["bias"], copies)}
                           for name, i in plan.integrators.items()}
    batched.step_outputs = {name: {**o, "weights": repeat_on_diagonal(o["weights"], copies), "bias": np.tile(o["bias"], copies)}
                            for name, o in plan.step_outputs.items()}
    return batched


def _topological(graph) -> list[str]:
    from ssr.convert.executor import topological_order

    return topological_order(graph)


# --- fixed point (Loihi 2's formats, as lava's bit-accurate models implement them) ---------------
# LIF: u = (u * (4096 - du - 1) >> 12) + (a_in << 6); v = (v * (4096 - dv) >> 12) + u + bias_mant << bias_exp;
# spike when v > vth << 6. Synapses: 8-bit weights (mixed sign: even values in [-256, 254]) times
# 2^weight_exp; the activation a_in arrives as a 16-bit integer.
A_IN_LIMIT = 32767  # a_in is int16 in lava's LIF (and Loihi's activation register)
BIAS_MANTISSA, BIAS_EXP_MAX = 4095, 7  # bias = bias_mant (13-bit signed) << bias_exp (3 bits)
VTH_MAX = 1 << 13  # resolution enough: an 8-bit weight's step is far coarser


def loihi_weights(weights: sparse.csr_matrix, scale: float) -> tuple[sparse.csr_matrix, int]:
    """(integer mantissas, weight_exp) with mantissa * 2^weight_exp = weights * scale on its 8-bit grid
    (ssr.spiking.fixed_point): mantissas even in [-256, 254] (lava's mixed-sign format), the largest
    one above 127. With `scale` a power of two, weights already on their grid come through exactly."""
    scaled = sparse.csr_matrix(weights * scale, dtype=np.float64)
    mantissas, grid = grid_mantissas(scaled.data)
    mantissa = scaled.copy()
    mantissa.data = 2 * mantissas  # m * 2^grid = (2 m) * 2^(grid - 1)
    mantissa = mantissa.astype(np.int32)
    mantissa.eliminate_zeros()
    return mantissa, grid - 1


def _row_bound(weights: sparse.csr_matrix) -> float:
    return float(abs(weights).sum(axis=1).max()) if weights.nnz else 0.0


def quantise(plan: Plan) -> dict[str, Any]:
    """Integer parameters for fixed_pt, per layer, and what they cost in precision.

    Scaling, per LIF layer: its float threshold (1) becomes vth (so v carries vth * 64 per unit), the
    largest power of two that keeps every value in range: every input spiking (and, through an
    integrator, for all T steps) must keep |a_in| within 16 bits, and the bias (bias x vth x 64)
    must fit a 13-bit mantissa with a 3-bit exponent. Weights into the layer are (weight x vth) in
    8-bit mantissas with one exponent per synapse layer. All on ssr.spiking.fixed_point's grids, and
    every scale a power of two: a model trained with `quantise_weights` loses nothing here. The
    readout integrator has no threshold: its weights are scaled by the power of two that brings the
    largest into (127, 254] (readout_scale), and the host divides the totals back.
    """
    fixed: dict[str, Any] = {"lifs": {}, "synapses": {}, "integrators": {}}
    for name, lif in plan.lifs.items():
        bound = sum(_row_bound(s.weights) for s in plan.synapses if s.target == name)
        bound += sum(_row_bound(i["weights"]) * plan.time_steps + float(np.abs(i["bias"]).max(initial=0))
                     * plan.time_steps for i in plan.integrators.values() if i["target"] == name)
        bias_peak = float(np.abs(lif["bias"]).max(initial=0.0))
        limit = min(VTH_MAX, A_IN_LIMIT / max(bound, 1e-12), BIAS_MANTISSA * 2 ** BIAS_EXP_MAX / 64 / max(bias_peak, 1e-12))
        vth = int(power_of_two_at_most(max(1.0, limit)))
        bias_v = lif["bias"] * vth * 64
        bias_exp = int(np.clip(grid_exponent(float(np.abs(bias_v).max(initial=0.0)), BIAS_MANTISSA), 0, BIAS_EXP_MAX))
        bias_mant = np.clip(np.round(bias_v / 2.0 ** bias_exp), -BIAS_MANTISSA - 1, BIAS_MANTISSA).astype(np.int32)
        bias_error = float(np.abs(bias_mant * 2.0 ** bias_exp - bias_v).max(initial=0.0)) / (vth * 64)
        # fixed-point quantities carry their format in their names: q12 = 12-bit fractions of 4096,
        # vth_mant = the integer threshold mantissa (the chip compares v with vth_mant << 6)
        fixed["lifs"][name] = {"vth_mant": vth, "du_q12": 4095, "dv_q12": int(round(lif["dv"] * 4096)),
                               "bias_mant": bias_mant, "bias_exp": bias_exp, "input_bound": bound,
                               "max_bias_error": bias_error}
    for synapse in plan.synapses:
        vth = fixed["lifs"][synapse.target]["vth_mant"]
        mantissa, exponent = loihi_weights(synapse.weights, vth)
        error = float(np.abs(mantissa.astype(np.float64) * 2.0 ** exponent - synapse.weights * vth).max()) / vth
        fixed["synapses"][synapse.name] = {"weights": mantissa, "weight_exp": exponent,
                                           "max_weight_error": error}
    for name, integrator in plan.integrators.items():
        target = integrator["target"]
        if target in plan.lifs:
            scale = float(fixed["lifs"][target]["vth_mant"])
        else:
            scale = readout_scale(float(np.abs(integrator["weights"].data).max(initial=0.0)))
        mantissa, exponent = loihi_weights(integrator["weights"], scale)
        error = float(np.abs(mantissa.astype(np.float64) * 2.0 ** exponent
                             - integrator["weights"] * scale).max()) / scale
        fixed["integrators"][name] = {"weights": mantissa, "weight_exp": exponent, "scale": scale,
                                      "bias": np.round(integrator["bias"] * scale).astype(np.int64),
                                      "max_weight_error": error}
    return fixed
