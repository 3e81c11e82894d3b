"""The equivalent linear map (ELM) of a bias-free gated network.

For a network ``f`` built from bias-free ``nn.Linear`` layers and gated
activations ``act(h) = h * gate(h)``, every input ``x`` has a matrix
``J(x)`` of shape (n_outputs, n_features) with ``f(x) = J(x) x`` exactly::

    J(x) = W_L D_{L-1}(x) W_{L-1} ... D_1(x) W_1,    D_l(x) = diag(gate(h_l(x)))

where ``h_l`` is the pre-activation of layer ``l``.  For ReLU and LeakyReLU the
gate is piecewise constant, so ``J`` is the ordinary Jacobian (Euler's theorem
for positively homogeneous functions); for SiLU and GELU it is the Jacobian of
the graph in which the gate is held constant (detached).

The closed form above is evaluated for a whole batch at once: one forward pass
records the gates, then the weight matrices are multiplied in with batched
matrix products, in reverse (from the outputs, ``n_outputs`` rows per sample)
or forward order (from the inputs, ``n_features`` columns per sample),
whichever costs fewer multiply-adds.  Nothing loops over samples.
"""

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ._gates import gate_of, implied_gate
from ._network import add_pair_path, eval_output, linear_skip_of, pair_path_of

__all__ = ["equivalent_linear_map"]

_SUPPORTED = (
    "nn.Linear(bias=False), nn.ReLU, nn.LeakyReLU, nn.SiLU, nn.GELU, "
    "nn.Dropout (identity: the map is that of the network in evaluation mode), "
    "nn.Identity and nested nn.Sequential"
)


def _flatten(sequential, prefix):
    for name, layer in sequential.named_children():
        full = f"{prefix}.{name}" if prefix else name
        if isinstance(layer, nn.Sequential):
            yield from _flatten(layer, full)
        else:
            yield full, layer


def elm_steps(module):
    """Validate ``module`` and list the steps its equivalent linear map multiplies.

    A package-internal helper, shared by the map, the streamed decomposition
    and :class:`~sklearn_elm.ELMDecomposer`.

    Parameters
    ----------
    module : torch.nn.Module
        An ``nn.Sequential``, or a module whose ``layers`` attribute is one
        (as for :func:`equivalent_linear_map`).

    Returns
    -------
    steps : list of tuple
        ``(kind, name, layer, gate, homogeneous)`` per layer, in forward
        order: ``kind`` is ``"linear"`` or ``"gate"``; ``gate`` and
        ``homogeneous`` describe an activation (None and True for a linear
        layer).  Dropout and identity layers are left out.

    Raises
    ------
    ValueError, TypeError
        Naming the first layer that breaks exactness.

    Examples
    --------
    >>> from torch import nn
    >>> from sklearn_elm._elm import elm_steps
    >>> net = nn.Sequential(nn.Linear(3, 4, bias=False), nn.ReLU(), nn.Dropout(),
    ...                     nn.Linear(4, 1, bias=False))
    >>> [(kind, name) for kind, name, *_ in elm_steps(net)]
    [('linear', '0'), ('gate', '1'), ('linear', '3')]
    """
    if isinstance(module, nn.Sequential):
        sequential, prefix = module, ""
    elif isinstance(getattr(module, "layers", None), nn.Sequential):
        sequential, prefix = module.layers, "layers"
    else:
        raise TypeError(
            "The equivalent linear map needs an nn.Sequential, or a module whose "
            f"`layers` attribute is one (computing forward(x) = layers(x)); got "
            f"{type(module).__name__}."
        )
    steps = []
    for name, layer in _flatten(sequential, prefix):
        if isinstance(layer, nn.Linear):
            if layer.bias is not None:
                raise ValueError(
                    f"Layer {name!r} ({layer}) has a bias: f(x) = J(x) x is exact only "
                    "for bias-free networks. Build it with bias=False and carry the "
                    "intercept outside the network (as NeuralGPRegressor does)."
                )
            steps.append(("linear", name, layer, None, True))
        elif isinstance(layer, (nn.Dropout, nn.Identity)):
            continue
        else:
            gate = gate_of(layer)
            if gate is None:
                raise TypeError(
                    f"Layer {name!r} ({layer}) is not supported by the equivalent linear "
                    f"map; supported layers: {_SUPPORTED}."
                )
            steps.append(("gate", name, layer, *gate))
    if not any(kind == "linear" for kind, *_ in steps):
        raise ValueError("The module has no nn.Linear layer: nothing to map.")
    skip = linear_skip_of(module)
    if skip is not None and skip.bias is not None:
        raise ValueError(
            f"The linear skip path ({skip}) has a bias: f(x) = J(x) x is exact only for "
            "bias-free networks. Build it with bias=False."
        )
    if skip is not None and (skip.in_features, skip.out_features) != io_sizes(steps):
        raise ValueError(
            f"The linear skip path ({skip}) does not match the layers, which map "
            f"{io_sizes(steps)[0]} inputs to {io_sizes(steps)[1]} outputs."
        )
    return steps


