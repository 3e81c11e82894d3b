"""The gates of the activations the equivalent linear map supports.

Each supported activation is a gated identity, ``act(h) = h * gate(h)``: the
gate is piecewise constant for ReLU and LeakyReLU (positively homogeneous:
the ordinary Jacobian is the map) and smooth for SiLU and GELU (the map
holds it constant).  :mod:`sklearn_elm._elm` multiplies the gates into the
closed form ``J(x) = W_L D_{L-1}(x) ... D_1(x) W_1``.
"""

import math
from functools import partial

import torch
from torch import nn

__all__ = ["gate_of", "gelu_gate", "gelu_tanh_gate", "implied_gate", "leaky_relu_gate",
           "relu_gate", "silu_gate"]

_SQRT_HALF = math.sqrt(0.5)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def relu_gate(h):
    """Gate of ReLU: ``relu(h) = h * gate(h)`` with ``gate(h) = 1[h > 0]``.

    Parameters
    ----------
    h : torch.Tensor
        Pre-activations.

    Returns
    -------
    gate : torch.Tensor
        Same shape and dtype as ``h``.

    Examples
    --------
    >>> import torch
    >>> relu_gate(torch.tensor([-1.0, 0.0, 2.0]))
    tensor([0., 0., 1.])
    """
    # sign then clamp: two cheap passes (bool-to-float casts are slower)
    return torch.sign(h).clamp_(min=0)


def leaky_relu_gate(h, negative_slope=0.01):
    """Gate of LeakyReLU: ``gate(h) = 1`` if ``h > 0`` else ``negative_slope``.

    Parameters
    ----------
    h : torch.Tensor
        Pre-activations.
    negative_slope : float, default=0.01
        Slope for non-positive inputs (the value at ``h = 0`` is irrelevant to
        the map, since the gate multiplies ``h``; torch's gradient uses it too).

    Returns
    -------
    gate : torch.Tensor
        Same shape and dtype as ``h``.

    Examples
    --------
    >>> import torch
    >>> leaky_relu_gate(torch.tensor([-1.0, 2.0]), negative_slope=0.1)
    tensor([0.1000, 1.0000])
    """
    positive = relu_gate(h)
    # (1 - 1[h > 0]) * slope + 1[h > 0]: exactly 1 or exactly the slope
    return (1 - positive).mul_(negative_slope).add_(positive)


def silu_gate(h):
    """Gate of SiLU: ``silu(h) = h * sigmoid(h)``, so ``gate(h) = sigmoid(h)``.

    Parameters
    ----------
    h : torch.Tensor
        Pre-activations.

    Returns
    -------
    gate : torch.Tensor
        Same shape and dtype as ``h``.

    Examples
    --------
    >>> import torch
    >>> silu_gate(torch.tensor([0.0]))
    tensor([0.5000])
    """
    return torch.sigmoid(h)


def gelu_gate(h):
    """Gate of exact GELU: ``gelu(h) = h * Phi(h)``, ``Phi(h) = (1 + erf(h / sqrt 2)) / 2``.

    Parameters
    ----------
    h : torch.Tensor
        Pre-activations.

    Returns
    -------
    gate : torch.Tensor
        Same shape and dtype as ``h``.

    Examples
    --------
    >>> import torch
    >>> gelu_gate(torch.tensor([0.0]))
    tensor([0.5000])
    """
    return 0.5 * (1.0 + torch.erf(h * _SQRT_HALF))


def gelu_tanh_gate(h):
    """Gate of tanh-approximate GELU.

    ``gate(h) = (1 + tanh(sqrt(2 / pi) (h + 0.044715 h^3))) / 2``.

    Parameters
    ----------
    h : torch.Tensor
        Pre-activations.

    Returns
    -------
    gate : torch.Tensor
        Same shape and dtype as ``h``.

    Examples
    --------
    >>> import torch
    >>> gelu_tanh_gate(torch.tensor([0.0]))
    tensor([0.5000])
    """
    return 0.5 * (1.0 + torch.tanh(_SQRT_2_OVER_PI * (h + 0.044715 * h**3)))


def gate_of(layer):
    """Return ``(gate_fn, homogeneous)`` for a supported activation, else None."""
    if isinstance(layer, nn.ReLU):
        return relu_gate, True
    if isinstance(layer, nn.LeakyReLU):
        return partial(leaky_relu_gate, negative_slope=layer.negative_slope), True
    if isinstance(layer, nn.SiLU):
        return silu_gate, False
    if isinstance(layer, nn.GELU):
        return (gelu_tanh_gate if layer.approximate == "tanh" else gelu_gate), False
    return None


def implied_gate(gate, h, out):
    """The gate ``act(h) / h`` that the activation's own output ``out`` implies.

    A separately evaluated erf or sigmoid can differ from the activation
    kernel's by many ulps where ``1 + erf(h)`` cancels, which would break
    ``f = J x`` in float32.  Where the quotient is unreliable (``h`` zero or
    subnormal, or a non-finite quotient) the analytic gate is used.
    """
    quotient = out / h
    reliable = (h.abs() >= torch.finfo(h.dtype).smallest_normal) & torch.isfinite(quotient)
    return torch.where(reliable, quotient, gate(h))
