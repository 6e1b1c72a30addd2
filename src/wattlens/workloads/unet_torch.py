"""Plain-torch stand-ins for diffusers' UNet2DConditionModel and the AutoencoderKL decoder, plus DDIM.

Used by the text-to-image workload only when diffusers is not installed. The UNet follows the preset's
configuration (block_out_channels, layers_per_block, cross-attention levels, cross_attention_dim,
attention heads, GroupNorm groups): per level ``layers_per_block`` residual blocks with time embedding,
each followed by a transformer block (self-attention, cross-attention to the text context, GEGLU
feed-forward) on cross-attention levels; stride-2 down-sampling; a mid block; an up path with skip
connections. Parameter counts and FLOPs are close to, not identical with, diffusers' (labelled
``unet_impl: plain-torch`` in ``w.info``).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F


def _norm(ch: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(groups, ch), ch, eps=1e-5)


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, temb: int | None, groups: int):
        super().__init__()
        self.n1, self.c1 = _norm(cin, groups), nn.Conv2d(cin, cout, 3, padding=1)
        self.t = nn.Linear(temb, cout) if temb else None
        self.n2, self.c2 = _norm(cout, groups), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, temb: torch.Tensor | None = None) -> torch.Tensor:
        h = self.c1(F.silu(self.n1(x)))
        if self.t is not None and temb is not None:
            h = h + self.t(F.silu(temb))[:, :, None, None]
        return self.skip(x) + self.c2(F.silu(self.n2(h)))


class Transformer2D(nn.Module):
    """Self-attention + cross-attention to the text context + GEGLU feed-forward, on flattened pixels."""

    def __init__(self, ch: int, context_dim: int, heads: int, groups: int):
        super().__init__()
        self.norm, self.proj_in, self.proj_out = _norm(ch, groups), nn.Linear(ch, ch), nn.Linear(ch, ch)
        self.ln1, self.ln2, self.ln3 = nn.LayerNorm(ch), nn.LayerNorm(ch), nn.LayerNorm(ch)
        self.attn1 = nn.MultiheadAttention(ch, heads, batch_first=True, bias=False)
        self.attn2 = nn.MultiheadAttention(ch, heads, kdim=context_dim, vdim=context_dim, batch_first=True, bias=False)
        self.ff_in, self.ff_out = nn.Linear(ch, ch * 8), nn.Linear(ch * 4, ch)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        y = self.proj_in(self.norm(x).flatten(2).transpose(1, 2))
        q = self.ln1(y)
        y = y + self.attn1(q, q, q, need_weights=False)[0]
        y = y + self.attn2(self.ln2(y), context, context, need_weights=False)[0]
        a, gate = self.ff_in(self.ln3(y)).chunk(2, dim=-1)
        y = y + self.ff_out(a * F.gelu(gate))
        return x + self.proj_out(y).transpose(1, 2).reshape(b, c, h, w)


class UNet(nn.Module):
    """Mirrors UNet2DConditionModel's layout: every down layer (and each down-sampler) leaves a skip that
    one up layer (``layers_per_block + 1`` per level) concatenates; nearest x2 + conv up-sampling."""

    def __init__(self, cfg: dict[str, Any]):
        super().__init__()
        chs, groups = list(cfg["block_out_channels"]), int(cfg["norm_num_groups"])
        layers, ctx = int(cfg["layers_per_block"]), int(cfg["cross_attention_dim"])
        heads = int(cfg.get("attention_head_dim", 8))
        attn = ["CrossAttn" in t for t in cfg["down_block_types"]]
        temb = chs[0] * 4
        self.temb_ch = chs[0]
        self.time = nn.Sequential(nn.Linear(chs[0], temb), nn.SiLU(), nn.Linear(temb, temb))
        self.conv_in = nn.Conv2d(int(cfg["in_channels"]), chs[0], 3, padding=1)

        def tf(ch: int) -> nn.Module:
            return Transformer2D(ch, ctx, heads if ch % heads == 0 else 1, groups)

        skip_ch = [chs[0]]
        self.down = nn.ModuleList()
        cin = chs[0]
        for i, ch in enumerate(chs):
            for _ in range(layers):
                self.down.append(nn.ModuleList([ResBlock(cin, ch, temb, groups), tf(ch) if attn[i] else nn.Identity()]))
                cin = ch
                skip_ch.append(ch)
            if i < len(chs) - 1:
                self.down.append(nn.ModuleList([nn.Conv2d(ch, ch, 3, stride=2, padding=1)]))
                skip_ch.append(ch)
        self.mid = nn.ModuleList([ResBlock(cin, cin, temb, groups), tf(cin), ResBlock(cin, cin, temb, groups)])
        self.up = nn.ModuleList()
        for i, ch in reversed(list(enumerate(chs))):
            for _ in range(layers + 1):
                self.up.append(
                    nn.ModuleList(
                        [ResBlock(cin + skip_ch.pop(), ch, temb, groups), tf(ch) if attn[i] else nn.Identity()]
                    )
                )
                cin = ch
            if i > 0:
                self.up.append(
                    nn.ModuleList([nn.Upsample(scale_factor=2.0, mode="nearest"), nn.Conv2d(ch, ch, 3, padding=1)])
                )
        self.out = nn.Sequential(
            _norm(chs[0], groups), nn.SiLU(), nn.Conv2d(chs[0], int(cfg["out_channels"]), 3, padding=1)
        )

    def _timestep(self, t: torch.Tensor, n: int, dtype: torch.dtype, device: Any = None) -> torch.Tensor:
        half = self.temb_ch // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=device) / half)
        args = t.to(device).float().reshape(-1)[:1].expand(n)[:, None] * freqs[None]
        return self.time(torch.cat([torch.cos(args), torch.sin(args)], -1).to(dtype))

    @staticmethod
    def _layer(block: nn.ModuleList, h: torch.Tensor, temb: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        h = block[0](h, temb)
        return block[1](h, context) if isinstance(block[1], Transformer2D) else h

    def forward(self, x: torch.Tensor, t: Any, encoder_hidden_states: torch.Tensor) -> torch.Tensor:
        temb = self._timestep(torch.as_tensor(t), x.shape[0], x.dtype, x.device)
        h = self.conv_in(x)
        skips = [h]
        for block in self.down:
            h = self._layer(block, h, temb, encoder_hidden_states) if len(block) == 2 else block[0](h)
            skips.append(h)
        h = self.mid[2](self.mid[1](self.mid[0](h, temb), encoder_hidden_states), temb)
        for block in self.up:
            if isinstance(block[0], nn.Upsample):
                h = block[1](block[0](h))
                continue
            skip = skips.pop()
            if h.shape[-2:] != skip.shape[-2:]:  # odd latent sizes: match the skip, as diffusers does
                h = F.interpolate(h, size=skip.shape[-2:], mode="nearest")
            h = self._layer(block, torch.cat([h, skip], 1), temb, encoder_hidden_states)
        return self.out(h)


class VAEDecoder(nn.Module):
    """Latents -> pixels: ``layers_per_block + 1`` residual blocks per level, x2 up-sampling between levels."""

    def __init__(self, cfg: dict[str, Any]):
        super().__init__()
        chs, groups = list(reversed(cfg["block_out_channels"])), int(cfg["norm_num_groups"])
        layers = int(cfg["layers_per_block"]) + 1
        mods: list[nn.Module] = [
            nn.Conv2d(int(cfg["latent_channels"]), chs[0], 3, padding=1),
            ResBlock(chs[0], chs[0], None, groups),
            ResBlock(chs[0], chs[0], None, groups),
        ]
        cin = chs[0]
        for i, ch in enumerate(chs):
            for _ in range(layers):
                mods.append(ResBlock(cin, ch, None, groups))
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