def io_sizes(steps):
    """The input and output widths of the mapped network.

    Parameters
    ----------
    steps : list of tuple
        The steps :func:`elm_steps` returns.

    Returns
    -------
    n_features, n_outputs : int
        The first linear layer's inputs and the last one's outputs.

    Examples
    --------
    >>> from torch import nn
    >>> from sklearn_elm._elm import elm_steps, io_sizes
    >>> io_sizes(elm_steps(nn.Sequential(nn.Linear(3, 4, bias=False), nn.ReLU(),
    ...                                  nn.Linear(4, 2, bias=False))))
    (3, 2)
    """
    linears = [layer for kind, _, layer, *_ in steps if kind == "linear"]
    return linears[0].in_features, linears[-1].out_features


def _activate(layer, h):
    """``layer(h)`` without overwriting ``h`` (an ``inplace=True`` activation gets a copy)."""
    return layer(h.clone()) if getattr(layer, "inplace", False) else layer(h)


def _forward_gates(steps, x):
    """Run the layers on ``x`` and record each activation's gate vector."""
    a, gates = x, []
    for kind, _, layer, gate, homogeneous in steps:
        if kind == "linear":
            a = F.linear(a, layer.weight)
            continue
        out = _activate(layer, a)
        gates.append(gate(a) if homogeneous else implied_gate(gate, a, out))
        a = out
    return a, gates


def _closed_form_cost(steps, n_features, n_outputs):
    """Multiply-adds per sample of the reverse and forward closed forms."""
    products = [
        layer.in_features * layer.out_features for kind, _, layer, *_ in steps if kind == "linear"
    ]
    # reverse: the last weight matrix starts the product, every other one costs
    # n_outputs * in * out; forward: the first starts it, every other one
    # costs n_features * in * out.
    return n_outputs * sum(products[:-1]), n_features * sum(products[1:])


def _jacobian_reverse(steps, gates, n):
    """``J = W_L D_{L-1} ... D_1 W_1`` accumulated from the outputs: G is (n, k, width)."""
    gates = list(gates)
    G, owned = None, False  # owned: G is a fresh buffer that may be scaled in place
    for kind, _, layer, *_ in reversed(steps):
        if kind == "linear":
            W = layer.weight
            G, owned = (W.expand(n, *W.shape), False) if G is None else (G @ W, True)
        else:
            d = gates.pop().unsqueeze(1)
            if G is None:
                G = torch.diag_embed(d[:, 0])
            else:
                G = G.mul_(d) if owned else G * d
            owned = True
    return G


def _jacobian_forward(steps, gates, n):
    """The same product accumulated from the inputs, transposed: T = J^T is (n, p, width)."""
    gates = list(reversed(gates))
    T, owned = None, False
    for kind, _, layer, *_ in steps:
        if kind == "linear":
            Wt = layer.weight.T
            T, owned = (Wt.expand(n, *Wt.shape), False) if T is None else (T @ Wt, True)
        else:
            d = gates.pop().unsqueeze(1)
            if T is None:
                T = torch.diag_embed(d[:, 0])
            else:
                T = T.mul_(d) if owned else T * d
            owned = True
    return T.transpose(1, 2)


