"""Encoder and decoder bodies shared by every model: ``mlp`` and ``conv`` (strided convolutions).

Conditional models pass a one-hot label ``c``; it is concatenated to the encoder's input
features and to the decoder's input code.
"""
from __future__ import annotations

import math

import torch
from torch import nn


ACTIVATIONS = {"elu": nn.ELU, "relu": nn.ReLU, "leaky_relu": nn.LeakyReLU}


def mlp(sizes: list[int], *, activation: str = "elu", final_activation: bool = False) -> nn.Sequential:
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2 or final_activation:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


def _cat(h: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
    return h if c is None else torch.cat([h, c.to(h.dtype)], dim=1)


class Encoder(nn.Module):
    """x (B, 1, H, W) [+ one-hot c (B, C)] -> features (B, out_dim)."""

    def __init__(self, *, arch: str, image_size=(28, 28), hidden=(512, 256), channels=(32, 64),
                 activation: str = "elu", cond_dim: int = 0, out_dim: int):
        super().__init__()
        self.arch = arch
        if arch == "mlp":
            self.body = nn.Flatten()
            features = math.prod(image_size)
            sizes = [features + cond_dim, *hidden, out_dim]
        else:
            convs, ch_in = [], 1
            for ch in channels:  # each halves the resolution: 28 -> 14 -> 7
                convs += [nn.Conv2d(ch_in, ch, 4, stride=2, padding=1), ACTIVATIONS[activation]()]
                ch_in = ch
            side = image_size[0] // 2 ** len(channels)
            self.body = nn.Sequential(*convs, nn.Flatten())
            sizes = [ch_in * side * side + cond_dim, hidden[-1], out_dim]
        self.head = mlp(sizes, activation=activation)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(_cat(self.body(x), c))


class Decoder(nn.Module):
    """z (B, latent_dim) [+ one-hot c (B, C)] -> logits (B, 1, H, W)."""

    def __init__(self, *, arch: str, latent_dim: int, image_size=(28, 28), hidden=(512, 256),
                 channels=(32, 64), activation: str = "elu", cond_dim: int = 0):
        super().__init__()
        self.image_size = tuple(image_size)
        if arch == "mlp":
            self.net = mlp([latent_dim + cond_dim, *reversed(hidden), math.prod(image_size)], activation=activation)
        else:
            side = image_size[0] // 2 ** len(channels)
            chans = list(reversed(channels))
            deconvs = []
            for a, b in zip(chans, chans[1:] + [1]):
                deconvs += [nn.ConvTranspose2d(a, b, 4, stride=2, padding=1), ACTIVATIONS[activation]()]
            deconvs.pop()  # no activation on the output logits
            self.net = nn.Sequential(mlp([latent_dim + cond_dim, hidden[-1], chans[0] * side * side],
                                         activation=activation, final_activation=True),
                                     nn.Unflatten(1, (chans[0], side, side)), *deconvs)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(_cat(z, c)).view(-1, 1, *self.image_size)
