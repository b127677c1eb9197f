"""Fast execution paths of the GLONET network: what the engine and the forecast command use.

Two entry points:

* :func:`optimise_model` prepares a network for training or inference on a device. ``"eager"``
  leaves it as built; ``"fast"`` (the ``"auto"`` choice on CUDA) turns on cuDNN autotuning,
  stores convolution weights channels-last and swaps the GroupNorm+LeakyReLU chains, the
  Inception branch sums (one pass over an Inception's branches), the AFNO spectral MLPs (two
  batched products over interleaved real/imag modes), the FourierNetBlock MLP halves, the
  ``space`` branch's convolution biases and sums (:class:`FastFoTF`) and ``space.NO``'s patch
  embedding and ``lproj`` head as matrix products (:class:`FastGFBlock`) for fused functions
  (:mod:`glonet_regions.model.fast_kernels`, compiled lazily with ``torch.compile`` on CUDA).
  The state dict (names, shapes, values) is unchanged, so checkpoints and the published weights
  load the same. In training it also picks which branches recompute their activations.
* :class:`ForecastRunner` runs the autoregressive rollout of one depth group under bf16 autocast,
  captured once in a CUDA graph and replayed; :func:`forecast_groups` runs several groups, each
  on its own CUDA stream, with inputs and outputs copied through pinned host memory.

Both fall back to plain eager PyTorch on the CPU, so tests and CPU runs take the same code path.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from glonet_regions.model.blocks import (
    AdativeFourierNeuralOperator,
    BasicConv2d,
    FoTF,
    FourierNetBlock,
    GFBlock,
    GroupConv2d,
    Inception,
    LocalCNNBranch,
    maybe_checkpoint,
)
from glonet_regions.model.fast_conv import (
    ConvStrategy,
    combined_branches,
    grouped_conv,
    grouped_conv_stats,
)
from glonet_regions.model.fast_kernels import (
    FUSED,
    AfnoArgs,
    SpectralLayout,
    afno_fold,
    afno_mix,
    compiled,
    derived_weights,
    dft_matrices,
    lproj_matrices,
    pool_major_fc1,
)
from glonet_regions.model.network import Glonet
from glonet_regions.model.rollout import BoundaryFn, rollout

if TYPE_CHECKING:
    from glonet_regions.model.triton_conv import Partials

__all__ = [
    "CHECKPOINT_BRANCHES",
    "DEFAULT_TRAIN_CHECKPOINT",
    "ExecMode",
    "ForecastRunner",
    "forecast_groups",
    "optimise_model",
    "resolve_mode",
    "set_checkpoint_branches",
]

ExecMode = Literal["auto", "eager", "fast"]
FusedImpl = Literal["eager", "compiled"]

CHECKPOINT_BRANCHES: tuple[str, ...] = ("space", "dynamics", "jump")
"""Branches whose blocks can recompute activations in backward (AFNO blocks, Inception stacks)."""

DEFAULT_TRAIN_CHECKPOINT: tuple[str, ...] = ("space", "dynamics")
"""Branches checkpointed by ``optimise_model(training=True)`` unless told otherwise.