def _detached_forward(steps, x):
    """Forward pass with every non-homogeneous gate held constant (detached)."""
    a = x
    for kind, _, layer, gate, homogeneous in steps:
        if kind == "linear":
            a = F.linear(a, layer.weight)
        elif homogeneous:
            # an in-place activation cannot be differentiated through in every case
            # (LeakyReLU with a negative slope); h * gate(h) is the same map
            a = a * gate(a) if getattr(layer, "inplace", False) else layer(a)
        else:
            a = a * implied_gate(gate, a, _activate(layer, a)).detach()
    return a


def _jacobian_autograd(steps, x):
    """Reverse-mode autograd on the detached-gate graph: one backward per output."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        out = _detached_forward(steps, x)
        rows = [
            torch.autograd.grad(out[:, k].sum(), x, retain_graph=k + 1 < out.shape[1])[0]
            for k in range(out.shape[1])
        ]
    return out.detach(), torch.stack(rows, dim=1)


def _module_tensor(steps, X):
    """``X`` as a 2-D tensor with the module's dtype and device."""
    weight = next(layer.weight for kind, _, layer, *_ in steps if kind == "linear")
    if isinstance(X, torch.Tensor):
        x = X.detach().to(dtype=weight.dtype, device=weight.device)
    else:
        X = np.asarray(X)
        if not X.flags.writeable:  # torch warns on read-only buffers
            X = X.copy()
        x = torch.as_tensor(X, dtype=weight.dtype, device=weight.device)
    n_features, _ = io_sizes(steps)
    if x.ndim != 2 or x.shape[1] != n_features:
        raise ValueError(
            f"X has shape {tuple(x.shape)}, but the module expects a 2-D input with "
            f"{n_features} features."
        )
    if not torch.isfinite(x).all():
        raise ValueError("X contains NaN or infinity; the map is defined for finite inputs only.")
    return x


def elm_batches(module, X, *, batch_size=None, method="closed_form", check_forward=True):
    """Yield ``(x, f, J)`` tensors batch by batch: inputs, outputs ``f(x)`` and ELM ``J(x)``.

    The generator behind :func:`equivalent_linear_map`, which the streamed
    decomposition reads without concatenating the batches.  ``f`` is the
    output of the module's layers (the activation modules are applied as
    such), so ``f - J x`` is the true exactness residual.

    Parameters
    ----------
    module : torch.nn.Module
        The network, as for :func:`equivalent_linear_map`.
    X : array-like or torch.Tensor of shape (n_samples, n_features)
        Inputs; cast to the module's dtype and device.
    batch_size : int or None, default=None
        Samples per batch; None yields all samples in one batch.
    method : {"closed_form", "autograd"}, default="closed_form"
        As for :func:`equivalent_linear_map`.
    check_forward : bool, default=True
        For a module that is not a plain ``nn.Sequential``, check on the
        first rows of the first batch that the module's own forward is its
        layers.

    Yields
    ------
    x : torch.Tensor of shape (b, n_features)
    f : torch.Tensor of shape (b, n_outputs)
    J : torch.Tensor of shape (b, n_outputs, n_features)
        In the module's dtype and on its device.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sklearn_elm._elm import elm_batches
    >>> net = nn.Sequential(nn.Linear(3, 4, bias=False), nn.ReLU(), nn.Linear(4, 2, bias=False))
    >>> [tuple(J.shape) for _, _, J in elm_batches(net, torch.randn(5, 3), batch_size=2)]
    [(2, 2, 3), (2, 2, 3), (1, 2, 3)]
    """
    if method not in ("closed_form", "autograd"):
        raise ValueError(f"method must be 'closed_form' or 'autograd', got {method!r}.")
    steps = elm_steps(module)
    skip = linear_skip_of(module)
    x_all = _module_tensor(steps, X)
    n = x_all.shape[0]
    if batch_size is not None and int(batch_size) < 1:
        raise ValueError(f"batch_size must be a positive integer or None, got {batch_size!r}.")
    step = max(n, 1) if batch_size is None else int(batch_size)
    n_features, n_outputs = io_sizes(steps)
    reverse_cost, forward_cost = _closed_form_cost(steps, n_features, n_outputs)
    jacobian = _jacobian_reverse if reverse_cost <= forward_cost else _jacobian_forward
    for start in range(0, n, step):
        x = x_all[start : start + step]
        if method == "autograd":
            f, J = _jacobian_autograd(steps, x)
        else:
            with torch.no_grad():
                f, gates = _forward_gates(steps, x)
                J = jacobian(steps, gates, x.shape[0])
        if skip is not None:  # forward(x) = layers(x) + skip(x): J(x) gains skip's weight
            f, J = f + F.linear(x, skip.weight.detach()), J + skip.weight.detach()
        if pair_path_of(module) is not None:  # and pairs(x_i x_j): half on each locus
            f, J = add_pair_path(module, x, f, J)
        if check_forward and start == 0 and type(module) is not nn.Sequential:
            _check_forward_is_layers(module, x[:64], f[:64])
        yield x, f.detach(), J.detach()


