"""Lava processes the NIR compiler needs beyond lava-nc's own (Sparse, DelaySparse).

- `CountingLIF`: lava's `LIFReset` (state reset every `reset_interval` steps at `reset_offset`, so
  sequences stream back to back) that also counts every neuron's spikes inside a window of steps
  into a .npy file; the counts are the measured spikes the energy report reads. (A file, not a
  Var: `Var.get` moves a vector through lava's channels element by element, 26 s for 200 k
  neurons here.)
- `IntegratingSparse`: sparse synapses feeding an integrator (NIR `Affine`/`Conv1d` -> `I`):
  out[t] = sum over k <= t of (W s[k] + b), reset with the sequence; like lava's `Sparse` it emits
  with one step of synaptic delay. It can record its value at the last step of every window (the
  scores of each sequence) into a .npy file the host reads.
- `FileSource`: sends row t - 1 of a .npy file (memory-mapped) at time step t, zeros after the last
  row. Streaming many sequences through lava's RingBuffer would mean refilling it with `Var.set`,
  which costs ~4 s per 3200 x 64 block here; the file costs nothing per step.
- `cyclic` sources and records wrap around their file (row (t - 1) mod rows): a network that stays
  up between `run` calls (host in the loop) reads each call's inputs from the same rows, which the
  host rewrites while the network is paused, and writes each call's outputs to the same rows.

Files, not Vars, carry the streams: each process model opens its file in its own OS process.

Two process models replace lava's own for its `Sparse` and `DelaySparse` processes (through the run
config's `exception_proc_model_map`, `PROCESS_MODELS`), computing the same synaptic input faster:
- `Sparse` fed by spikes: lava's models sum the weight columns of the neurons that fired,
  `W[:, s].sum(axis=1)`, which builds a new sparse matrix every step; ours take the product `W s`
  (the same sums, in the row's stored order; exact in fixed point, and in floating point the order
  of one product instead of scipy's sum of a copy).
- `DelaySparse`: lava's models build the stacked (delay x weight) matrix again at every step; ours
  build it once (the same matrix, the same product: bit for bit).
- Where the compiler passes `blocks` (the NIR primitive's `Blocks`: the matrix is, per copy of a
  batched plan, blockdiag over groups of kron(W_g, I_inner), e.g. a pointwise Conv1d over 50
  positions), `Sparse` and `IntegratingSparse` multiply by the small dense W_g for every position
  and copy at once (one BLAS product) instead of by the whole sparse matrix: 50x less time for an
  FFN layer of 8 copies here. The block is read back from the process's own weights (after lava's
  fixed-point scaling) and every stored weight is checked against it; any mismatch keeps the sparse
  product. Fixed point: the integer sums are done in float64, exact while they stay below 2^53
  (checked per step, else the integer sparse product); floating point: the same sums in BLAS's order.

Lava imports this module itself when it looks for process models, so it has no side effects.
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.lif.models import AbstractPyLifModelFixed, AbstractPyLifModelFloat
from lava.proc.lif.process import LIFReset
from lava.proc.sparse.models import (PyDelaySparseModelBitAcc, PyDelaySparseModelFloat, PySparseModelBitAcc,
                                     PySparseModelFloat)
from lava.proc.sparse.process import DelaySparse, Sparse
from lava.utils.weightutils import clip_weights, determine_sign_mode, truncate_weights
from scipy.sparse import csr_matrix
from threadpoolctl import threadpool_limits


def dense_blocks(weights: csr_matrix, blocks) -> np.ndarray | None:
    """`weights` (rows, cols) as copies x blockdiag_g(kron(W_g, I_inner)) with `blocks` = (groups,
    out_per_group, in_per_group, inner) per copy: the (groups, out, in) array of the W_g when every
    stored weight is exactly that structure's and they are at least a quarter filled, else None (the
    caller keeps the sparse product).
    Copy 0 is checked entry by entry, the other copies as its shifted repeats (compiler.batch_plan's
    layout), so the check costs a few passes over the arrays, not a sort of all of them."""
    if blocks is None:
        return None
    groups, p, q, inner = (int(b) for b in blocks)
    rows, cols = weights.shape
    copy_rows, copy_cols = groups * p * inner, groups * q * inner
    if rows % copy_rows or cols % copy_cols or rows // copy_rows != cols // copy_cols:
        return None
    copies = rows // copy_rows
    weights = weights.tocsr()
    first = weights[:copy_rows]
    entries = first.nnz
    shift = np.arange(copies)[:, None]
    if weights.nnz != copies * entries or (entries and int(first.indices.max()) >= copy_cols):
        return None
    if not (np.array_equal(weights.data.reshape(copies, entries), np.broadcast_to(first.data, (copies, entries)))
            and np.array_equal(weights.indices.reshape(copies, entries) - copy_cols * shift,
                               np.broadcast_to(first.indices, (copies, entries)))
            and np.array_equal(weights.indptr[1:].reshape(copies, copy_rows) - entries * shift,
                               np.broadcast_to(first.indptr[1:], (copies, copy_rows)))):
        return None
    group, rest = np.divmod(np.repeat(np.arange(copy_rows), np.diff(first.indptr)), p * inner)
    out, position = np.divmod(rest, inner)
    group_c, rest = np.divmod(first.indices, q * inner)
    into, position_c = np.divmod(rest, inner)
    if not ((group == group_c) & (position == position_c)).all():
        return None  # a weight off the blocks' diagonals
    cell = (group * p + out) * q + into  # each weight's entry of the dense blocks
    if len(np.unique(cell * inner + position)) != entries:
        return None  # duplicate entries
    dense = np.zeros(groups * p * q, dtype=np.float64)
    present = np.zeros(groups * p * q, dtype=bool)
    dense[cell], present[cell] = first.data, True
    if entries != inner * int(present.sum()) or not np.array_equal(dense[cell], first.data):
        return None  # a block entry missing at some position, or not the same at every position
    if 4 * int(present.sum()) < present.size:
        return None  # blocks mostly zeros (a large sparse Linear): the sparse product does less work
    return dense.reshape(groups, p, q)


def block_product(dense: np.ndarray, x: np.ndarray, inner: int) -> np.ndarray:
    """copies x blockdiag_g(kron(W_g, I_inner)) @ x, flattened as the sparse product's, from the
    (groups, out, in) blocks: (copies, groups, in, inner) -> one matmul per group over all copies
    and positions."""
    groups, _, q = dense.shape
    return np.matmul(dense, x.reshape(-1, groups, q, inner)).reshape(-1)


class _BlockProduct:
    """W x through `dense_blocks` where the compiler passed `blocks` and they hold, else W.dot(x)
    (self.weights: the csr weights as lava holds them, already scaled)."""

    def synaptic_input(self, x: np.ndarray) -> np.ndarray:
        if not hasattr(self, "dense"):
            # one BLAS thread: every Lava process model is an OS process of its own, already one per core or more
            threadpool_limits(1)
            self.dense = dense_blocks(self.weights, self.proc_params.get("blocks"))
            # |a sum| <= in-width x max|w| x max|x|
            self.sum_bound = 0.0 if self.dense is None else self.dense.shape[2] * float(np.abs(self.dense).max(initial=0))
        if self.dense is None:
            return self.weights.dot(x)
        inner = int(self.proc_params["blocks"][3])
        if not np.issubdtype(x.dtype, np.integer):
            return block_product(self.dense, x, inner)
        if self.sum_bound * float(np.abs(x).max(initial=0)) < 2.0 ** 53:  # integers: float64 sums exact
            return block_product(self.dense, x.astype(np.float64), inner).astype(np.int64)
        return self.weights.dot(x)


class CountingLIF(LIFReset):
    """LIFReset that adds each neuron's spikes at time steps count_start <= step < count_stop
    (count_stop an int, or one per neuron: a batched run stops counting the copies it pads with)
    to the (neurons,) int64 array in the .npy file `count_path`; with `count_period` P and
    `count_span` S, only at the steps with (step - count_start) mod P < S (a network kept up between
    calls counts each call's sequences, not the idle steps after them)."""

    def __init__(self, *, shape: tuple[int, ...], count_path: str, count_start: int, count_stop: int | np.ndarray,
                 count_period: int | None = None, count_span: int | None = None, **kwargs) -> None:
        super().__init__(shape=shape, **kwargs)
        self.proc_params["count_path"] = str(count_path)
        self.proc_params["count_start"], self.proc_params["count_stop"] = count_start, count_stop
        self.proc_params["count_period"], self.proc_params["count_span"] = count_period, count_span


def _count(model, spikes: np.ndarray) -> None:
    """Add this step's spikes to the counts of the neurons inside their counting window."""
    params = model.proc_params
    since = model.time_step - params["count_start"]
    if since < 0 or (params.get("count_period") and since % params["count_period"] >= params["count_span"]):
        return
    if not hasattr(model, "counts"):
        model.counts = np.load(params["count_path"], mmap_mode="r+")
        stop = np.asarray(params["count_stop"])
        model.count_stop, model.count_stop_range = stop, (int(stop.min()), int(stop.max()))
    first_stop, last_stop = model.count_stop_range
    if model.time_step < first_stop:  # every neuron still counts (the per-neuron test only near the end)
        model.counts += spikes
    elif model.time_step < last_stop:
        model.counts += spikes * (model.time_step < model.count_stop)


@implements(proc=CountingLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyCountingLIFModelFloat(AbstractPyLifModelFloat):
    """lava's PyLifResetModelFloat (which cannot be subclassed: it is bound to LIFReset) + counting."""

    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    vth: float = LavaPyType(float, float)

    def subthr_dynamics(self, activation_in: np.ndarray) -> None:
        """lava's u = u (1 - du) + a_in; v = v (1 - dv) + u + bias, in place. With du = 1 (no current
        memory: to_lava's) u is a_in itself (u 0 + a_in: the same value, up to the sign of a zero),
        so the three temporaries lava allocates over every neuron each step are not needed."""
        if self.du != 1:
            super().subthr_dynamics(activation_in)
            return
        self.u[:] = activation_in
        self.v *= 1 - self.dv
        self.v += self.u
        self.v += self.bias_mant

    def spiking_activation(self) -> np.ndarray:
        return self.v > self.vth

    def reset_voltage(self, spike_vector: np.ndarray) -> None:
        np.putmask(self.v, spike_vector, 0)  # lava's v[spike_vector] = 0, without the index array

    def run_spk(self) -> None:
        a_in = self.a_in.recv()
        interval = self.proc_params["reset_interval"]
        if self.time_step % interval == self.proc_params["reset_offset"] % interval:
            self.u *= 0
            self.v *= 0
        self.subthr_dynamics(activation_in=a_in)
        spikes = self.spiking_activation()
        self.reset_voltage(spike_vector=spikes)
        _count(self, spikes)
        self.s_out.send(spikes)


class FileSource(AbstractProcess):
    """Sends row (time_step - 1) of the (rows, size) array in the .npy file `path`; zeros after it,
    or, `cyclic`, row (time_step - 1) mod rows."""

    def __init__(self, *, path: str, shape: tuple[int, int], cyclic: bool = False) -> None:
        super().__init__(path=str(path), rows=shape[0], size=shape[1], cyclic=cyclic)
        self.s_out = OutPort(shape=(shape[1],))


def _source_row(model) -> np.ndarray:
    """The row a FileSource model sends at this step (both precisions)."""
    params = model.proc_params
    if not hasattr(model, "rows"):
        model.rows = np.load(params["path"], mmap_mode="r")
    t = model.time_step - 1
    if params["cyclic"]:
        return model.rows[t % params["rows"]]
    return model.rows[t] if t < params["rows"] else np.zeros(params["size"])


@implements(proc=FileSource, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyFileSourceModelFloat(PyLoihiProcessModel):
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)

    def run_spk(self) -> None:
        self.s_out.send(np.asarray(_source_row(self), dtype=float))


@implements(proc=CountingLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_accurate_loihi", "fixed_pt")
class PyCountingLIFModelBitAcc(AbstractPyLifModelFixed):
    """lava's PyLifResetModelBitAcc (Loihi's integer LIF: 24-bit u and v, 12-bit decays, threshold
    and input MSB-aligned by 6 bits) + counting."""

    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    vth: int = LavaPyType(int, np.int32, precision=17)

    def run_spk(self) -> None:
        a_in = self.a_in.recv()
        if not self.isbiasscaled:
            self.scale_bias()
        interval = self.proc_params["reset_interval"]
        if self.time_step % interval == self.proc_params["reset_offset"] % interval:
            self.u *= 0
            self.v *= 0
        self.subthr_dynamics(activation_in=a_in)
        spikes = self.v > np.left_shift(self.vth, self.vth_shift)
        self.reset_voltage(spike_vector=spikes)
        _count(self, spikes)
        self.s_out.send(spikes.astype(np.int32))


@implements(proc=FileSource, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyFileSourceModelFixed(PyLoihiProcessModel):
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)

    def run_spk(self) -> None:
        self.s_out.send(np.asarray(_source_row(self), dtype=np.int32))


class SpikeRecorder(AbstractProcess):
    """Writes the spikes it receives at step `offset` + 1 + r to row r of a (rows, size) .npy file
    (`cyclic`: to row r mod rows)."""

    def __init__(self, *, path: str, shape: tuple[int, int], offset: int, cyclic: bool = False) -> None:
        super().__init__(path=str(path), rows=shape[0], offset=offset, cyclic=cyclic)
        self.s_in = InPort(shape=(shape[1],))


@implements(proc=SpikeRecorder, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PySpikeRecorderModelFloat(PyLoihiProcessModel):
    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)

    def run_spk(self) -> None:
        spikes = self.s_in.recv()
        row = self.time_step - 1 - self.proc_params["offset"]
        if self.proc_params["cyclic"] and row >= 0:
            row %= self.proc_params["rows"]
        if 0 <= row < self.proc_params["rows"]:
            if not hasattr(self, "record"):
                self.record = np.load(self.proc_params["path"], mmap_mode="r+")
            self.record[row] = spikes


class IntegratingSparse(AbstractProcess):
    """Sparse weights (out, in) and bias (out,) into an integrator reset every `reset_interval`
    steps at `reset_offset`. With `record_path`, the integrator's value at steps record_offset +
    w * reset_interval (the last step of window w) is written to row w of that .npy file, for
    w < its row count. fixed_pt: integer weights and bias, the product W s shifted by `weight_exp`
    (as lava's Sparse), the total kept in int64 (the readout is not a 24-bit neuron register).
    `cyclic`: window w goes to row w mod rows. `blocks`: the weights' repeated dense block
    (`dense_blocks`), for the faster product."""

    def __init__(self, *, weights: csr_matrix, bias: np.ndarray, reset_interval: int, reset_offset: int,
                 record_offset: int = 0, record_path: str | None = None, num_message_bits: int = 0,
                 weight_exp: int = 0, cyclic: bool = False, blocks: tuple[int, int, int, int] | None = None) -> None:
        super().__init__(reset_interval=reset_interval, reset_offset=reset_offset % reset_interval,
                         record_offset=record_offset, record_path=None if record_path is None else str(record_path),
                         weight_exp=weight_exp, cyclic=cyclic, blocks=None if blocks is None else tuple(blocks))
        out_size, in_size = weights.shape
        self.s_in = InPort(shape=(in_size,))
        self.a_out = OutPort(shape=(out_size,))
        self.weights = Var(shape=weights.shape, init=weights)
        self.bias = Var(shape=(out_size,), init=bias)
        self.total = Var(shape=(out_size,), init=0)
        self.a_buff = Var(shape=(out_size,), init=0)
        self.num_message_bits = Var(shape=(1,), init=num_message_bits)


def _record_window(model) -> None:
    """At the last step of a window, write the integrator's total to that window's row of the
    record file (IntegratingSparse with record_path; both precisions)."""
    params = model.proc_params
    if params["record_path"] is None:
        return
    since = model.time_step - params["record_offset"]
    if since >= 0 and since % params["reset_interval"] == 0:
        if not hasattr(model, "record"):
            model.record = np.load(params["record_path"], mmap_mode="r+")
        window = since // params["reset_interval"]
        if params["cyclic"]:
            window %= len(model.record)
        if window < len(model.record):
            model.record[window] = model.total


@implements(proc=IntegratingSparse, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyIntegratingSparseModelFloat(_BlockProduct, PyLoihiProcessModel):
    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    weights: csr_matrix = LavaPyType(csr_matrix, float)
    bias: np.ndarray = LavaPyType(np.ndarray, float)
    total: np.ndarray = LavaPyType(np.ndarray, float)
    a_buff: np.ndarray = LavaPyType(np.ndarray, float)
    num_message_bits: np.ndarray = LavaPyType(np.ndarray, int, precision=5)

    def run_spk(self) -> None:
        self.a_out.send(self.a_buff)  # computed last step: one step of synaptic delay, as Sparse
        s_in = self.s_in.recv()
        params = self.proc_params
        if self.time_step % params["reset_interval"] == params["reset_offset"]:
            self.total *= 0
        self.total += self.synaptic_input(s_in) + self.bias
        self.a_buff = self.total.copy()
        _record_window(self)


@implements(proc=IntegratingSparse, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyIntegratingSparseModelFixed(_BlockProduct, PyLoihiProcessModel):
    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=16)
    weights: csr_matrix = LavaPyType(csr_matrix, np.int32, precision=8)
    bias: np.ndarray = LavaPyType(np.ndarray, np.int64)
    total: np.ndarray = LavaPyType(np.ndarray, np.int64)
    a_buff: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=16)
    num_message_bits: np.ndarray = LavaPyType(np.ndarray, int, precision=5)

    def run_spk(self) -> None:
        self.a_out.send(self.a_buff)
        s_in = self.s_in.recv()
        params = self.proc_params
        if self.time_step % params["reset_interval"] == params["reset_offset"]:
            self.total *= 0
        product = np.asarray(self.synaptic_input(s_in.astype(np.int64)), dtype=np.int64)
        exp = params["weight_exp"]
        self.total += (np.left_shift(product, exp) if exp >= 0 else np.right_shift(product, -exp)) + self.bias
        self.a_buff = self.total.astype(np.int32)
        _record_window(self)


def _received(model, dtype) -> np.ndarray:
    """The input vector as lava's Sparse models read it: as given for graded messages
    (num_message_bits > 0), else as spikes (non-zero = 1); in `dtype`."""
    received = model.s_in.recv()
    return np.asarray(received if model.num_message_bits.item() > 0 else received.astype(bool), dtype=dtype)


class PySpikeSparseModelFloat(_BlockProduct, PySparseModelFloat):
    """lava's floating_pt `Sparse` with the synaptic input as one product W s for spikes too."""

    def run_spk(self) -> None:
        self.a_out.send(self.a_buff)  # computed last step: one step of synaptic delay, as lava's
        self.a_buff = self.synaptic_input(_received(self, float))


class PySpikeSparseModelFixed(_BlockProduct, PySparseModelBitAcc):
    """lava's fixed_pt `Sparse` (weights clipped and truncated to 8 bits at the first step, the
    product shifted by weight_exp) with W s as one integer product instead of a column slice. The
    product is summed in int64 (lava's graded path sums in int32 and would wrap first above 2^31)."""

    def run_spk(self) -> None:
        self.weight_exp = self.proc_params.get("weight_exp", 0)
        if not self.weights_set:  # lava's own first-step weight scaling
            sign_mode = self.proc_params.get("sign_mode") or determine_sign_mode(self.weights)
            self.weights = clip_weights(self.weights, sign_mode, num_bits=8)
            self.weights = truncate_weights(self.weights, sign_mode, self.proc_params.get("num_weight_bits", 8))
            self.weights_set = True
        self.a_out.send(self.a_buff)
        accumulated = np.asarray(self.synaptic_input(_received(self, np.int64)), dtype=np.int64)
        self.a_buff = (np.left_shift(accumulated, self.weight_exp) if self.weight_exp > 0
                       else np.right_shift(accumulated, -self.weight_exp))


class _DelayWeightsOnce:
    """`calc_act` of lava's DelaySparse models with the stacked (delay x weight) matrix built once."""

    def calc_act(self, s_in) -> np.ndarray:
        if getattr(self, "delay_weights", None) is None:
            self.delay_weights = self.get_delay_wgts_mat(self.weights, self.delays, self.a_buff.shape[-1] - 1)
        return np.reshape(self.delay_weights.dot(s_in), (self.a_buff.shape[-1], self.weights.shape[0])).T


class PyDelaySparseOnceModelFloat(_DelayWeightsOnce, PyDelaySparseModelFloat):
    """lava's floating_pt `DelaySparse`, its delay matrix built once."""


class PyDelaySparseOnceModelFixed(_DelayWeightsOnce, PyDelaySparseModelBitAcc):
    """lava's fixed_pt `DelaySparse`, its delay matrix built once (after lava's first-step weight
    truncation, which happens before the first `calc_act`)."""


# lava's Sparse / DelaySparse -> our process model, per precision tag (Loihi2SimCfg's exception map)
PROCESS_MODELS = {"floating_pt": {Sparse: PySpikeSparseModelFloat, DelaySparse: PyDelaySparseOnceModelFloat},
                  "fixed_pt": {Sparse: PySpikeSparseModelFixed, DelaySparse: PyDelaySparseOnceModelFixed}}
