"""The semantic colorizer: a U-Net whose encoder is an ImageNet MobileNetV2, predicting a distribution
over quantised ab colours, decoded with the annealed mean.

* Encoder: MobileNetV2 (``filmgan.models.mobilenet``) on the grey image (L turned back into grey sRGB,
  replicated to 3 channels), taps at strides 2-32. What an ImageNet network knows (grass, skin, sky, a
  red bus) is what an automatic colorizer stands on: DeOldify (a pretrained ResNet encoder), ChromaGAN
  (Vitoria et al., WACV 2020: VGG + class distribution), Iizuka et al. (SIGGRAPH 2016: a classification
  branch). Its BatchNorm is folded into the convs, so small training batches do not disturb it.
* Global context (Iizuka, Simo-Serra & Ishikawa 2016): the stride-32 features averaged over the image,
  through an MLP, added at the bottleneck.
* Decoder: resize-convs with skips from stride 32 up to stride 4 (as Zhang et al.'s output), GroupNorm
  (batch-size independent). Kept light: on CPU the decoder, not the encoder, is what costs.
* Output: logits over the ``Q`` in-gamut ab bins of a 10-unit grid (Zhang, Isola & Efros, "Colorful Image
  Colorization", ECCV 2016), decoded as the annealed mean ``sum_q softmax(z/T)_q c_q`` (their T = 0.38):
  between the mean (sepia) and the mode (blotchy). Upsampled x4 and refined by a small full-resolution
  residual conv that sees L, so chroma edges follow luminance edges.
* Confidence: where the distribution is flat (normalised entropy above ``confidence_from``), the chroma is
  pulled toward grey in proportion, instead of inventing a colour.
* Guidance (``filmgan.guide``): an optional ``log_prior`` over the bins is added to the logits before the
  decode, ``p'(q|pixel) ∝ p(q|pixel) · h(q|L)^β`` with ``log_prior = β log h``: a reference palette or a
  keyframe's colours condition every pixel's distribution, and pixels whose content allows those colours
  move to them (cf. the global hints of Zhang et al., SIGGRAPH 2017, here without retraining). Shape
  (N, Q): one palette for the whole image; (N, Q, K): one per lightness band, the K bands splitting L's
  0-100 evenly, interpolated linearly at each pixel's lightness (a palette's colours of dark and of light
  pixels; cf. the luminance matching of Welsh et al., "Transferring Color to Greyscale Images", 2002).

* Trained guidance inputs (``guided=True``; Zhang, Zhu, Isola, Geng, Lin, Yu & Efros, "Real-Time
  User-Guided Image Colorization with Learned Deep Priors", SIGGRAPH 2017): a **global palette** -- the ab
  histogram of a reference per lightness band, (N, Q, K) -- enters through an MLP at the bottleneck, and
  **local hints** -- a sparse ab map with its mask, (N, 3, H, W) = (a·m, b·m, m) normalised -- enter every
  decoder level (pooled to its stride) and the full-resolution refinement. Both are optional at run time
  (absent = zeros, the automatic mode), and all their layers start at zero, so a guided network
  initialised from an automatic one computes exactly the automatic one's output until it is fine-tuned.

I/O contract as every colorizer: input (N, 1, H, W) L/50 - 1, output (N, 2, H, W) ab/110; H and W any size
(padded internally to a multiple of 32). ``forward_train`` also returns the logits for the loss.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import CheckpointError
from ..video.color import AB_SCALE, L_SCALE, gamut_bins
from .layers import ConvNormAct
from .mobilenet import TAP_BLOCKS, TAP_CHANNELS, TAP_STRIDES, MobileNetV2


def l_to_grey_rgb(l_norm: torch.Tensor) -> torch.Tensor:
    """Normalised L (L/50 - 1) -> the grey sRGB value in [0, 1] with that lightness, 3 channels."""
    fy = ((l_norm + 1.0) * L_SCALE + 16.0) / 116.0
    y = torch.where(fy > 6.0 / 29.0, fy**3, (fy - 4.0 / 29.0) * 3.0 * (6.0 / 29.0) ** 2).clamp(0.0, 1.0)
    v = torch.where(y <= 0.0031308, 12.92 * y, 1.055 * y.clamp(min=1e-8) ** (1 / 2.4) - 0.055)
    return v.expand(-1, 3, -1, -1)


def prior_at(log_prior: torch.Tensor, l_norm: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A (N, Q) or (N, Q, K) log prior as a (N, Q, h, w) map at the logits' ``size``: per lightness band
    (K bands over L 0-100), linearly interpolated at each pixel's mean L over its logit cell."""
    if log_prior.dim() == 2:
        return log_prior[:, :, None, None]
    log_prior = log_prior.expand(l_norm.shape[0], -1, -1)
    k = log_prior.shape[-1]
    lightness = (F.adaptive_avg_pool2d(l_norm, size) + 1.0) * L_SCALE  # (N, 1, h, w) in 0-100
    pos = (lightness * (k / 100.0) - 0.5).clamp(0.0, k - 1.0)
    centres = torch.arange(k, device=l_norm.device, dtype=pos.dtype)[None, :, None, None]
    weights = (1.0 - (pos - centres).abs()).clamp(min=0.0)  # (N, K, h, w), hat functions summing to 1
    return torch.einsum("nqk,nkhw->nqhw", log_prior, weights)