def _check_forward_is_layers(module, x, f):
    """A clear error where ``module(x)`` is not the stack of layers that the map covers."""
    out = eval_output(module, x)  # dropout is the identity in the map
    if isinstance(out, torch.Tensor) and out.shape == f.shape:
        gap = (out - f).abs().max().item() if out.numel() else 0.0
        scale = f.abs().max().item() if f.numel() else 0.0
        if gap <= 1e-4 * scale + 10 * torch.finfo(f.dtype).tiny:
            return
        detail = f"max |module(x) - layers(x)| = {gap:.3g} on the first batch"
    else:
        shape = tuple(getattr(out, "shape", ()))
        detail = f"module(x) has shape {shape}, layers(x) {tuple(f.shape)}"
    raise ValueError(
        f"The forward of {type(module).__name__} is not its stack of layers ({detail}): "
        "the equivalent linear map covers only the layers, so it would not be exact for "
        "the module. Put every operation of the forward pass in the nn.Sequential "
        "(`layers`), bias-free, and a linear path beside it in `skip` (a bias-free "
        "nn.Linear added to the output)."
    )


def elm_residual(f, J, x):
    """Exactness residual of an ELM: ``max_n |f(x_n) - J(x_n) x_n|`` per output.

    Parameters
    ----------
    f : torch.Tensor of shape (n_samples, n_outputs)
        Network outputs.
    J : torch.Tensor of shape (n_samples, n_outputs, n_features)
        Equivalent linear maps.
    x : torch.Tensor of shape (n_samples, n_features)
        Inputs.

    Returns
    -------
    residual : torch.Tensor of shape (n_outputs,)
        Largest absolute residual of each output (0 for an empty batch).

    Examples
    --------
    >>> import torch
    >>> x = torch.tensor([[1.0, 2.0]])
    >>> J = torch.tensor([[[3.0, 1.0]]])
    >>> elm_residual(torch.tensor([[5.0]]), J, x)
    tensor([0.])
    """
    if f.shape[0] == 0:
        return f.new_zeros(f.shape[1])
    with torch.no_grad():
        return (f - torch.einsum("nkp,np->nk", J, x)).abs().amax(dim=0)


