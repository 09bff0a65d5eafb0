"""RNNBase: a stack of unrolled cells behind torch.nn's multi-layer RNN interface."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnkit.cells.base import LSTMState, RecurrentCell, State, check_probability, check_size
from rnnkit.cells.regularizers import RecurrentDropout, WeightDrop, Zoneout, base_cell
from rnnkit.fused.dispatch import FUSED_BEATS_NATIVE_ON_CPU, choose_path, native_blockers
from rnnkit.fused.native import flatten_for_cudnn, run_native
from rnnkit.fused.plan import plan_or_blockers, runtime_blockers
from rnnkit.layers.bidirectional import Bidirectional
from rnnkit.layers.masking import check_lengths
from rnnkit.layers.stacked import Stacked
from rnnkit.layers.unroll import Internals, Recurrent

CellFactory = Callable[[int], RecurrentCell]
"""Builds the cell of one layer and direction from its input size (the layer sets hidden size etc.)."""

_TORCH_WEIGHTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")


class RNNBase(nn.Module):
    """``num_layers`` (bi)directional layers of any cell, with torch.nn's arguments, state layout
    ``(L*D, B, H)`` (unaffected by ``batch_first``, as in torch) and ``state_dict`` keys
    (``weight_ih_l0``, ``bias_hh_l1_reverse``, ...).

    Beyond torch: ``lengths=`` (any device, unsorted, no packing), :meth:`record` for the per-step gates
    and states, the regularisers (``recurrent_dropout``, ``zoneout``, ``weight_drop``), a learned initial
    state, ``recompute=True`` (less training memory, one more GEMM per step), and ``impl=`` to choose
    between torch's fused kernel ("native"), rnnkit's fused C++ kernel ("fused") and rnnkit's step-by-step
    loop ("reference"). ``impl="auto"`` runs the fastest exact one: on CPU rnnkit's kernel for plain GRU
    and RNN layers and for every variant it covers, torch's for the plain LSTM; on CUDA cuDNN for plain
    layers.

    The modules are composed, not flattened: ``self.stack`` is a :class:`Stacked` of :class:`Recurrent`
    (or :class:`Bidirectional`) layers holding the cells; torch's flat names are aliases of those parameters.
    """

    def __init__(
        self,
        mode: str | None,
        make_cell: CellFactory,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        *,
        recurrent_dropout: float = 0.0,
        zoneout: float | tuple[float, float] = 0.0,
        weight_drop: float = 0.0,
        learn_initial_state: bool = False,
        impl: str = "auto",
        recompute: bool = False,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        check_size("input_size", input_size, 0)
        check_size("hidden_size", hidden_size)
        check_size("num_layers", num_layers)
        check_size("proj_size", proj_size, 0)
        check_probability(f"{name}: dropout", dropout)
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero dropout expects "
                f"num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
                stacklevel=3,
            )
        choose_path(impl, [], fused_blockers=[])  # validates the name early
        self.mode, self.input_size, self.hidden_size, self.num_layers = (
            mode,
            input_size,
            hidden_size,
            num_layers,
        )
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        directions = 2 if bidirectional else 1

        layers = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else (proj_size or hidden_size) * directions
            recurrents = []
            for direction in range(directions):
                cell = make_cell(layer_input)  # torch's init order: l0, l0_reverse, l1, ...
                if recurrent_dropout:
                    cell = RecurrentDropout(cell, recurrent_dropout)
                if weight_drop:
                    cell = WeightDrop(cell, weight_drop)
                if zoneout:
                    if isinstance(zoneout, tuple):  # (p_h, p_c): a p_c for a cell without c is an error
                        cell = Zoneout(cell, *zoneout)
                    else:  # one p for every state the cell has
                        cell = Zoneout(cell, zoneout, zoneout if len(cell.state_sizes) == 2 else 0.0)
                recurrents.append(
                    Recurrent(
                        cell,
                        reverse=direction == 1,
                        learn_initial_state=learn_initial_state,
                        recompute=recompute,
                    )
                )
            layers.append(Bidirectional(*recurrents) if bidirectional else recurrents[0])
        self.stack = Stacked(layers, dropout=dropout)
        self._pair_state = len(self.recurrent_layers()[0].cell.state_sizes) == 2
        self._flat_names = self._build_flat_names()
        # (module, attribute) of each flat name, resolved once: attribute lookups stay cheap per call
        self._flat_owners = {flat: self._owner_of(path) for flat, path in self._flat_names.items()}
        self._kernel_weights = [owner for flat, owner in self._flat_owners.items() if _is_torch_weight(flat)]
        self.register_state_dict_post_hook(_state_dict_to_flat_names)
        self.register_load_state_dict_pre_hook(_load_flat_names)
        self.impl = impl

    @property
    def impl(self) -> str:
        """``"auto" | "reference" | "native" | "fused"`` (settable; see the class docstring)."""
        return self._impl

    @impl.setter
    def impl(self, value: str) -> None:
        choose_path(value, [], fused_blockers=[])  # validates the name
        self._impl = value
        for recurrent in self.recurrent_layers():  # what the unrolled layers run when not torch's kernel
            recurrent.impl = value if value in ("reference", "fused") else "auto"

    @property
    def output_size(self) -> int:
        """Features per step of the output: ``D * (proj_size or hidden_size)``."""
        return self.stack.output_size

    # ----- torch.nn's flat names ------------------------------------------------------------------
    def recurrent_layers(self) -> list[Recurrent]:
        """The unrolled cells in torch's order: layer 0 forward, layer 0 backward, layer 1, ..."""
        found = []
        for layer in self.stack.layers:
            found += (
                [layer.forward_layer, layer.backward_layer] if isinstance(layer, Bidirectional) else [layer]
            )
        return found

    def _build_flat_names(self) -> dict[str, str]:
        """torch's name (``weight_hh_l1_reverse``) -> our path (``stack.layers.1.backward_layer.cell...``)."""
        directions = 2 if self.bidirectional else 1
        names: dict[str, str] = {}
        for k, recurrent in enumerate(self.recurrent_layers()):
            suffix = f"_l{k // directions}" + ("_reverse" if k % directions else "")
            prefix = self._path_of(recurrent)
            for name, _ in recurrent.named_parameters():
                short = re.sub(r"^(cell\.)+", "", name).replace(".", "_")
                names[short + suffix] = f"{prefix}.{name}"
        return names

    def _path_of(self, module: nn.Module) -> str:
        return next(path for path, m in self.named_modules() if m is module)

    def _owner_of(self, path: str) -> tuple[nn.Module, str]:
        module_path, _, attribute = path.rpartition(".")
        return self.get_submodule(module_path), attribute

    def __getattr__(self, name: str):
        owners = self.__dict__.get("_flat_owners")
        if owners is not None and name in owners:
            module, attribute = owners[name]
            return getattr(module, attribute)
        return super().__getattr__(name)

    @property
    def _flat_weights(self) -> list[Tensor]:
        """The weights torch's kernel takes, in its order (``torch.nn.RNNBase._flat_weights``)."""
        return [getattr(module, attribute) for module, attribute in self._kernel_weights]

    @property
    def all_weights(self) -> list[list[nn.Parameter]]:
        """Per layer and direction, that cell's torch-layout weights (as ``torch.nn.RNNBase.all_weights``)."""
        return [
            [p for name, p in base_cell(r.cell).named_parameters(recurse=False) if name in _TORCH_WEIGHTS]
            for r in self.recurrent_layers()
        ]

    def flatten_parameters(self) -> None:
        """On CUDA, pack the weights into one cuDNN buffer (as torch); a no-op elsewhere."""
        if native_blockers(self.mode, self._cells()):
            return
        flatten_for_cudnn(
            self._flat_weights,
            self.mode,
            bias=self.bias,
            input_size=self.input_size,
            hidden_size=self.hidden_size,
            proj_size=self.proj_size,
            num_layers=self.num_layers,
            batch_first=self.batch_first,
            bidirectional=self.bidirectional,
        )

    def _apply(self, fn, recurse=True):
        result = super()._apply(fn, recurse)
        self.flatten_parameters()
        return result

    def _fused_blockers(self, input: Tensor | PackedSequence) -> list[str]:
        """Why rnnkit's fused kernel cannot run this layer on ``input`` (empty: it can)."""
        data = input.data if isinstance(input, PackedSequence) else input
        reasons: list[str] = runtime_blockers(data) if isinstance(data, Tensor) else ["input is not a Tensor"]
        for cell in self._cells():
            plan = plan_or_blockers(cell)
            reasons += [r for r in plan if r not in reasons] if isinstance(plan, list) else []
        return reasons

    def _cells(self) -> list[RecurrentCell]:
        return [r.cell for r in self.recurrent_layers()]

    # ----- running --------------------------------------------------------------------------------
    def forward(
        self, input: Tensor | PackedSequence, hx: State | None = None, lengths: Tensor | None = None
    ) -> tuple[Tensor | PackedSequence, State]:
        """Run the layers; returns ``(output, h_n)``, or ``(output, (h_n, c_n))`` for LSTM, as torch.

        Args:
            input: ``(T, B, I)`` (``(B, T, I)`` if batch_first), unbatched ``(T, I)``, or a PackedSequence.
            hx: initial state(s) ``(L*D, B, H)`` (``h0`` of LSTM: ``(L*D, B, proj_size or H)``); None: zeros
                (or the learned initial state).
            lengths: ``(B,)`` valid lengths, any integer tensor on any device, in any order. Outputs past a
                sequence's end are zero and ``h_n`` is its state at its last valid step, in both directions.
        """
        output, h_n, _ = self._run(input, hx, lengths, record=False)
        return output, h_n

    def record(
        self, input: Tensor, hx: State | None = None, lengths: Tensor | None = None
    ) -> tuple[Tensor, State, list[Internals]]:
        """Like ``forward`` through the reference loop, plus per-step internals for every layer and
        direction in torch's order: ``internals[l * D + d]["f"]`` is the forget gate of layer ``l``,
        direction ``d``, shaped like the output's time and batch axes.

        Example:
            >>> import rnnkit
            >>> lstm = rnnkit.LSTM(8, 16, batch_first=True)
            >>> out, (h, c), internals = lstm.record(torch.randn(2, 5, 8))
            >>> sorted(internals[0]), internals[0]["f"].shape
            (['c', 'f', 'g', 'h', 'i', 'o'], torch.Size([2, 5, 16]))
        """
        if isinstance(input, PackedSequence):
            raise TypeError("record() takes a padded tensor and lengths=, not a PackedSequence")
        return self._run(input, hx, lengths, record=True)

    def _run(self, input, hx, lengths, record):
        name = type(self).__name__
        native = native_blockers(self.mode, self._cells())
        data = input.data if isinstance(input, PackedSequence) else input
        on_cpu = isinstance(data, Tensor) and data.device.type == "cpu"
        prefer_fused = (
            on_cpu and (self.mode, self.training and torch.is_grad_enabled()) in FUSED_BEATS_NATIVE_ON_CPU
        )
        # ask about the fused kernel (which may build it) only when its answer can matter
        ask = self.impl == "fused" or (self.impl == "auto" and (native or record or prefer_fused))
        fused = self._fused_blockers(input) if ask else None
        path = choose_path(self.impl, native, record, fused_blockers=fused, prefer_fused=prefer_fused)
        if isinstance(input, PackedSequence):
            if lengths is not None:
                raise ValueError(f"{name}: give either a PackedSequence or lengths=, not both")
            if path == "native":  # torch's kernel takes packed data as it is
                batch = int(input.batch_sizes[0])
                if hx is not None:
                    self._check_hx(hx, batch, batched=True)
                output, h_n = self._run_native_packed(input, hx, batch)
                return output, h_n, []
            padded, lengths = pad_packed_sequence(input, batch_first=self.batch_first)
            output, h_n, internals = self._run_padded(padded, hx, lengths, path, record)
            return self._repack(output, lengths, input), h_n, internals
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a Tensor or PackedSequence, got {type(input).__name__}")
        if input.dim() not in (2, 3):
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.dim()}D instead")
        if input.dim() == 3:
            return self._run_padded(input, hx, lengths, path, record)
        if lengths is not None:  # unbatched (T, I): run as a batch of one
            raise ValueError(f"{name}: lengths= needs batched (3D) input")
        batch_dim = 0 if self.batch_first else 1
        if hx is not None:
            self._check_hx(hx, None, batched=False)
            hx = tuple(h.unsqueeze(1) for h in hx) if self._pair_state else hx.unsqueeze(1)
        output, h_n, internals = self._run_padded(input.unsqueeze(batch_dim), hx, None, path, record)
        h_n = tuple(h.squeeze(1) for h in h_n) if self._pair_state else h_n.squeeze(1)
        return output.squeeze(batch_dim), h_n, internals

    def _run_padded(self, input: Tensor, hx: State | None, lengths: Tensor | None, path: str, record: bool):
        """Run a batched ``(T, B, I)`` / ``(B, T, I)`` input on ``path``: (output, h_n, internals)."""
        if input.size(-1) != self.input_size:
            raise ValueError(
                f"{type(self).__name__}: input.size(-1) must be equal to input_size. "
                f"Expected {self.input_size}, got {input.size(-1)}"
            )
        batch_dim = 0 if self.batch_first else 1
        batch, steps = input.size(batch_dim), input.size(1 - batch_dim)
        if lengths is not None:
            lengths = check_lengths(lengths, batch, steps)
        if hx is not None:
            self._check_hx(hx, batch, batched=True)
        if path != "native":  # rnnkit's unrolled layers: each runs the fused kernel or the loop
            return self._run_reference(input, hx, lengths, record)
        if lengths is None:
            return *run_native(
                self.mode, input, self._hx_or_initial(hx, input, batch), **self._native_options()
            ), []
        packed = pack_padded_sequence(input, lengths.cpu(), self.batch_first, enforce_sorted=False)
        output, h_n = self._run_native_packed(packed, hx, batch)
        output, _ = pad_packed_sequence(output, self.batch_first, total_length=steps)
        return output, h_n, []

    def _repack(self, output: Tensor, lengths: Tensor, like: PackedSequence) -> PackedSequence:
        """Pack a padded output in the same order (same batch_sizes and indices) as the input ``like``."""
        batch_dim = 0 if self.batch_first else 1
        order = like.sorted_indices
        if order is None:
            order = torch.arange(output.size(batch_dim), device=output.device)
        sorted_output = output.index_select(batch_dim, order)
        data = pack_padded_sequence(sorted_output, lengths[order.cpu()], self.batch_first).data
        return PackedSequence(data, like.batch_sizes, like.sorted_indices, like.unsorted_indices)

    def _check_hx(self, hx: State, batch: int | None, batched: bool) -> None:
        """Raise unless ``hx`` has the structure and shapes ``(L*D, B, size)`` (``(L*D, size)`` unbatched)."""
        name = type(self).__name__
        rows = self.num_layers * (2 if self.bidirectional else 1)
        sizes = self.recurrent_layers()[0].cell.state_sizes
        parts = tuple(hx) if self._pair_state and isinstance(hx, (tuple, list)) else (hx,)
        if len(parts) != len(sizes) or not all(isinstance(p, Tensor) for p in parts):
            raise TypeError(
                f"{name}: hx must be " + ("a pair (h_0, c_0) of tensors" if self._pair_state else "a tensor")
            )
        for k, (part, size) in enumerate(zip(parts, sizes)):
            expected = (rows, batch, size) if batched else (rows, size)
            if tuple(part.shape) != expected:
                raise ValueError(f"{name}: Expected hidden[{k}] size {expected}, got {tuple(part.shape)}")

    def _split_hx(self, hx: State) -> list[State]:
        if self._pair_state:
            h, c = hx
            return [LSTMState(h[k], c[k]) for k in range(h.size(0))]
        return list(hx.unbind(0))

    def _join_states(self, states: list[State]) -> State:
        if self._pair_state:
            return torch.stack([s[0] for s in states]), torch.stack([s[1] for s in states])
        return torch.stack(states)

    def _run_reference(self, input: Tensor, hx: State | None, lengths: Tensor | None, record: bool):
        x = input.transpose(0, 1) if self.batch_first else input  # (T, B, I)
        states = None if hx is None else self._split_hx(hx)
        output, states, internals = self.stack.unroll(x, states, lengths, record)
        if self.batch_first:
            output = output.transpose(0, 1)
            internals = [
                None if d is None else {k: v.transpose(0, 1) for k, v in d.items()} for d in internals
            ]
        return output, self._join_states(states), internals

    def _native_options(self) -> dict:
        return {
            "weights": self._flat_weights,
            "bias": self.bias,
            "num_layers": self.num_layers,
            "dropout": self.dropout,
            "training": self.training,
            "bidirectional": self.bidirectional,
            "batch_first": self.batch_first,
        }

    def _hx_or_initial(self, hx: State | None, like: Tensor, batch: int) -> State:
        if hx is not None:
            return hx
        return self._join_states(
            [r.initial_state(batch, like.device, like.dtype) for r in self.recurrent_layers()]
        )

    def _run_native_packed(self, packed: PackedSequence, hx: State | None, batch: int):
        """torch's kernel on packed data; ``hx`` and ``h_n`` in the caller's batch order (as torch.nn)."""
        hx = self._hx_or_initial(hx, packed.data, batch)
        if packed.sorted_indices is not None:
            hx = _permute_state(hx, packed.sorted_indices)
        data, h_n = run_native(
            self.mode, packed.data, hx, batch_sizes=packed.batch_sizes, **self._native_options()
        )
        if packed.unsorted_indices is not None:
            h_n = _permute_state(h_n, packed.unsorted_indices)
        return PackedSequence(data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices), h_n

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        defaults = {
            "proj_size": 0,
            "num_layers": 1,
            "bias": True,
            "batch_first": False,
            "dropout": 0.0,
            "bidirectional": False,
            "impl": "auto",
        }
        for key, default in defaults.items():
            if getattr(self, key) != default:
                s += f", {key}={getattr(self, key)!r}"
        return s


def _permute_state(state: State, index: Tensor) -> State:
    if isinstance(state, Tensor):
        return state.index_select(1, index)
    return tuple(s.index_select(1, index) for s in state)


def _is_torch_weight(flat_name: str) -> bool:
    return re.sub(r"_l\d+(_reverse)?$", "", flat_name) in _TORCH_WEIGHTS


def _state_dict_to_flat_names(module: RNNBase, state_dict: dict, prefix: str, local_metadata: dict) -> None:
    for flat, nested in module._flat_names.items():
        if prefix + nested in state_dict:
            state_dict[prefix + flat] = state_dict.pop(prefix + nested)


def _load_flat_names(module: RNNBase, state_dict: dict, prefix: str, *args) -> None:
    for flat, nested in module._flat_names.items():
        if prefix + flat in state_dict:
            state_dict[prefix + nested] = state_dict.pop(prefix + flat)
