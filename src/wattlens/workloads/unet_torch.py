"""Plain-torch stand-ins for diffusers' ``UNet2DConditionModel`` and the AutoencoderKL decoder, plus DDIM.

One UNet for every use: the text-to-image workload runs it when diffusers is not installed
(``w.info["unet_impl"] == "torch"``), and ``wattlens analyze`` traces it for the UNet presets. It is a
re-implementation of diffusers' module for the kwargs the presets use (SD 1.x layout): same modules,
parameter names, shapes and op sequence as diffusers 0.2x (conv 1x1 proj_in/out, GEGLU feed-forward, one
transformer block per attention, ``attention_head_dim`` = number of heads as in SD 1.x configs), so a
diffusers state dict loads into it and the outputs agree (``tests/workloads/test_models.py``).

The VAE decoder is a stand-in of the same channel plan (``layers_per_block + 1`` residual blocks per
level, x2 up-sampling between levels), close to but not identical with diffusers' in parameters and FLOPs.
Weights are never trained here: valid for energy, latency, FLOPs and bytes, not for images.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


class Timesteps(nn.Module):
    def __init__(self, dim: int, flip_sin_to_cos: bool = True, freq_shift: float = 0.0) -> None:
        super().__init__()
        self.dim, self.flip, self.shift = dim, flip_sin_to_cos, freq_shift

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        exponent = -math.log(10000) * torch.arange(half, dtype=torch.float32, device=t.device) / (half - self.shift)
        emb = t[:, None].float() * torch.exp(exponent)[None, :]
        emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
        return torch.cat([emb[:, half:], emb[:, :half]], dim=-1) if self.flip else emb


class TimestepEmbedding(nn.Module):
    def __init__(self, in_dim: int, dim: int) -> None:
        super().__init__()
        self.linear_1, self.linear_2 = nn.Linear(in_dim, dim), nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_2(F.silu(self.linear_1(x)))


class ResnetBlock2D(nn.Module):
    def __init__(self, cin: int, cout: int, temb: int, groups: int = 32, eps: float = 1e-5) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=eps)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb, cout)
        self.norm2 = nn.GroupNorm(groups, cout, eps=eps)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.conv_shortcut(x) if self.conv_shortcut is not None else x) + h


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int, cross_dim: int | None = None) -> None:
        super().__init__()
        inner = heads * dim_head
        self.heads = heads
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_k = nn.Linear(cross_dim or dim, inner, bias=False)
        self.to_v = nn.Linear(cross_dim or dim, inner, bias=False)
        self.to_out = nn.ModuleList([nn.Linear(inner, dim), nn.Dropout(0.0)])

    def forward(self, x: torch.Tensor, ctx: torch.Tensor | None = None) -> torch.Tensor:
        ctx = x if ctx is None else ctx
        b, n, _ = x.shape
        q, k, v = self.to_q(x), self.to_k(ctx), self.to_v(ctx)
        q, k, v = (t.view(b, -1, self.heads, t.shape[-1] // self.heads).transpose(1, 2) for t in (q, k, v))
        o = F.scaled_dot_product_attention(q, k, v)
        o = o.transpose(1, 2).reshape(b, n, -1)
        return self.to_out[1](self.to_out[0](o))


class GEGLU(nn.Module):
    def __init__(self, dim: int, inner: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, inner * 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, gate = self.proj(x).chunk(2, dim=-1)
        return h * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim: int, mult: int = 4) -> None:
        super().__init__()
        self.net = nn.ModuleList([GEGLU(dim, dim * mult), nn.Dropout(0.0), nn.Linear(dim * mult, dim)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for m in self.net:
            x = m(x)
        return x


class BasicTransformerBlock(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int, cross_dim: int) -> None:
        super().__init__()
        self.norm1, self.attn1 = nn.LayerNorm(dim), Attention(dim, heads, dim_head)
        self.norm2, self.attn2 = nn.LayerNorm(dim), Attention(dim, heads, dim_head, cross_dim)
        self.norm3, self.ff = nn.LayerNorm(dim), FeedForward(dim)

    def forward(self, x: torch.Tensor, ctx: torch.Tensor) -> torch.Tensor:
        x = self.attn1(self.norm1(x)) + x
        x = self.attn2(self.norm2(x), ctx) + x
        return self.ff(self.norm3(x)) + x


class Transformer2DModel(nn.Module):
    def __init__(self, heads: int, dim_head: int, cin: int, cross_dim: int, groups: int = 32) -> None:
        super().__init__()
        inner = heads * dim_head
        self.norm = nn.GroupNorm(groups, cin, eps=1e-6)
        self.proj_in = nn.Conv2d(cin, inner, 1)
        self.transformer_blocks = nn.ModuleList([BasicTransformerBlock(inner, heads, dim_head, cross_dim)])
        self.proj_out = nn.Conv2d(inner, cin, 1)

    def forward(self, x: torch.Tensor, ctx: torch.Tensor) -> torch.Tensor:
        b, _c, h, w = x.shape
        res = x
        x = self.proj_in(self.norm(x))
        x = x.permute(0, 2, 3, 1).reshape(b, h * w, -1)
        for blk in self.transformer_blocks:
            x = blk(x, ctx)
        x = x.reshape(b, h, w, -1).permute(0, 3, 1, 2).contiguous()
        return self.proj_out(x) + res


class _Resample(nn.Module):
    """Downsample2D / Upsample2D: a conv named ``conv`` (diffusers' parameter names)."""

    def __init__(self, c: int, stride: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, stride=stride, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


@dataclass(frozen=True)
class _Common:
    """What every block of one UNet shares: time-embedding width, heads, context width, GroupNorm."""

    temb: int
    heads: int
    cross_dim: int
    groups: int
    eps: float

    def resnet(self, cin: int, cout: int) -> ResnetBlock2D:
        return ResnetBlock2D(cin, cout, self.temb, self.groups, self.eps)

    def attentions(self, cross: bool, ch: int, n: int) -> nn.ModuleList | None:
        """``n`` transformer blocks on a cross-attention level, else none (diffusers' ``attentions``)."""
        if not cross:
            return None
        return nn.ModuleList([self.transformer(ch) for _ in range(n)])

    def transformer(self, ch: int) -> Transformer2DModel:
        return Transformer2DModel(self.heads, ch // self.heads, ch, self.cross_dim, self.groups)


class Down(nn.Module):
    def __init__(self, cin: int, cout: int, layers: int, cross: bool, downsample: bool, common: _Common) -> None:
        super().__init__()
        self.resnets = nn.ModuleList([common.resnet(cin if i == 0 else cout, cout) for i in range(layers)])
        self.attentions = common.attentions(cross, cout, layers)
        self.downsamplers = nn.ModuleList([_Resample(cout, 2)]) if downsample else None

    def forward(
        self, x: torch.Tensor, temb: torch.Tensor, ctx: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        res = []
        for i, r in enumerate(self.resnets):
            x = r(x, temb)
            if self.attentions is not None:
                x = self.attentions[i](x, ctx)
            res.append(x)
        if self.downsamplers is not None:
            x = self.downsamplers[0](x)
            res.append(x)
        return x, res


class Up(nn.Module):
    def __init__(
        self, cin: int, prev: int, cout: int, layers: int, cross: bool, upsample: bool, common: _Common
    ) -> None:
        super().__init__()
        self.resnets = nn.ModuleList(
            [
                common.resnet((prev if i == 0 else cout) + (cin if i == layers - 1 else cout), cout)
                for i in range(layers)
            ]
        )
        self.attentions = common.attentions(cross, cout, layers)
        self.upsamplers = nn.ModuleList([_Resample(cout, 1)]) if upsample else None

    def forward(
        self, x: torch.Tensor, skips: list[torch.Tensor], temb: torch.Tensor, ctx: torch.Tensor
    ) -> torch.Tensor:
        for i, r in enumerate(self.resnets):
            x = r(torch.cat([x, skips.pop()], dim=1), temb)
            if self.attentions is not None:
                x = self.attentions[i](x, ctx)
        if self.upsamplers is not None:
            x = self.upsamplers[0](F.interpolate(x, scale_factor=2.0, mode="nearest"))
        return x


class Mid(nn.Module):
    """UNetMidBlock2DCrossAttn: resnet, transformer, resnet (diffusers' parameter names)."""

    def __init__(self, ch: int, common: _Common) -> None:
        super().__init__()
        self.resnets = nn.ModuleList([common.resnet(ch, ch) for _ in range(2)])
        self.attentions = nn.ModuleList([common.transformer(ch)])

    def forward(self, x: torch.Tensor, temb: torch.Tensor, ctx: torch.Tensor) -> torch.Tensor:
        x = self.attentions[0](self.resnets[0](x, temb), ctx)
        return self.resnets[1](x, temb)


class UNet2DCondition(nn.Module):
    def __init__(
        self,
        sample_size: int = 64,
        in_channels: int = 4,
        out_channels: int = 4,
        layers_per_block: int = 2,
        block_out_channels: list[int] | tuple[int, ...] = (320, 640, 1280, 1280),
        down_block_types: list[str] | tuple[str, ...] = (),
        up_block_types: list[str] | tuple[str, ...] = (),
        cross_attention_dim: int = 768,
        attention_head_dim: int = 8,
        norm_num_groups: int = 32,
        norm_eps: float = 1e-5,
        flip_sin_to_cos: bool = True,
        freq_shift: float = 0,
        **_: object,
    ) -> None:
        super().__init__()
        ch = list(block_out_channels)
        temb = ch[0] * 4
        common = _Common(temb, attention_head_dim, cross_attention_dim, norm_num_groups, norm_eps)
        self.conv_in = nn.Conv2d(in_channels, ch[0], 3, padding=1)
        self.time_proj = Timesteps(ch[0], flip_sin_to_cos, freq_shift)
        self.time_embedding = TimestepEmbedding(ch[0], temb)
        self.down_blocks = nn.ModuleList()
        cout = ch[0]
        for i, kind in enumerate(down_block_types):
            cin, cout = cout, ch[i]
            cross, downsample = kind.startswith("CrossAttn"), i < len(ch) - 1
            self.down_blocks.append(Down(cin, cout, layers_per_block, cross, downsample, common))
        self.mid_block = Mid(ch[-1], common)
        rev = list(reversed(ch))
        self.up_blocks = nn.ModuleList()
        out_ch = rev[0]
        for i, kind in enumerate(up_block_types):
            prev, out_ch = out_ch, rev[i]
            cin = rev[min(i + 1, len(ch) - 1)]
            cross, upsample = kind.startswith("CrossAttn"), i < len(ch) - 1
            self.up_blocks.append(Up(cin, prev, out_ch, layers_per_block + 1, cross, upsample, common))
        self.conv_norm_out = nn.GroupNorm(norm_num_groups, ch[0], eps=norm_eps)
        self.conv_out = nn.Conv2d(ch[0], out_channels, 3, padding=1)

    def forward(
        self, sample: torch.Tensor, timestep: torch.Tensor, encoder_hidden_states: torch.Tensor
    ) -> torch.Tensor:
        t = torch.as_tensor(timestep, device=sample.device)
        t = (t[None] if t.ndim == 0 else t).expand(sample.shape[0])  # one timestep for the batch, as diffusers
        temb = self.time_embedding(self.time_proj(t).to(sample.dtype))
        x = self.conv_in(sample)
        skips = [x]
        for blk in self.down_blocks:
            x, res = blk(x, temb, encoder_hidden_states)
            skips += res
        x = self.mid_block(x, temb, encoder_hidden_states)
        for blk in self.up_blocks:
            x = blk(x, skips, temb, encoder_hidden_states)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


def _norm(ch: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(groups, ch), ch, eps=1e-5)


class _DecoderResBlock(nn.Module):
    """A residual block without time embedding (the VAE decoder's)."""

    def __init__(self, cin: int, cout: int, groups: int):
        super().__init__()
        self.n1, self.c1 = _norm(cin, groups), nn.Conv2d(cin, cout, 3, padding=1)
        self.n2, self.c2 = _norm(cout, groups), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.c1(F.silu(self.n1(x)))
        return self.skip(x) + self.c2(F.silu(self.n2(h)))


class VAEDecoder(nn.Module):
    """Latents -> pixels: ``layers_per_block + 1`` residual blocks per level, x2 up-sampling between levels."""

    def __init__(self, cfg: dict[str, Any]):
        super().__init__()
        chs, groups = list(reversed(cfg["block_out_channels"])), int(cfg["norm_num_groups"])
        layers = int(cfg["layers_per_block"]) + 1
        mods: list[nn.Module] = [
            nn.Conv2d(int(cfg["latent_channels"]), chs[0], 3, padding=1),
            _DecoderResBlock(chs[0], chs[0], groups),
            _DecoderResBlock(chs[0], chs[0], groups),
        ]
        cin = chs[0]
        for i, ch in enumerate(chs):
            for _ in range(layers):
                mods.append(_DecoderResBlock(cin, ch, groups))
                cin = ch
            if i < len(chs) - 1:
                mods += [nn.Upsample(scale_factor=2.0, mode="nearest"), nn.Conv2d(ch, ch, 3, padding=1)]
        mods += [_norm(cin, groups), nn.SiLU(), nn.Conv2d(cin, int(cfg["out_channels"]), 3, padding=1)]
        self.net = nn.Sequential(*mods)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class DecoderOf(nn.Module):
    """Only the decoder half of a diffusers AutoencoderKL (what the pipeline runs per image)."""

    def __init__(self, vae: Any):
        super().__init__()
        self.post_quant_conv, self.decoder = vae.post_quant_conv, vae.decoder

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.post_quant_conv(z))


class DDIM:
    """Deterministic DDIM (eta = 0) over SD's scaled-linear beta schedule (0.00085-0.012, 1000 steps)."""

    def __init__(self, steps: int, train_steps: int = 1000, beta_start: float = 0.00085, beta_end: float = 0.012):
        betas = torch.linspace(beta_start**0.5, beta_end**0.5, train_steps, dtype=torch.float64) ** 2
        self.alphas = torch.cumprod(1.0 - betas, 0)
        stride = train_steps // steps
        self.timesteps = (torch.arange(0, steps) * stride).flip(0) + 1  # steps_offset = 1, as SD's config
        self.stride = stride

    def step(self, eps: torch.Tensor, t: int, x: torch.Tensor) -> torch.Tensor:
        a_t = self.alphas[int(t)].item()
        prev = int(t) - self.stride
        a_prev = self.alphas[prev].item() if prev >= 0 else float(self.alphas[0])  # set_alpha_to_one=False
        x0 = (x - math.sqrt(1 - a_t) * eps) / math.sqrt(a_t)
        return math.sqrt(a_prev) * x0 + math.sqrt(1 - a_prev) * eps
