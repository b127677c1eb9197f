"""The fused variants of the GLONET blocks (same parameters, same outputs up to rounding).

:func:`~glonet_regions.model.gpu.optimise.optimise_model` swaps each block's class for its
variant here; only the class changes, so the state dict is identical. Each variant reads its
switches from its ``options`` (:class:`~glonet_regions.model.gpu.options.GpuOptions`, set when
the blocks are swapped) and runs the fused functions of :mod:`glonet_regions.model.gpu.kernels`
(eager, or compiled with ``torch.compile`` on CUDA).
"""

from __future__ import annotations

from typing import Literal

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
    maybe_checkpoint,
)
from glonet_regions.model.gpu.conv import (
    ConvStrategy,
    combined_branches,
    grouped_conv,
)
from glonet_regions.model.gpu.kernels import (
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
from glonet_regions.model.gpu.options import GpuOptions

__all__ = [
    "DFT_MAX_TOKENS",
    "FastAFNO",
    "FastBasicConv2d",
    "FastFoTF",
    "FastFourierNetBlock",
    "FastGFBlock",
    "FastInception",
    "FusedImpl",
]

FusedImpl = Literal["eager", "compiled"]

DFT_MAX_TOKENS = 1 << 18
"""Token grids up to this size run the AFNO transforms as matrix products, larger ones as FFTs
over per-channel planes (:class:`FastAFNO`)."""


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
    cuDNN copy every branch convolution's input and output to and from channels-last, so it is
    converted once.
    """
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


def _is_unpatch(conv: nn.ConvTranspose2d) -> bool:
    """Whether ``conv`` maps each input pixel to its own output block: square kernel equal to
    the stride, no padding, one group, a bias."""
    k = conv.kernel_size
    return (
        k[0] == k[1] and tuple(conv.stride) == tuple(k) and tuple(conv.padding) == (0, 0)
        and tuple(conv.output_padding) == (0, 0) and tuple(conv.dilation) == (1, 1)
        and conv.groups == 1 and conv.bias is not None
    )  # fmt: skip


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
    (:func:`~glonet_regions.model.gpu.kernels.gn_lrelu`): one pass less over the full map.
    """

    fused_impl: FusedImpl = "eager"
    options: GpuOptions = GpuOptions()

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
    :func:`~glonet_regions.model.gpu.conv.grouped_conv` with ``conv_strategy`` (cuDNN grouped,
    dense block-diagonal, or ``"auto"``: whichever is measured faster per shape).
    """

    fused_impl: FusedImpl = "eager"
    options: GpuOptions = GpuOptions()
    conv_strategy: ConvStrategy = "grouped"

    def forward(self, x: Tensor) -> Tensor:
        """Apply the 1x1 projection and accumulate the fused branches."""
        conv = self.conv1
        x = _nhwc(x)
        if not self.options.enabled("fast_glue") or x.dim() != 4:
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
        if not self.options.enabled("fast_glue") or x.dim() != 4:
            y = F.conv2d(x, w[:, :cx], conv.bias)
            return self._branches(y + F.conv2d(skip, w[:, cx:]))
        return self._branches(_pointwise(x, w[:, :cx], conv.bias, skip, w[:, cx:]))

    def _branches(self, x: Tensor) -> Tensor:
        branches = [b for b in self.lls if isinstance(b, GroupConv2d)]
        convs = [b.conv for b in branches]
        assert len(branches) == len(self.lls) and all(isinstance(c, nn.Conv2d) for c in convs)
        maps = self._combined(convs, x)
        if maps is None:
            maps = [grouped_conv(c, x, self.conv_strategy, with_bias=False) for c in convs]
        norms = [b.norm for b in branches]
        slopes = {b.activate.negative_slope for b in branches}
        together = (
            self.options.enabled("gn_branches")
            and len({(n.num_groups, n.eps) for n in norms}) == 1
            and len(slopes) == 1
        )
        if together:
            together_fn = _fn(self.fused_impl, "gn_lrelu_branches")
            out: Tensor = together_fn(  # type: ignore[operator]
                maps, [n.weight for n in norms], [n.bias for n in norms], norms[0].num_groups,
                norms[0].eps, slopes.pop(), [c.bias for c in convs],
            )  # fmt: skip
            return out
        fn = _fn(self.fused_impl, "gn_lrelu")
        acc: Tensor | None = None
        for branch, conv, y in zip(branches, convs, maps, strict=True):
            norm = branch.norm
            acc = fn(  # type: ignore[operator]
                y, norm.weight, norm.bias, norm.num_groups, norm.eps,
                branch.activate.negative_slope, acc, conv.bias,
            )  # fmt: skip
        assert acc is not None
        return acc

    def _combined(self, convs: list[nn.Conv2d], x: Tensor) -> list[Tensor] | None:
        """The branches' convolutions as one Triton kernel where it was measured faster than
        the branches run separately (see
        :func:`~glonet_regions.model.gpu.conv.combined_branches`), as channel slices; ``None``
        where it does not serve or the ``inception_combined`` fusion is off."""
        if not self.options.enabled("inception_combined"):
            return None
        if self.conv_strategy != "auto" or len(convs) < 2:
            return None
        y = combined_branches(self, convs, x)
        if y is None:
            return None
        width = y.shape[1] // len(convs)
        return [y[:, i * width : (i + 1) * width] for i in range(len(convs))]


class FastAFNO(AdativeFourierNeuralOperator):
    """AFNO with the spectral MLP as two batched matrix products over interleaved real/imag.

    Same parameters as :class:`AdativeFourierNeuralOperator`. The 1x1 ``Conv1d`` skip runs as
    the equivalent ``linear``; the spectral MLP (eight float32 einsums and the complex
    assembly in eager) becomes two ``bmm`` calls on weights folded by
    :func:`~glonet_regions.model.gpu.kernels.afno_fold`. The FFTs stay float32; the
    matrix products run in the autocast dtype when autocast is on (bf16), else in the
    tokens' dtype with float32 weights folded first.

    Without gradients the folded weights are cached (keyed on the parameters' in-place
    version counters, so an optimizer step or ``load_state_dict`` refolds them).
    ``fft_layout`` picks how the 2-D transforms run (see
    :func:`~glonet_regions.model.gpu.kernels.afno_mix`); ``None`` (default) chooses by the
    token count: ``"dft"`` up to :data:`DFT_MAX_TOKENS` (``space.NO``'s 68 x 55 grid and
    ``dynamics``' 544 x 440 grid), ``"planes"`` beyond (the DFT's work grows with ``h + w``
    per token, the FFT's with ``log(h w)``).
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
    :func:`~glonet_regions.model.gpu.kernels.fourier_block` (compiled as one graph on CUDA);
    otherwise only the MLP half (LayerNorm + fc1 + GELU + pooling + residual) is fused.
    """

    fused_impl: FusedImpl = "eager"
    options: GpuOptions = GpuOptions()

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
        (:func:`~glonet_regions.model.gpu.kernels.pool_major_fc1`, cached in inference) where
        the hidden width is a multiple of the token width; ``GLONET_REGIONS_POOL_MAJOR=0``
        keeps the published order (for A/B measurements)."""
        fc1 = self.mlp.fc1
        d = fc1.weight.shape[1]
        off = not self.options.enabled("pool_major")
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
    (:func:`~glonet_regions.model.gpu.kernels.patch_embed_gemm`; with
    ``GLONET_REGIONS_PATCH_GEMM=0``, cuDNN's strided convolution and
    :func:`~glonet_regions.model.gpu.kernels.patch_tokens`);
    the final LayerNorm and ``lproj`` (three transposed convolutions whose kernels equal their
    strides) run as three matrix products and one permuting pass
    (:func:`~glonet_regions.model.gpu.kernels.lproj_gemm`; with
    ``GLONET_REGIONS_LPROJ_GEMM=0``, or other ``lproj`` shapes, each transposed convolution
    runs without its bias, added together with the following tanh,
    :func:`~glonet_regions.model.gpu.kernels.bias_act`).
    """

    fused_impl: FusedImpl = "eager"
    options: GpuOptions = GpuOptions()

    def forward(self, x: Tensor, pos: Tensor | None = None) -> Tensor:
        """Same as :meth:`GFBlock.forward` up to rounding."""
        n, _, height, width = x.shape
        h, w = height // self.patch_size, width // self.patch_size
        if pos is None:
            pos = self.position_embedding((h, w))
        proj = self.patch_embed.projection
        if (
            self.options.enabled("patch_gemm")
            and height % self.patch_size == 0
            and width % self.patch_size == 0
        ):
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
        if self.options.enabled("lproj_gemm") and plain_norm and all(_is_unpatch(t) for t in convs):
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
    (:func:`~glonet_regions.model.gpu.kernels.bias_act`), where PyTorch would add each bias in
    its own strided pass over the map.
    """

    fused_impl: FusedImpl = "eager"
    options: GpuOptions = GpuOptions()

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