class Up(nn.Module):
    """x2 (to the skip's size) nearest upsampling, concat the skip, one 3x3 conv."""

    def __init__(self, cin: int, cskip: int, cout: int):
        super().__init__()
        self.conv = ConvNormAct(cin + cskip, cout, 3, norm="group")

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([F.interpolate(x, size=skip.shape[-2:], mode="nearest"), skip], 1))


class MobileUNetColorizer(nn.Module):
    ARCH = "mobilenet-unet-colorizer"
    GUIDANCE_LAYERS = ("palette_mlp.", "hint_in.")  # parameter-name prefixes of the guidance inputs' own layers (zero-initialised)

    def __init__(self, decoder: tuple[int, ...] = (160, 80, 48), grid: int = 10, temperature: float = 0.38,
                 refine: int = 24, confidence_from: float = 1.0, padding: str = "same", guided: bool = False, palette_bands: int = 5):
        super().__init__()
        self.args = {"decoder": list(decoder), "grid": grid, "temperature": temperature, "refine": refine,
                     "confidence_from": confidence_from, "padding": padding}
        if guided:
            self.args.update(guided=True, palette_bands=palette_bands)
        backbone = MobileNetV2(padding=padding, input_norm="tf")
        self.encoder = backbone.features_seq[: TAP_BLOCKS[-1] + 1]
        self.register_buffer("enc_mean", backbone.mean.clone(), persistent=False)
        self.register_buffer("enc_std", backbone.std.clone(), persistent=False)
        top = TAP_CHANNELS[-1]
        self.context = nn.Sequential(nn.Linear(top, 256), nn.ReLU(inplace=True), nn.Linear(256, top))
        self.ups = nn.ModuleList()
        cin = top
        for skip, cout in zip(reversed(TAP_CHANNELS[1:-1]), decoder):  # strides 16, 8, 4
            self.ups.append(Up(cin, skip, cout))
            cin = cout
        bins = torch.from_numpy(gamut_bins(grid)) / AB_SCALE
        self.register_buffer("bins", bins)  # (Q, 2) normalised ab centres, saved with the weights
        self.head = nn.Conv2d(cin, bins.shape[0], 1)
        self.refine = nn.Sequential(nn.Conv2d(6 if guided else 3, refine, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(refine, 2, 3, padding=1))
        nn.init.zeros_(self.refine[-1].weight)
        nn.init.zeros_(self.refine[-1].bias)
        self.guided = guided
        if guided:
            self.palette_mlp = nn.Sequential(nn.Linear(bins.shape[0] * palette_bands + 1, 256), nn.ReLU(inplace=True), nn.Linear(256, top))
            self.hint_in = nn.ModuleList(nn.Conv2d(3, c, 1) for c in (top, *decoder))
            for layer in (self.palette_mlp[-1], *self.hint_in):
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)

    @property
    def palette_bands(self) -> int:
        """K of the (N, Q, K) palette input (0: the network takes no guidance inputs)."""
        return self.args.get("palette_bands", 5) if self.guided else 0

    def load_unguided(self, state: dict[str, torch.Tensor]) -> None:
        """Start a guided network from an automatic one's weights: the guidance layers stay at zero and the
        refinement's extra (hint) input channels get zero weights, so the output is the automatic one's.
        A guided network's weights load as they are (continuing its training with other settings)."""
        state = dict(state)
        w = state.get("refine.0.weight")
        if self.guided and w is not None and w.shape[1] == 3:
            state["refine.0.weight"] = torch.cat([w, torch.zeros(w.shape[0], 3, *w.shape[2:], dtype=w.dtype)], 1)
        try:
            missing, unexpected = self.load_state_dict(state, strict=False)
        except RuntimeError as exc:  # shapes that do not fit
            raise CheckpointError(f"not the weights of an automatic {self.ARCH} of these settings: {exc}") from None
        if unexpected or any(not k.startswith(self.GUIDANCE_LAYERS) for k in missing):
            raise CheckpointError(f"not the weights of an automatic {self.ARCH}: missing {missing}, unexpected {unexpected}")

    def _palette_features(self, palette: torch.Tensor | None, n: int, like: torch.Tensor) -> torch.Tensor:
        """(N, Q*K + 1): log(1 + Q h) of each band's histogram, and a flag that a palette is given (a row
        of zeros is no palette: a batch can mix guided and automatic rows)."""
        q, k = self.bins.shape[0], self.palette_bands
        if palette is None:
            return like.new_zeros(n, q * k + 1)
        palette = palette.to(like).expand(n, -1, -1)
        if palette.shape[1:] != (q, k):
            raise ValueError(f"palette must be (N, {q}, {k}), got {tuple(palette.shape)}")
        flat = palette.reshape(n, -1)
        return torch.cat([torch.log1p(q * flat), (flat.sum(1, keepdim=True) > 0).to(like)], 1)

    @staticmethod
    def _pooled_hints(hints: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """(N, 3, h, w): the hints' mean ab where any are given, and their coverage, at ``size`` (a whole
        fraction of the hints' size: a fixed pooling kernel, which exports to ONNX with dynamic H and W)."""
        k = hints.shape[-1] // size[-1]
        pooled = F.avg_pool2d(hints, k) if k > 1 else hints
        cover = pooled[:, 2:3]
        return torch.cat([pooled[:, :2] / cover.clamp(min=1e-3), cover], 1)

    MATCH_STRIDES = (8, 16)  # the encoder taps that reference matching uses (filmgan.guide.exemplar)

    def encoder_taps(self, l_norm: torch.Tensor, strides: tuple[int, ...] = TAP_STRIDES[1:]) -> dict[int, torch.Tensor]:
        """The encoder's features of normalised L at ``strides`` ({stride: (N, C, H/s, W/s)}); the encoder
        stops after the deepest one asked for."""
        taps = {TAP_BLOCKS[TAP_STRIDES.index(s)]: s for s in strides}
        h = (l_to_grey_rgb(l_norm) - self.enc_mean) / self.enc_std
        out = {}
        for i, layer in enumerate(self.encoder):
            h = layer(h)
            if i in taps:
                out[taps[i]] = h
                if len(out) == len(taps):
                    break
        return out

    def match_features(self, l_norm: torch.Tensor) -> dict[int, torch.Tensor]:
        """The encoder's features of a grey image at strides 8 and 16 ({stride: (N, C, H/s, W/s)}), for
        finding where a reference photo shows the same content (``filmgan.guide.exemplar``): the features
        this network was fine-tuned to compute from luminance alone, so a colour reference and a grey frame
        are compared on equal terms."""
        return self.encoder_taps(l_norm, self.MATCH_STRIDES)

    def load_encoder(self, backbone: MobileNetV2) -> None:
        """Take pretrained weights for the encoder (a MobileNetV2 from ``mobilenet.load_mobilenet_v2``)."""
        self.encoder.load_state_dict(backbone.features_seq[: TAP_BLOCKS[-1] + 1].state_dict())

    def param_groups(self, lr: float, encoder_factor: float = 0.1) -> list[dict]:
        """Optimizer groups: the pretrained encoder learns at ``encoder_factor`` x the decoder's rate."""
        enc = list(self.encoder.parameters())
        ids = {id(p) for p in enc}
        return [{"params": enc, "lr": lr * encoder_factor}, {"params": [p for p in self.parameters() if id(p) not in ids], "lr": lr}]

    def forward_train(self, l_norm: torch.Tensor, log_prior: torch.Tensor | None = None, palette: torch.Tensor | None = None,
                      hints: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """{'logits': (N, Q, H/4, W/4), 'ab': (N, 2, H, W) normalised ab} for a multiple-of-32 input;
        ``log_prior`` ((N or 1, Q) or (N or 1, Q, K), see ``prior_at``), when given, is added to the logits.
        A guided network also takes ``palette`` (N or 1, Q, K) and ``hints`` (N, 3, H, W), see the module."""
        if not self.guided and (palette is not None or hints is not None):
            raise ValueError(f"this {self.ARCH} was trained without guidance inputs (palette, hints)")
        skips = list(self.encoder_taps(l_norm).values())  # strides 4, 8, 16, 32
        y = skips.pop()
        y = y + self.context(y.mean(dim=(2, 3)))[:, :, None, None]
        if self.guided:
            y = y + self.palette_mlp(self._palette_features(palette, l_norm.shape[0], y))[:, :, None, None]
            y = y + self._hint_term(0, hints, y.shape[-2:])
        for i, up in enumerate(self.ups):
            y = up(y, skips.pop())
            if self.guided:
                y = y + self._hint_term(i + 1, hints, y.shape[-2:])
        logits = self.head(y)
        if log_prior is not None:
            logits = logits.float() + prior_at(log_prior.to(logits.device).float(), l_norm, logits.shape[-2:])
        ab = self.decode(logits)
        ab = F.interpolate(ab, size=l_norm.shape[-2:], mode="bilinear", align_corners=False)
        ab = ab + self._refine(torch.cat([l_norm, ab], 1), hints)  # chroma edges follow the full-resolution L
        return {"logits": logits, "ab": ab}

    def _hint_term(self, level: int, hints: torch.Tensor | None, size: tuple[int, int]) -> torch.Tensor:
        """What the hints add at decoder ``level`` (0: the bottleneck); no hints are zero hints (the bias)."""
        layer = self.hint_in[level]
        if hints is None:
            return layer.bias[None, :, None, None]
        return layer(self._pooled_hints(hints, size))

    def _refine(self, l_ab: torch.Tensor, hints: torch.Tensor | None) -> torch.Tensor:
        """The full-resolution residual on (L, ab) -- and the hints, for a guided network (without hints its
        first conv skips their zero channels)."""
        if not self.guided:
            return self.refine(l_ab)
        if hints is not None:
            return self.refine(torch.cat([l_ab, hints.to(l_ab)], 1))
        first = self.refine[0]
        return self.refine[2](self.refine[1](F.conv2d(l_ab, first.weight[:, : l_ab.shape[1]], first.bias, padding=1)))

    def decode(self, logits: torch.Tensor) -> torch.Tensor:
        """Annealed mean of the ab distribution, shrunk toward grey where it is unsure."""
        logits = logits.float()
        ab = torch.einsum("nqhw,qc->nchw", torch.softmax(logits / self.args["temperature"], dim=1), self.bins)
        start = self.args["confidence_from"]
        if start < 1.0:
            p = torch.softmax(logits, dim=1)
            entropy = -(p * torch.log(p.clamp(min=1e-12))).sum(1, keepdim=True) / math.log(p.shape[1])
            ab = ab * (1.0 - ((entropy - start) / (1.0 - start)).clamp(0.0, 1.0))
        return ab

    def forward(self, l_norm: torch.Tensor, log_prior: torch.Tensor | None = None, palette: torch.Tensor | None = None,
                hints: torch.Tensor | None = None) -> torch.Tensor:
        h, w = l_norm.shape[-2:]
        ph, pw = (-h) % 32, (-w) % 32
        x = F.pad(l_norm, (0, pw, 0, ph), mode="replicate") if ph or pw else l_norm
        if hints is not None and (ph or pw):
            hints = F.pad(hints, (0, pw, 0, ph))  # no hints in the padding
        return self.forward_train(x, log_prior, palette, hints)["ab"][..., :h, :w].clamp(-1.0, 1.0)
