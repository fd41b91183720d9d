"""A small pre-activation ResNet (He et al. 2016), the second classifier
extractor's network: a 3x3 stem of 32 channels, three stages of one
residual block each (32, 64, 128 channels at strides 1, 2, 2; BatchNorm ->
ReLU -> conv, twice, plus a 1x1 projection where the shape changes), global
average pooling, and a 256-d ReLU layer whose output is the feature."""
from __future__ import annotations

import torch
from torch import nn


class PreActBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(c_in), nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(c_out), nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.skip = nn.Conv2d(c_in, c_out, 1, stride, bias=False) if stride != 1 or c_in != c_out else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.bn1(x))
        shortcut = x if self.skip is None else self.skip(h)
        h = self.conv1(h)
        return shortcut + self.conv2(torch.relu(self.bn2(h)))


class TinyResNet(nn.Module):
    def __init__(self, channels: int, num_classes: int, widths=(32, 64, 128), dim: int = 256):
        super().__init__()
        layers, c = [nn.Conv2d(channels, widths[0], 3, 1, 1, bias=False)], widths[0]
        for i, w in enumerate(widths):
            layers.append(PreActBlock(c, w, 1 if i == 0 else 2))
            c = w
        layers += [nn.BatchNorm2d(c), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, dim), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))
