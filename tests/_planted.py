"""A hand-built network with known additive and pairwise effects, shared by the tests."""

import torch
from torch import nn


def planted_net(c, a2):
    """Bias-free float32 ReLU net computing c |z0 + z1| + a2 z2 on 5 inputs.

    On -1/+1 inputs that is c + c z0 z1 + a2 z2: additive effect a2 on locus 2
    and epistasis c on the pair (0, 1).
    """
    net = nn.Sequential(nn.Linear(5, 4, bias=False), nn.ReLU(), nn.Linear(4, 1, bias=False))
    with torch.no_grad():
        net[0].weight.copy_(
            torch.tensor(
                [[1.0, 1, 0, 0, 0], [-1.0, -1, 0, 0, 0], [0, 0, 1.0, 0, 0], [0, 0, -1.0, 0, 0]]
            )
        )
        net[2].weight.copy_(torch.tensor([[c, c, a2, -a2]]))
    return net
