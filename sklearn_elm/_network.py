"""Plain torch modules: the bias-free gated multilayer perceptron.

Nothing in this module imports scikit-learn: these are the networks that
:class:`~sklearn_elm.NeuralGPRegressor` trains and that the equivalent linear
map in :mod:`sklearn_elm._elm` differentiates.
"""

from torch import nn

#: Activations whose equivalent linear map is exact.  ReLU and LeakyReLU are
#: positively homogeneous (the ordinary Jacobian is exact); SiLU and GELU are
#: gated, ``x * gate(x)``, and become exact once the gate is held constant.
ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "silu": nn.SiLU,
    "gelu": nn.GELU,
}


class GatedMLP(nn.Module):
    """Bias-free multilayer perceptron with gated activations.

    Every layer is ``nn.Linear(..., bias=False)`` followed by a gated
    activation (and optional dropout), so that the network's output is a
    sample-dependent linear map of its input, ``f(x) = J(x) x``, with no
    constant term.

    Parameters
    ----------
    n_features : int
        Number of input features (loci).
    n_outputs : int, default=1
        Number of outputs (traits).
    hidden_sizes : sequence of int, default=(256, 256)
        Width of each hidden layer; an empty sequence gives a linear model.
    activation : {"silu", "gelu", "leaky_relu", "relu"}, default="silu"
        Gated activation between layers.  SiLU's smooth gate trains to a
        closer fit of pairwise interactions than the piecewise-linear ones.
    negative_slope : float, default=0.01
        Slope of ``leaky_relu`` for negative inputs; ignored otherwise.
    dropout : float, default=0.0
        Dropout probability after each hidden activation (training only).

    Attributes
    ----------
    layers : torch.nn.Sequential
        The stack of linear, activation and dropout modules.

    See Also
    --------
    sklearn_elm.NeuralGPRegressor : trains this module through skorch.

    Examples
    --------
    >>> import torch
    >>> from sklearn_elm._network import GatedMLP
    >>> net = GatedMLP(4, 2, hidden_sizes=(8,), activation="silu")
    >>> net(torch.ones(3, 4)).shape
    torch.Size([3, 2])
    >>> any(m.bias is not None for m in net.modules() if isinstance(m, torch.nn.Linear))
    False
    """

    def __init__(
        self,
        n_features,
        n_outputs=1,
        hidden_sizes=(256, 256),
        activation="silu",
        negative_slope=0.01,
        dropout=0.0,
    ):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}."
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}.")
        sizes = [int(n_features), *(int(h) for h in hidden_sizes)]
        if any(s < 1 for s in sizes) or int(n_outputs) < 1:
            raise ValueError(
                "n_features, n_outputs and every hidden size must be positive, got "
                f"n_features={n_features}, n_outputs={n_outputs}, "
                f"hidden_sizes={tuple(hidden_sizes)}."
            )
        layers = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
            layers.append(nn.Linear(n_in, n_out, bias=False))
            if activation == "leaky_relu":
                layers.append(nn.LeakyReLU(negative_slope))
            else:
                layers.append(ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(sizes[-1], int(n_outputs), bias=False))
        self.layers = nn.Sequential(*layers)

    def forward(self, X):
        """Map a batch of inputs of shape (n, n_features) to (n, n_outputs)."""
        return self.layers(X)