Chosen from ``benchmarks/gpu.py`` (docs/benchmarks-gpu.md), C=5 on one H200: no checkpointing
peaks at 60 GiB; ``space`` alone at 39 GiB (too close to the 40 GiB goal for C=40);
``space`` + ``dynamics`` at 20 GiB for 4% more time than ``space`` alone.
"""


DFT_MAX_TOKENS = 1 << 18
"""Token grids up to this size run the AFNO transforms as matrix products, larger ones as FFTs
over per-channel planes (:class:`FastAFNO`)."""


def resolve_mode(mode: ExecMode, device: torch.device | str) -> Literal["eager", "fast"]:
    """``"auto"`` is ``"fast"`` on CUDA and ``"eager"`` elsewhere; the others pass through."""
    if mode not in ("auto", "eager", "fast"):
        raise ValueError(f"mode must be 'auto', 'eager' or 'fast', got {mode!r}")
    if mode == "auto":
        return "fast" if torch.device(device).type == "cuda" else "eager"
    return mode


# --------------------------------------------------------------------------------------------
# Fused variants of the blocks (same parameters, same outputs up to rounding)
# --------------------------------------------------------------------------------------------


def _fn(impl: FusedImpl, name: str) -> object:
    return compiled(name) if impl == "compiled" else FUSED[name]


def _mm_dtype(x: Tensor) -> torch.dtype:
    """Dtype of the AFNO spectral products: autocast's if on, else bf16/fp16 inputs', else fp32."""
    dev_type = x.device.type
    if torch.is_autocast_enabled(dev_type):
        return torch.get_autocast_dtype(dev_type)
    if x.dtype in (torch.bfloat16, torch.float16):
        return x.dtype
    return torch.float32


def _nhwc(x: Tensor) -> Tensor:
    """``x`` in channels-last layout (a no-op when it is already).

    The Inception stacks start from reshaped 5-D tensors (contiguous); a contiguous input makes
    cuDNN copy every branch convolution's input and output to and from channels-last (measured:
    ~15 ms of layout-transform kernels per C=5 forward on an H200), so it is converted once.
    """
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


def _glue_enabled() -> bool:
    """Whether the convolutions between the fused blocks run in their fused forms
    (:func:`_pointwise`, :class:`FastFoTF`, :class:`FastGFBlock`); the environment variable
    ``GLONET_REGIONS_FAST_GLUE=0`` turns them off (for A/B measurements)."""
    return os.environ.get("GLONET_REGIONS_FAST_GLUE", "1") != "0"


def _gn_from_conv() -> bool:
    """Whether :class:`FastInception` takes its GroupNorm statistics from the Triton
    convolution's epilogue in inference: opt-in (``GLONET_REGIONS_GN_FROM_CONV=1``); measured
    slower on an H100 (a 10-day forecast 1.79 -> 1.86 s, session 7: the epilogue slows the
    convolution more than the statistics pass it saves costs)."""
    return os.environ.get("GLONET_REGIONS_GN_FROM_CONV") == "1"


def _gn_branches_enabled() -> bool:
    """Whether :class:`FastInception` normalises and sums its branches in one fused function
    (:func:`~glonet_regions.model.fast_kernels.gn_lrelu_branches`) instead of one
    :func:`~glonet_regions.model.fast_kernels.gn_lrelu` per branch with a running sum; on by
    default, ``GLONET_REGIONS_GN_BRANCHES=0`` turns it off (for A/B measurements)."""
    return os.environ.get("GLONET_REGIONS_GN_BRANCHES", "1") != "0"


def _lproj_gemm_enabled() -> bool:
    """Whether :class:`FastGFBlock` runs its final LayerNorm and ``lproj`` as matrix products
    (:func:`~glonet_regions.model.fast_kernels.lproj_gemm`); on by default,
    ``GLONET_REGIONS_LPROJ_GEMM=0`` turns it off (for A/B measurements)."""
    return os.environ.get("GLONET_REGIONS_LPROJ_GEMM", "1") != "0"


def _is_unpatch(conv: nn.ConvTranspose2d) -> bool:
    """Whether ``conv`` maps each input pixel to its own output block: square kernel equal to
    the stride, no padding, one group, a bias."""
    k = conv.kernel_size
    return (
        k[0] == k[1] and tuple(conv.stride) == tuple(k) and tuple(conv.padding) == (0, 0)
        and tuple(conv.output_padding) == (0, 0) and tuple(conv.dilation) == (1, 1)
        and conv.groups == 1 and conv.bias is not None
    )  # fmt: skip


def _patch_gemm() -> bool:
    """Whether :class:`FastGFBlock` embeds patches with one GEMM
    (:func:`~glonet_regions.model.fast_kernels.patch_embed_gemm`) instead of cuDNN's strided
    convolution: on by default (a 10-day forecast 1.79 -> 1.72 s on an H100, session 7);
    ``GLONET_REGIONS_PATCH_GEMM=0`` turns it off."""
    return os.environ.get("GLONET_REGIONS_PATCH_GEMM", "1") != "0"


def _pointwise(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    x2: Tensor | None = None,
    weight2: Tensor | None = None,
) -> Tensor:
    """``conv2d(x, weight, bias) [+ conv2d(x2, weight2)]`` for 1x1 weights and channels-last
    inputs, as matrix products over the pixels (channels innermost).

    cuBLAS adds the bias in the product's epilogue (PyTorch's convolution adds it afterwards
    with a strided broadcast pass over the output) and the second product accumulates into
    the first's output in place, so the map is written once. The result is channels-last.
    """
    y = F.linear(x.permute(0, 2, 3, 1), weight.flatten(1), bias)  # (n, h, w, c_out)
    if x2 is not None:
        assert weight2 is not None
        flat = y.view(-1, y.shape[-1])
        flat.addmm_(x2.permute(0, 2, 3, 1).reshape(flat.shape[0], -1).to(y.dtype),
                    weight2.flatten(1).t().to(y.dtype))  # fmt: skip
    return y.permute(0, 3, 1, 2)


def _conv_t(conv: nn.ConvTranspose2d, x: Tensor) -> Tensor:
    """``conv(x)`` without its bias."""
    return F.conv_transpose2d(
        x, conv.weight, None, conv.stride, conv.padding,  # type: ignore[arg-type]
        conv.output_padding, conv.groups, conv.dilation,
    )  # fmt: skip


def _conv(conv: nn.Conv2d, x: Tensor, weight: Tensor | None = None) -> Tensor:
    """``conv(x)`` without its bias (optionally with another ``weight`` of the same shape)."""
    w = conv.weight if weight is None else weight
    return F.conv2d(x, w, None, conv.stride, conv.padding, conv.dilation, conv.groups)


def _conv_without_bias(conv: nn.Module, x: Tensor) -> Tensor:
    """A ``Conv2d`` or ``ConvTranspose2d`` without its bias (folded into the norm instead)."""
    if isinstance(conv, nn.ConvTranspose2d):
        return _conv_t(conv, x)
    assert isinstance(conv, nn.Conv2d)
    return grouped_conv(conv, x, "grouped", with_bias=False)


class FastBasicConv2d(BasicConv2d):
    """:class:`BasicConv2d` with bias + GroupNorm + LeakyReLU as one fused function.

    The convolution runs without its bias, which the fused norm adds to the channel means
    (:func:`~glonet_regions.model.fast_kernels.gn_lrelu`): one pass less over the full map.
    """

    fused_impl: FusedImpl = "eager"

    def forward(self, x: Tensor) -> Tensor:
        """Apply conv, then the fused bias, norm and activation."""
        norm = self.norm
        fn = _fn(self.fused_impl, "gn_lrelu")
        conv = self.conv
        out: Tensor = fn(  # type: ignore[operator]
            _conv_without_bias(conv, x), norm.weight, norm.bias, norm.num_groups, norm.eps,
            self.act.negative_slope, None, conv.bias,
        )  # fmt: skip
        return out


class FastInception(Inception):
    """:class:`Inception` whose branches fuse GroupNorm + LeakyReLU + the running branch sum.

    The grouped branch convolutions run through
    :func:`~glonet_regions.model.fast_conv.grouped_conv` with ``conv_strategy`` (cuDNN grouped,
    dense block-diagonal, or ``"auto"``: whichever is measured faster per shape).
    """

    fused_impl: FusedImpl = "eager"
    conv_strategy: ConvStrategy = "grouped"

    def forward(self, x: Tensor) -> Tensor:
        """Apply the 1x1 projection and accumulate the fused branches."""
        conv = self.conv1
        x = _nhwc(x)
        if not _glue_enabled() or x.dim() != 4:
            return self._branches(conv(x))
        return self._branches(_pointwise(x, conv.weight, conv.bias))

    def forward_concat(self, x: Tensor, skip: Tensor) -> Tensor:
        """``forward(cat([x, skip], dim=1))`` without the concatenation.

        The 1x1 projection of the concatenation is the sum of two projections with the two
        halves of its weight: two reads of the inputs instead of a read, a strided
        interleaving write and a read of the concatenated map. As matrix products over
        channels-last pixels, the bias is added in the first product's epilogue and the second
        accumulates into the first's output.
        """
        conv = self.conv1
        w = conv.weight
        cx = x.shape[1]
        x, skip = _nhwc(x), _nhwc(skip)
        if not _glue_enabled() or x.dim() != 4:
            y = F.conv2d(x, w[:, :cx], conv.bias)
            return self._branches(y + F.conv2d(skip, w[:, cx:]))
        return self._branches(_pointwise(x, w[:, :cx], conv.bias, skip, w[:, cx:]))

    def _branches(self, x: Tensor) -> Tensor:
        fn = _fn(self.fused_impl, "gn_lrelu")
        branches = [b for b in self.lls if isinstance(b, GroupConv2d)]
        convs = [b.conv for b in branches]
        assert len(branches) == len(self.lls) and all(isinstance(c, nn.Conv2d) for c in convs)
        # Statistics from the Triton convolution's epilogue (opt-in, inference): the GroupNorm
        # then reads each branch map once instead of twice.
        stats = _gn_from_conv() and self.conv_strategy == "auto" and not torch.is_grad_enabled()
        maps = self._combined(convs, x, stats)
        norms = [b.norm for b in branches]
        slopes = {b.activate.negative_slope for b in branches}
        together = (
            _gn_branches_enabled()
            and len({(n.num_groups, n.eps) for n in norms}) == 1
            and len(slopes) == 1
        )
        out: Tensor | None = None
        ys: list[Tensor] = []
        parts: list[Partials | None] = []
        for i, branch in enumerate(branches):
            norm = branch.norm
            conv = convs[i]
            partials: Partials | None = None
            if maps is not None:
                y, partials = maps[i]
            elif stats:
                y, partials = grouped_conv_stats(conv, x, self.conv_strategy, with_bias=False)
            else:
                y = grouped_conv(conv, x, self.conv_strategy, with_bias=False)
            if together:
                ys.append(y)
                parts.append(partials)
                continue
            out = fn(  # type: ignore[operator]
                y, norm.weight, norm.bias, norm.num_groups, norm.eps,
                branch.activate.negative_slope, out, conv.bias, partials,
            )  # fmt: skip
        if together:
            together_fn = _fn(self.fused_impl, "gn_lrelu_branches")
            out = together_fn(  # type: ignore[operator]
                ys, [n.weight for n in norms], [n.bias for n in norms], norms[0].num_groups,
                norms[0].eps, slopes.pop(), [c.bias for c in convs],
                None if all(p is None for p in parts) else parts,
            )  # fmt: skip
        assert out is not None
        return out

    def _combined(
        self, convs: list[nn.Conv2d], x: Tensor, stats: bool = False
    ) -> list[tuple[Tensor, Partials | None]] | None:
        """The branches' convolutions as one Triton kernel where it was measured faster than
        the branches run separately (see
        :func:`~glonet_regions.model.fast_conv.combined_branches`), as channel slices (with
        their slices of the partial statistics where ``stats`` asks and the kernel gives them).
        ``GLONET_REGIONS_INCEPTION_COMBINED=0`` turns it off."""
        if os.environ.get("GLONET_REGIONS_INCEPTION_COMBINED", "1") == "0":
            return None
        if self.conv_strategy != "auto" or len(convs) < 2:
            return None
        found = combined_branches(self, convs, x, stats=stats)
        if found is None:
            return None
        y, partials = found
        width = y.shape[1] // len(convs)
        out: list[tuple[Tensor, Partials | None]] = []
        for i in range(len(convs)):
            part: Partials | None = None
            if partials is not None:
                sums, m2, counts = partials
                cut = slice(i * width, (i + 1) * width)
                part = (sums[..., cut], m2[..., cut], counts)
            out.append((y[:, i * width : (i + 1) * width], part))
        return out


class FastAFNO(AdativeFourierNeuralOperator):
    """AFNO with the spectral MLP as two batched matrix products over interleaved real/imag.

    Same parameters as :class:`AdativeFourierNeuralOperator`. The 1x1 ``Conv1d`` skip runs as
    the equivalent ``linear``; the spectral MLP (eight float32 einsums and the complex
    assembly in eager) becomes two ``bmm`` calls on weights folded by
    :func:`~glonet_regions.model.fast_kernels.afno_fold`. The FFTs stay float32; the
    matrix products run in the autocast dtype when autocast is on (bf16), else in the
    tokens' dtype with float32 weights folded first.

    Without gradients the folded weights are cached (keyed on the parameters' in-place
    version counters, so an optimizer step or ``load_state_dict`` refolds them).
    ``fft_layout`` picks how the 2-D transforms run (see
    :func:`~glonet_regions.model.fast_kernels.afno_mix`); ``None`` (default) chooses by the
    token count: ``"dft"`` up to :data:`DFT_MAX_TOKENS` (``space.NO``'s 68 x 55 grid and
    ``dynamics``' 544 x 440 grid), ``"planes"`` beyond (the DFT's work grows with ``h + w``
    per token, the FFT's with ``log(h w)``). ``"tokens"`` is the plain FFT layout. Measured on
    an H200 (docs/benchmarks-gpu.md, round 5).
    """

    fft_layout: SpectralLayout | None = None

    def forward(self, x: Tensor, h: int, w: int) -> Tensor:
        """Same as :meth:`AdativeFourierNeuralOperator.forward` up to rounding."""
        return afno_mix(x, h, w, *self.fused_args(_mm_dtype(x), h, w, x.device))

    def folded(self, mm_dtype: torch.dtype) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The folded spectral weights in ``mm_dtype`` (cached while no gradient is recorded)."""
        params = (self.w1, self.b1, self.w2, self.b2)
        return derived_weights(
            self, "_folded_cache", params, mm_dtype, lambda: afno_fold(*params, mm_dtype)
        )

    def layout_for(self, tokens: int) -> SpectralLayout:
        """The transform layout used on a grid of ``tokens`` tokens."""
        if self.fft_layout is not None:
            return self.fft_layout
        return "dft" if tokens <= DFT_MAX_TOKENS else "planes"

    def fused_args(self, mm_dtype: torch.dtype, h: int, w: int, device: torch.device) -> AfnoArgs:
        """Skip weight and bias, folded weights, threshold, layout, DFT matrices (``afno_mix``)."""
        assert self.bias.bias is not None
        layout = self.layout_for(h * w)
        dft = dft_matrices(h, w, mm_dtype, device) if layout == "dft" else None
        return (
            self.bias.weight, self.bias.bias, self.folded(mm_dtype), self.sparsity_threshold,
            layout, dft,
        )  # fmt: skip


class FastFourierNetBlock(FourierNetBlock):
    """:class:`FourierNetBlock` as one fused function (LayerNorms, AFNO, MLP, residuals).

    With a :class:`FastAFNO` filter the whole block is
    :func:`~glonet_regions.model.fast_kernels.fourier_block` (compiled as one graph on CUDA);
    otherwise only the MLP half (LayerNorm + fc1 + GELU + pooling + residual) is fused.
    """

    fused_impl: FusedImpl = "eager"

    def forward(self, x: Tensor, h: int, w: int) -> Tensor:
        """Apply the block to tokens ``(B, h*w, D)``."""
        ln = self.normlayer2
        fc1_w, fc1_b, pool_major = self._fc1()
        f = self.filter
        if isinstance(f, FastAFNO):
            ln1 = self.normlayer1
            block = _fn(self.fused_impl, "fourier_block")
            y: Tensor = block(  # type: ignore[operator]
                x, h, w, (ln1.weight, ln1.bias, ln1.eps),
                f.fused_args(_mm_dtype(x), h, w, x.device),
                (ln.weight, ln.bias, ln.eps), (fc1_w, fc1_b), pool_major,
            )  # fmt: skip
            return y
        x = x + self.filter(self.normlayer1(x), h, w)
        fn = _fn(self.fused_impl, "mlp_residual")
        out: Tensor = fn(x, ln.weight, ln.bias, ln.eps, fc1_w, fc1_b, pool_major)  # type: ignore[operator]
        return out

    def _fc1(self) -> tuple[Tensor, Tensor, bool]:
        """``fc1``'s weight and bias, in the pooling-major row order
        (:func:`~glonet_regions.model.fast_kernels.pool_major_fc1`, cached in inference) where
        the hidden width is a multiple of the token width; ``GLONET_REGIONS_POOL_MAJOR=0``
        keeps the published order (for A/B measurements)."""
        fc1 = self.mlp.fc1
        d = fc1.weight.shape[1]
        off = os.environ.get("GLONET_REGIONS_POOL_MAJOR", "1") == "0"
        if off or fc1.bias is None or fc1.weight.shape[0] % d:
            return fc1.weight, fc1.bias, False
        w, b = derived_weights(
            self.mlp, "_pool_major_cache", (fc1.weight, fc1.bias), None,
            lambda: pool_major_fc1(fc1.weight, fc1.bias),
        )  # fmt: skip
        return w, b, True


class FastGFBlock(GFBlock):
    """:class:`GFBlock` with its convolutions' biases added in fused passes.

    The patch embedding runs without its bias, which joins the position embedding in one pass
    that also lays out the tokens: by default the embedding is one GEMM over the patches
    with the bias and position in its epilogue
    (:func:`~glonet_regions.model.fast_kernels.patch_embed_gemm`; with
    ``GLONET_REGIONS_PATCH_GEMM=0``, cuDNN's strided convolution and
    :func:`~glonet_regions.model.fast_kernels.patch_tokens`);
    the final LayerNorm and ``lproj`` (three transposed convolutions whose kernels equal their
    strides) run as three matrix products and one permuting pass
    (:func:`~glonet_regions.model.fast_kernels.lproj_gemm`; with
    ``GLONET_REGIONS_LPROJ_GEMM=0``, or other ``lproj`` shapes, each transposed convolution
    runs without its bias, added together with the following tanh,
    :func:`~glonet_regions.model.fast_kernels.bias_act`).
    """

    fused_impl: FusedImpl = "eager"

    def forward(self, x: Tensor, pos: Tensor | None = None) -> Tensor:
        """Same as :meth:`GFBlock.forward` up to rounding."""
        n, _, height, width = x.shape
        h, w = height // self.patch_size, width // self.patch_size
        if pos is None:
            pos = self.position_embedding((h, w))
        proj = self.patch_embed.projection
        if _patch_gemm() and height % self.patch_size == 0 and width % self.patch_size == 0:
            embed = _fn(self.fused_impl, "patch_embed_gemm")
            z: Tensor = embed(x, proj.weight, proj.bias, pos)  # type: ignore[operator]
        else:
            tokens = _fn(self.fused_impl, "patch_tokens")
            z = tokens(_conv(proj, x), proj.bias, pos)  # type: ignore[operator]
        for blk in self.blks:
            z = maybe_checkpoint(blk, z, h, w, enabled=self.use_checkpoint)
        t1, _, t2, _, t3 = self.lproj
        assert isinstance(t1, nn.ConvTranspose2d) and isinstance(t2, nn.ConvTranspose2d)
        assert isinstance(t3, nn.ConvTranspose2d)
        convs = (t1, t2, t3)
        ln = self.norm
        plain_norm = type(ln) is nn.LayerNorm and ln.weight is not None and ln.bias is not None
        if _lproj_gemm_enabled() and plain_norm and all(_is_unpatch(t) for t in convs):
            params = tuple(p for t in convs for p in (t.weight, t.bias))
            mats = derived_weights(
                self, "_lproj_cache", params, None,  # type: ignore[arg-type]
                lambda: tuple(lproj_matrices(t.weight, t.bias) for t in convs),  # type: ignore[arg-type]
            )  # fmt: skip
            layers = tuple((m, b, t.stride[0]) for (m, b), t in zip(mats, convs, strict=True))
            head = _fn(self.fused_impl, "lproj_gemm")
            y: Tensor = head(z, h, w, (ln.weight, ln.bias, ln.eps), layers)  # type: ignore[operator]
            return y
        z = self.norm(z)
        z = z.transpose(1, 2).reshape(n, -1, h, w)
        fn = _fn(self.fused_impl, "bias_act")
        z = fn(_conv_t(t1, z), t1.bias, None, "tanh")  # type: ignore[operator]
        z = fn(_conv_t(t2, z), t2.bias, None, "tanh")  # type: ignore[operator]
        out: Tensor = fn(_conv_t(t3, z), t3.bias)  # type: ignore[operator]
        return out


class FastFoTF(FoTF):
    """:class:`FoTF` with the local branch folded into the 1x1 convolution that reads it.

    The local branch ``NN`` is a 1x1 transposed convolution and is only ever read through the
    1x1 ``conv1x1`` (and once by the final sum), so ``conv1x1(NN(u))`` is one 1x1 convolution
    of ``u`` with the product of the two weights (and the folded biases): at full resolution
    that removes six of the seven ``NN`` convolutions. Every convolution runs without its bias;
    the biases join the sums in one pass each
    (:func:`~glonet_regions.model.fast_kernels.bias_act`), where PyTorch would add each bias in
    its own strided pass over the map.
    """

    fused_impl: FusedImpl = "eager"

    def local_weights(self) -> tuple[Tensor, Tensor, Tensor]:
        """``NN``'s weight as a ``conv2d`` weight, and the weight and bias of
        ``conv1x1(NN(.))`` (float32; cached while no gradient is recorded)."""
        nn_conv, c1 = self.NN.upconv, self.conv1x1
        nn_bias, c1_bias = nn_conv.bias, c1.bias
        assert nn_bias is not None and c1_bias is not None
        params = (nn_conv.weight, nn_bias, c1.weight, c1_bias)

        def build() -> tuple[Tensor, Tensor, Tensor]:
            with torch.autocast(device_type=nn_conv.weight.device.type, enabled=False):
                w_nn = nn_conv.weight.float().transpose(0, 1)  # (out, in, 1, 1)
                w_c = c1.weight.float().flatten(1)
                w = (w_c @ w_nn.flatten(1)).reshape_as(c1.weight)
                b = w_c @ nn_bias.float() + c1_bias.float()
            return w_nn, w, b

        return derived_weights(self, "_local_cache", params, None, build)

    def forward(self, x: Tensor) -> Tensor:
        """Same as :meth:`FoTF.forward` up to rounding."""
        b, t, c, h, w = x.shape
        frames = x.reshape(b * t, c, h, w)
        no = self.NO
        pos = no.position_embedding((h // no.patch_size, w // no.patch_size))
        w_nn, w_loc, b_loc = self.local_weights()
        fn = _fn(self.fused_impl, "bias_act")
        assert self.up.bias is not None and self.down.bias is not None
        up_bias, down_bias = self.up.bias + b_loc, self.down.bias + b_loc
        g, prev = no(frames, pos), frames
        for _ in range(self.num_interactions):
            u: Tensor = fn(_conv_t(self.up, g), up_bias, _conv(self.conv1x1, prev, w_loc))  # type: ignore[operator]
            g, prev = no(u, pos), u
            d: Tensor = fn(_conv(self.down, g), down_bias, _conv(self.conv1x1, prev, w_loc))  # type: ignore[operator]
            g, prev = no(d, pos), d
        out: Tensor = fn(_conv(self.conv1x1, prev, w_nn), self.NN.upconv.bias, g)  # type: ignore[operator]
        return out.reshape(b, t, c, h, w)


_SWAPS: dict[type[nn.Module], type[nn.Module]] = {
    BasicConv2d: FastBasicConv2d,
    Inception: FastInception,
    AdativeFourierNeuralOperator: FastAFNO,
    FourierNetBlock: FastFourierNetBlock,
    GFBlock: FastGFBlock,
    FoTF: FastFoTF,
}


def _swappable(module: nn.Module) -> bool:
    """Whether the fused variant computes what ``module`` computes.

    The fused variants read the layers' parameters directly, so a layer replaced by a wrapper
    (a LoRA adapter around ``mlp.fc1`` or the AFNO's ``bias``, any wrapper around an
    Inception's convolutions) keeps its block eager.
    """
    if isinstance(module, FourierNetBlock):
        # The fused MLP half assumes the published identities (DropPath, Dropout(0)).
        return (
            isinstance(module.drop_path, nn.Identity)
            and module.mlp.drop.p == 0.0
            and type(module.mlp.fc1) is nn.Linear
        )
    if isinstance(module, AdativeFourierNeuralOperator):
        return type(module.bias) is nn.Conv1d
    if isinstance(module, Inception):  # reads conv1's and the branches' weights directly
        convs = [module.conv1] + [getattr(b, "conv", None) for b in module.lls]
        return all(type(c) is nn.Conv2d for c in convs)
    if isinstance(module, GFBlock):
        lp = module.lproj
        return (
            _glue_enabled()
            and type(module.patch_embed.projection) is nn.Conv2d
            and isinstance(module.patch_embed.norm, nn.Identity)
            and isinstance(module.final_dropout, nn.Identity)
            and _no_dropout(module.pos_drop)
            and [type(m) for m in lp] == [nn.ConvTranspose2d, nn.Tanh] * 2 + [nn.ConvTranspose2d]
            and all(getattr(m, "bias", 0) is not None for m in lp)
            and module.patch_embed.projection.bias is not None
        )
    if isinstance(module, FoTF):
        local, c1 = module.NN.upconv, module.conv1x1
        return (
            _glue_enabled()
            and type(module.NN) is LocalCNNBranch
            and type(local) is nn.ConvTranspose2d
            and type(module.up) is nn.ConvTranspose2d
            and type(module.down) is nn.Conv2d and module.down.padding_mode == "zeros"
            and type(c1) is nn.Conv2d
            and all(m.bias is not None for m in (local, c1, module.up, module.down))
            and local.kernel_size == (1, 1) and local.stride == (1, 1) and local.padding == (0, 0)
            and local.groups == 1 and c1.kernel_size == (1, 1) and c1.groups == 1
            and c1.stride == (1, 1) and c1.padding == (0, 0)
        )  # fmt: skip
    return True


def _no_dropout(module: nn.Module) -> bool:
    return isinstance(module, nn.Identity) or (isinstance(module, nn.Dropout) and module.p == 0.0)


def fuse_blocks(model: nn.Module, impl: FusedImpl) -> int:
    """Swap the blocks of ``model`` for their fused variants in place; returns how many.

    Only the classes change (parameters, buffers and names stay), so ``state_dict`` is
    identical. Already swapped blocks just get their ``impl`` updated.
    """
    count = 0
    for module in model.modules():
        fast = _SWAPS.get(type(module))
        if fast is not None and _swappable(module):
            module.__class__ = fast
        if type(module) in _SWAPS.values():
            if hasattr(type(module), "fused_impl"):
                module.fused_impl = impl  # type: ignore[assignment]
            count += 1
    return count


def set_checkpoint_branches(model: Glonet, branches: Iterable[str]) -> None:
    """Recompute activations in backward for exactly these branches of ``model``.

    Args:
        model: The network.
        branches: Any of ``"space"`` (the 12 AFNO blocks of ``space.NO``, run 7 times),
            ``"dynamics"`` (its Inception stacks and 12 AFNO blocks) and ``"jump"`` (its
            Inception stacks).
    """
    chosen = set(branches)
    unknown = chosen - set(CHECKPOINT_BRANCHES)
    if unknown:
        raise ValueError(
            f"unknown checkpoint branches {sorted(unknown)}; valid: {list(CHECKPOINT_BRANCHES)}"
        )
    model.set_checkpoint_blocks(False)
    model.space.NO.use_checkpoint = "space" in chosen
    model.dynamics.use_checkpoint = "dynamics" in chosen
    model.jump.mmb.use_checkpoint = "jump" in chosen
    if chosen:
        model.config = model.config.replace(checkpoint_blocks=True)


def _channels_last(model: nn.Module) -> None:
    """Store wide convolution weights channels-last (activations follow the weight layout).

    Left as they are: the ``space`` branch (its transposed convolutions and few-channel full
    resolution convolutions ran slower channels-last in cuDNN: C=40 forward 1.09 s against 1.02 s
    eager), the first and last convolutions (C input or output channels) and any convolution
    with fewer than 16 input or output channels.
    """
    skip: set[int] = set()
    config = getattr(model, "config", None)
    io_channels = getattr(config, "channels", -1)
    space = getattr(model, "space", None)
    if isinstance(space, nn.Module):
        skip = {id(m) for m in space.modules()}
    for module in model.modules():
        if id(module) in skip or not isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            continue
        if min(module.in_channels, module.out_channels) < 16:
            continue
        if io_channels in (module.in_channels, module.out_channels):
            continue
        module.weight.data = module.weight.data.contiguous(memory_format=torch.channels_last)


def optimise_model(
    model: nn.Module,
    *,
    device: torch.device | str,
    mode: ExecMode = "auto",
    training: bool,
    checkpoint: Sequence[str] | None = None,
    compile_fused: bool | None = None,
    conv_strategy: ConvStrategy | None = None,
) -> nn.Module:
    """Prepare a GLONET network for fast training or inference on ``device`` (in place).

    Args:
        model: A :class:`~glonet_regions.model.network.Glonet` (other modules are only moved).
        device: Where it runs.
        mode: ``"auto"`` (fast on CUDA, eager elsewhere), ``"eager"`` (as built) or ``"fast"``.
        training: Put the model in train mode (and apply ``checkpoint``) or in eval mode.
        checkpoint: Branches to checkpoint in training (see :func:`set_checkpoint_branches`);
            ``None`` keeps the model's own setting in eager mode and uses
            :data:`DEFAULT_TRAIN_CHECKPOINT` in fast mode.
        compile_fused: Compile the fused functions with ``torch.compile`` (default: on CUDA).
            Compilation happens lazily on first use, per shape, and is cached on disk.
        conv_strategy: How the Inception branches' grouped convolutions run (see
            :func:`~glonet_regions.model.fast_conv.grouped_conv`); default ``"auto"`` on CUDA
            (measure cuDNN grouped against dense block-diagonal per shape on first use),
            ``"grouped"`` elsewhere.

    Returns:
        The same module, moved, in train or eval mode. Run it under
        ``torch.autocast("cuda", torch.bfloat16)`` as before; weights stay float32.
    """
    dev = torch.device(device)
    resolved = resolve_mode(mode, dev)
    model.to(dev)
    model.train(training)
    if resolved == "eager":
        if checkpoint is not None and isinstance(model, Glonet):
            set_checkpoint_branches(model, checkpoint)
        return model
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    _channels_last(model)
    use_compile = dev.type == "cuda" if compile_fused is None else compile_fused
    fuse_blocks(model, "compiled" if use_compile else "eager")
    strategy: ConvStrategy = (
        conv_strategy if conv_strategy is not None else "auto" if dev.type == "cuda" else "grouped"
    )
    for module in model.modules():
        if isinstance(module, FastInception):
            module.conv_strategy = strategy
    if training and isinstance(model, Glonet):
        set_checkpoint_branches(
            model, DEFAULT_TRAIN_CHECKPOINT if checkpoint is None else checkpoint
        )
    return model


# --------------------------------------------------------------------------------------------
# Inference: graph-captured rollouts, one stream per depth group
# --------------------------------------------------------------------------------------------


class ForecastRunner:
    """Runs ``n_calls`` autoregressive calls of one network, replaying a captured CUDA graph.

    On CUDA with ``use_graph`` the first call with a given input shape warms up (cuDNN
    autotuning, lazy compilation) and captures the whole rollout into a graph with static input
    and output buffers; later calls copy the input in (``non_blocking``, so pinned host input
    overlaps) and replay it. Without a graph (CPU, or ``use_graph=False``) it is plain
    :func:`~glonet_regions.model.rollout.rollout`.

    Args:
        model: The network, already on its device (see :func:`optimise_model`).
        n_calls: Calls per forecast (5 for 10 days).
        ocean_mask: Passed to :func:`rollout`.
        boundary: Passed to :func:`rollout`; under a graph it must be capturable (tensor ops
            on the device only, no host synchronisation).
        use_graph: Capture a CUDA graph (default: on CUDA).
        device: Where to run (default: where the model's parameters are, else CPU).
        autocast_dtype: Autocast dtype on CUDA (``None`` runs in float32).

    Note:
        With a graph, the returned tensor is the runner's static output buffer: the next call
        overwrites it. Copy it (e.g. into pinned host memory) before calling again.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        n_calls: int = 5,
        ocean_mask: Tensor | None = None,
        boundary: BoundaryFn | None = None,
        use_graph: bool | None = None,
        autocast_dtype: torch.dtype | None = torch.bfloat16,
        device: torch.device | str | None = None,
    ) -> None:
        self.model = model
        param = next(model.parameters(), None)
        if device is not None:
            self.device = torch.device(device)
        else:
            self.device = param.device if param is not None else torch.device("cpu")
        self.n_calls = n_calls
        self.ocean_mask = None if ocean_mask is None else ocean_mask.to(self.device)
        self.boundary = boundary
        cuda = self.device.type == "cuda"
        self.use_graph = cuda if use_graph is None else (use_graph and cuda)
        self.autocast_dtype = autocast_dtype if cuda else None
        self.stream: torch.cuda.Stream | None = torch.cuda.Stream(self.device) if cuda else None
        self._graph: torch.cuda.CUDAGraph | None = None
        self._static_in: Tensor | None = None
        self._static_out: Tensor | None = None

    def _rollout(self, x0: Tensor) -> Tensor:
        enabled = self.autocast_dtype is not None
        dtype = self.autocast_dtype or torch.float32
        with torch.autocast(self.device.type, dtype=dtype, enabled=enabled):
            out = rollout(
                self.model, x0, self.n_calls, ocean_mask=self.ocean_mask,
                boundary=self.boundary, grad=False,
            )  # fmt: skip
        return out.float()

    def capture(self, x0: Tensor) -> None:
        """Warm up on ``x0`` and capture the rollout for its shape (done on first call)."""
        self._graph = None
        static_in = torch.empty(x0.shape, dtype=torch.float32, device=self.device)
        static_in.copy_(x0)
        current = torch.cuda.current_stream(self.device)
        side = torch.cuda.Stream(self.device)
        side.wait_stream(current)
        with torch.cuda.stream(side):
            self._rollout(static_in)  # cuDNN autotuning and compilation happen here
        current.wait_stream(side)
        current.synchronize()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_out = self._rollout(static_in)
        self._graph, self._static_in, self._static_out = graph, static_in, static_out

    def __call__(self, x0: Tensor) -> Tensor:
        """Forecast from ``x0`` ``(B, T, C, H, W)`` (host or device); returns float32 on device."""
        if not self.use_graph:
            return self._rollout(x0.to(self.device, non_blocking=True).float())
        static_in = self._static_in
        if self._graph is None or static_in is None or static_in.shape != x0.shape:
            self.capture(x0)
        else:
            static_in.copy_(x0, non_blocking=True)
        assert self._graph is not None and self._static_out is not None
        self._graph.replay()
        return self._static_out

    def pinned_output(self, x0_shape: Sequence[int]) -> Tensor:
        """A pinned float32 host buffer shaped like the forecast of an input of ``x0_shape``."""
        b, t, c, h, w = x0_shape
        shape = (b, t * self.n_calls, c, h, w)
        return torch.empty(shape, dtype=torch.float32, pin_memory=self.device.type == "cuda")


def forecast_groups(
    runners: Mapping[str, ForecastRunner],
    inputs: Mapping[str, Tensor],
    *,
    concurrent: bool = True,
    host_outputs: Mapping[str, Tensor] | None = None,
) -> dict[str, Tensor]:
    """Forecast several depth groups, each on its own CUDA stream when ``concurrent``.

    Args:
        runners: One runner per group name.
        inputs: The initial window per group; pinned host tensors copy asynchronously, so one
            group's copy overlaps another's compute.
        concurrent: Put each group on its runner's stream (else all on the current stream).
        host_outputs: Optional pinned host buffers (:meth:`ForecastRunner.pinned_output`) per
            group: the forecast is copied there asynchronously on the group's stream.

    Returns:
        The forecast per group (device tensors, or the host buffers when given). All work is
        finished when this returns.
    """
    missing = set(runners) - set(inputs)
    if missing:
        raise ValueError(f"no input for groups {sorted(missing)}")
    results: dict[str, Tensor] = {}
    cuda_streams: list[torch.cuda.Stream] = []
    for name, runner in runners.items():
        stream = runner.stream if concurrent else None
        if stream is None:
            out = runner(inputs[name])
            if host_outputs is not None:
                host_outputs[name].copy_(out, non_blocking=True)
                out = host_outputs[name]
            results[name] = out
            continue
        stream.wait_stream(torch.cuda.current_stream(runner.device))
        with torch.cuda.stream(stream):
            out = runner(inputs[name])
            if host_outputs is not None:
                host_outputs[name].copy_(out, non_blocking=True)
                out = host_outputs[name]
        results[name] = out
        cuda_streams.append(stream)
    for stream in cuda_streams:
        stream.synchronize()
    if torch.cuda.is_available() and any(r.device.type == "cuda" for r in runners.values()):
        torch.cuda.synchronize()
    return results