def equivalent_linear_map(
    module,
    X,
    *,
    batch_size=None,
    method="closed_form",
    return_output=False,
    return_residual=False,
):
    """Exact per-sample equivalent linear map ``J(x)`` of a bias-free gated network.

    ``f(x) = J(x) x`` holds to float round-off for every sample, with::

        J(x) = W_L D_{L-1}(x) ... D_1(x) W_1,    D_l = diag(gate(h_l(x)))

    where ``act(h) = h * gate(h)``: ``1[h > 0]`` for ReLU, 1 or the negative
    slope for LeakyReLU (the ordinary Jacobian, by Euler's theorem for
    positively homogeneous maps), ``sigmoid(h)`` for SiLU and ``Phi(h)`` (or
    its tanh approximation) for GELU (the Jacobian with the gate detached).

    Parameters
    ----------
    module : torch.nn.Module
        An ``nn.Sequential``, or a module whose ``layers`` attribute is one and
        whose forward is ``layers(x)``, or ``layers(x) + skip(x)`` with a
        bias-free ``nn.Linear`` linear path ``skip``, plus a pair path's
        ``sum_k w_k x_i x_j`` (such as :class:`~sklearn_elm.nn.GatedMLP`,
        whose map puts half of each product on each of its loci), the
        layers made of bias-free ``nn.Linear`` layers, ReLU / LeakyReLU /
        SiLU / GELU activations, ``nn.Dropout`` (treated as the identity, as
        in evaluation mode) and ``nn.Identity``.
    X : array-like or torch.Tensor of shape (n_samples, n_features)
        Inputs; cast to the module's dtype and device.
    batch_size : int or None, default=None
        Samples per batch; None maps all samples at once.  Peak memory is
        ``O(batch_size * n_outputs * width)``.
    method : {"closed_form", "autograd"}, default="closed_form"
        ``"closed_form"`` multiplies weight matrices and gate diagonals with
        batched matrix products (the cheaper of reverse and forward order);
        ``"autograd"`` runs one reverse-mode backward pass per output per
        batch on the detached-gate graph.  Both are exact; the first is faster.
    return_output : bool, default=False
        Also return the network outputs ``f(X)``.
    return_residual : bool, default=False
        Also return the exactness residual ``max_n |f(x_n) - J(x_n) x_n|``.

    Returns
    -------
    J : ndarray of shape (n_samples, n_outputs, n_features)
        The equivalent linear map of each sample.
    output : ndarray of shape (n_samples, n_outputs)
        ``f(X)``; only when ``return_output=True``.
    residual : ndarray of shape (n_outputs,)
        Exactness residual per output; only when ``return_residual=True``.

    Raises
    ------
    ValueError
        If a linear layer has a bias, or ``X`` has the wrong number of features.
    TypeError
        If the module is not such a sequential stack or contains an
        unsupported layer (the error names the layer).

    See Also
    --------
    sklearn_elm.ELMDecomposer : decomposes a fitted network with this map.

    Notes
    -----
    The gates of ReLU networks are piecewise constant, so ``J`` is their
    Jacobian.  For SiLU and GELU the Jacobian proper does not satisfy
    ``f(x) = J x``; the detached-gate Jacobian does (Golden, 2025).  A module
    with biases has ``f(x) = J(x) x + c(x)``; it is rejected rather than
    silently decomposed without ``c``.

    References
    ----------
    .. [1] J. R. Golden, "Equivalent Linear Mappings of Large Language
       Models", arXiv:2505.24293, 2025.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sklearn_elm import equivalent_linear_map
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> net = nn.Sequential(nn.Linear(3, 8, bias=False), nn.SiLU(),
    ...                     nn.Linear(8, 2, bias=False))
    >>> X = torch.randn(5, 3)
    >>> J, f, residual = equivalent_linear_map(net, X, return_output=True,
    ...                                        return_residual=True)
    >>> J.shape
    (5, 2, 3)
    >>> bool(abs(f - (J @ X.numpy()[:, :, None])[..., 0]).max() < 1e-5)
    True
    >>> bool((residual < 1e-5).all())
    True
    """
    Js, outputs, residual = [], [], None
    for x, f, J in elm_batches(module, X, batch_size=batch_size, method=method):
        r = elm_residual(f, J, x)
        residual = r if residual is None else torch.maximum(residual, r)
        Js.append(J.detach().cpu())
        outputs.append(f.detach().cpu())
    if not Js:
        raise ValueError("X has 0 samples: nothing to map.")
    result = [torch.cat(Js).numpy()]
    if return_output:
        result.append(torch.cat(outputs).numpy())
    if return_residual:
        result.append(residual.cpu().numpy())
    return result[0] if len(result) == 1 else tuple(result)
