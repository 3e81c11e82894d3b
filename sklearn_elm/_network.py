"""Plain torch pieces: the bias-free gated multilayer perceptron and its batch loader.

Nothing in this module imports scikit-learn: these are the networks that
:class:`~sklearn_elm.NeuralGPRegressor` trains, the loader that feeds them
mini-batches, and what the equivalent linear map
(:func:`~sklearn_elm.equivalent_linear_map`) evaluates.  The public names are
in :mod:`sklearn_elm.nn`.
"""

import numpy as np
import torch
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler

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
    hidden_sizes : sequence of int, default=(512,)
        Width of each hidden layer; an empty sequence gives a linear model.
        One hidden layer of ReLU units represents a pairwise interaction of
        -1/+1 codes with two units, ``z_i z_j = relu(z_i + z_j) +
        relu(-z_i - z_j) - 1``.
    activation : {"relu", "leaky_relu", "silu", "gelu"}, default="relu"
        Gated activation between layers.  ReLU is positively homogeneous: the
        network's equivalent linear map is its Jacobian, and scaling one layer
        up and the next down changes neither its function nor its
        :func:`l1_path_norm`.
    negative_slope : float, default=0.01
        Slope of ``leaky_relu`` for negative inputs; ignored otherwise.
    dropout : float, default=0.0
        Dropout probability after each hidden activation (training only).
    linear_skip : bool, default=False
        Add a bias-free linear path from the inputs to the outputs beside the
        stack, ``forward(x) = layers(x) + skip(x)``: the additive part of a
        polygenic trait, which :class:`~sklearn_elm.NeuralGPRegressor`
        penalises by ridge rather than by the path norm.  The map stays exact,
        ``J(x) = J_layers(x) + skip.weight``.
    pair_path : int, default=0
        Slots of a bias-free path of pair products beside the stack,
        ``forward(x) = layers(x) + skip(x) + pairs(x_i x_j)`` over the pairs
        ``pair_index``: the few interacting pairs of a sparse trait, which
        :class:`~sklearn_elm.nn.PairSeeding` fills from a scan of the targets
        and :class:`~sklearn_elm.NeuralGPRegressor` penalises by the lasso.
        The map stays exact: ``J(x)`` gains ``w x_j / 2`` on locus ``i`` and
        ``w x_i / 2`` on locus ``j``.  A slot is used once filled
        (``pair_used``); its weight starts at 0.

    Attributes
    ----------
    layers : torch.nn.Sequential
        The stack of linear, activation and dropout modules.
    skip : torch.nn.Linear or None
        The linear path (``linear_skip=True``), initialised at 0; None otherwise.
    pairs : torch.nn.Linear or None
        The pair path's weights (``pair_path > 0``), initialised at 0; None
        otherwise.  Its buffers ``pair_index`` (``(pair_path, 2)`` locus
        indices) and ``pair_used`` (1 for a filled slot, 0 for an empty one)
        travel with the module's state.

    See Also
    --------
    sklearn_elm.NeuralGPRegressor : trains this module through skorch.

    Examples
    --------
    >>> import torch
    >>> from sklearn_elm.nn import GatedMLP
    >>> net = GatedMLP(4, 2, hidden_sizes=(8,), activation="silu")
    >>> net(torch.ones(3, 4)).shape
    torch.Size([3, 2])
    >>> any(m.bias is not None for m in net.modules() if isinstance(m, torch.nn.Linear))
    False
    >>> GatedMLP(4, 2, hidden_sizes=(8,), linear_skip=True).skip.weight.shape
    torch.Size([2, 4])
    >>> GatedMLP(4, 2, hidden_sizes=(8,), pair_path=3).pair_index.shape
    torch.Size([3, 2])
    """

    def __init__(
        self,
        n_features,
        n_outputs=1,
        hidden_sizes=(512,),
        activation="relu",
        negative_slope=0.01,
        dropout=0.0,
        linear_skip=False,
        pair_path=0,
    ):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}."
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}.")
        sizes = [int(n_features), *(int(h) for h in hidden_sizes)]
        if int(pair_path) < 0:
            raise ValueError(f"pair_path must be an integer >= 0, got {pair_path!r}.")
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
        self.skip = None
        if linear_skip:
            self.skip = nn.Linear(sizes[0], int(n_outputs), bias=False)
            nn.init.zeros_(self.skip.weight)
        self.pairs = None
        if int(pair_path) > 0:
            self.pairs = nn.Linear(int(pair_path), int(n_outputs), bias=False)
            nn.init.zeros_(self.pairs.weight)
            self.register_buffer("pair_index", torch.zeros(int(pair_path), 2, dtype=torch.long))
            self.register_buffer("pair_used", torch.zeros(int(pair_path)))

    def forward(self, X):
        """Map a batch of inputs of shape (n, n_features) to (n, n_outputs)."""
        out = self.layers(X)
        skip = getattr(self, "skip", None)  # a module pickled before the path has none
        if skip is not None:
            out = out + skip(X)
        if pair_path_of(self) is not None:
            out = out + self.pairs(pair_products(self, X))
        return out


def l1_path_norm(module):
    """Sum over every input-to-output path of the product of absolute weights.

    For a chain of linear layers ``W_1, ..., W_L`` (activations in between)
    this is ``1^T |W_L| ... |W_1| 1``, computed with one matrix-vector
    product per layer.  Scaling one layer up and the next down by the same
    factor leaves it unchanged, as it leaves a ReLU network's function, and
    penalising it favours hidden units that read few inputs and feed few
    outputs: the sparse prior that suits a few additive loci and a few
    interacting pairs among many.  For one hidden layer it is
    ``sum_k ||W_2[:, k]||_1 ||W_1[k, :]||_1``.

    Parameters
    ----------
    module : torch.nn.Module
        A network whose :class:`torch.nn.Linear` layers are applied one after
        the other, in registration order, with activations in between (no
        branches: only mismatched sizes are detected).  Biases are not
        counted.  Of a module with a ``layers`` stack (such as
        :class:`GatedMLP`), only the stack is: its linear ``skip`` path is no
        path through hidden units, and is penalised on its own.

    Returns
    -------
    norm : torch.Tensor
        Scalar, differentiable with respect to the weights.

    Raises
    ------
    ValueError
        If the module has no linear layer or its linear layers do not chain.

    Examples
    --------
    >>> import torch
    >>> from sklearn_elm.nn import GatedMLP, l1_path_norm
    >>> net = GatedMLP(2, 1, hidden_sizes=(2,))
    >>> with torch.no_grad():
    ...     _ = net.layers[0].weight.copy_(torch.tensor([[1.0, -1.0], [2.0, 0.0]]))
    ...     _ = net.layers[2].weight.copy_(torch.tensor([[3.0, -0.5]]))
    >>> l1_path_norm(net).item()  # 3 * (1 + 1) + 0.5 * 2
    7.0
    """
    stack = module.layers if isinstance(getattr(module, "layers", None), nn.Module) else module
    layers = [m for m in stack.modules() if isinstance(m, nn.Linear)]
    if not layers:
        raise ValueError(f"{type(module).__name__} has no nn.Linear layer to take a path norm of.")
    paths = torch.ones(layers[0].in_features, dtype=layers[0].weight.dtype,
                       device=layers[0].weight.device)
    for index, layer in enumerate(layers):
        if layer.in_features != paths.shape[0]:
            raise ValueError(
                f"The nn.Linear layers of {type(module).__name__} do not form a chain: layer "
                f"{index} takes {layer.in_features} inputs after a layer with "
                f"{paths.shape[0]} outputs, so the path norm is undefined.  Set "
                "path_penalty=0 to train this module without it."
            )
        paths = layer.weight.abs() @ paths
    return paths.sum()


def linear_skip_of(module):
    """The module's linear ``skip`` path (an ``nn.Linear`` beside its ``layers``), or None.

    Examples
    --------
    >>> from sklearn_elm._network import GatedMLP, linear_skip_of
    >>> linear_skip_of(GatedMLP(3, hidden_sizes=(4,))) is None
    True
    >>> linear_skip_of(GatedMLP(3, hidden_sizes=(4,), linear_skip=True))
    Linear(in_features=3, out_features=1, bias=False)
    """
    skip = getattr(module, "skip", None)
    return skip if isinstance(skip, nn.Linear) else None


def pair_path_of(module):
    """The module's pair path (an ``nn.Linear`` named ``pairs`` with the buffers
    ``pair_index`` and ``pair_used``), or None.

    Examples
    --------
    >>> from sklearn_elm._network import GatedMLP, pair_path_of
    >>> pair_path_of(GatedMLP(3, hidden_sizes=(4,))) is None
    True
    >>> pair_path_of(GatedMLP(3, hidden_sizes=(4,), pair_path=2))
    Linear(in_features=2, out_features=1, bias=False)
    """
    pairs = getattr(module, "pairs", None)
    if isinstance(pairs, nn.Linear) and hasattr(module, "pair_index"):
        return pairs
    return None


def pair_products(module, X):
    """The products ``x_i x_j`` of the pair path's slots, 0 in an empty slot.

    Examples
    --------
    >>> import torch
    >>> from sklearn_elm._network import GatedMLP, pair_products
    >>> net = GatedMLP(3, hidden_sizes=(4,), pair_path=2)
    >>> _ = net.pair_index.copy_(torch.tensor([[0, 2], [0, 0]]))
    >>> _ = net.pair_used.copy_(torch.tensor([1.0, 0.0]))
    >>> pair_products(net, torch.tensor([[2.0, 5.0, 3.0]]))
    tensor([[6., 0.]])
    """
    index = module.pair_index
    return X[:, index[:, 0]] * X[:, index[:, 1]] * module.pair_used.to(X.dtype)


def held_pairs(module):
    """The pairs ``(i, j)``, ``i < j``, that the pair path holds with a non-zero weight, per
    output, largest ``|weight|`` first: a list of int arrays of shape (m, 2), or None where
    the module has no pair path.

    Examples
    --------
    >>> import torch
    >>> from sklearn_elm._network import GatedMLP, held_pairs
    >>> net = GatedMLP(4, 2, hidden_sizes=(4,), pair_path=2)
    >>> _ = net.pair_index.copy_(torch.tensor([[2, 0], [1, 3]]))
    >>> _ = net.pair_used.copy_(torch.tensor([1.0, 1.0]))
    >>> with torch.no_grad():
    ...     _ = net.pairs.weight.copy_(torch.tensor([[0.5, 0.0], [0.5, -1.0]]))
    >>> [pairs.tolist() for pairs in held_pairs(net)]
    [[[0, 2]], [[1, 3], [0, 2]]]
    """
    if pair_path_of(module) is None:
        return None
    index = np.sort(module.pair_index.detach().cpu().numpy().astype(np.intp), axis=1)
    used = module.pair_used.detach().cpu().numpy() > 0
    weight = module.pairs.weight.detach().cpu().numpy()
    held = []
    for row in weight:
        slots = np.flatnonzero(used & (row != 0) & (index[:, 0] != index[:, 1]))
        slots = slots[np.argsort(-np.abs(row[slots]), kind="stable")]
        # a pair in two slots once, at its first (largest) place
        pairs = [tuple(pair) for pair in index[slots].tolist()]
        held.append(np.array(list(dict.fromkeys(pairs)), dtype=np.intp).reshape(-1, 2))
    return held


def add_pair_path(module, x, f, J):
    """``(f, J)`` of the rest of the network with the pair path's part added.

    The path adds ``w x_i x_j`` to the output; ``J(x)`` gains ``w x_j / 2`` on
    locus ``i`` and ``w x_i / 2`` on locus ``j``, so that ``J(x) x`` gains the
    same and the map stays exact.  ``J`` has shape ``(b, n_outputs,
    n_features)``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_elm._network import GatedMLP, add_pair_path
    >>> net = GatedMLP(3, hidden_sizes=(4,), pair_path=1)
    >>> _ = net.pair_index.copy_(torch.tensor([[0, 2]]))
    >>> _ = net.pair_used.fill_(1.0)
    >>> _ = torch.nn.init.constant_(net.pairs.weight, 2.0)
    >>> x = torch.tensor([[1.0, 1.0, -1.0]])
    >>> f, J = add_pair_path(net, x, torch.zeros(1, 1), torch.zeros(1, 1, 3))
    >>> f, J
    (tensor([[-2.]]), tensor([[[-1.,  0.,  1.]]]))
    >>> bool(torch.allclose(f, (J @ x.unsqueeze(2))[..., 0]))
    True
    """
    weight = module.pairs.weight.detach().to(x.dtype)
    half = weight.unsqueeze(0) / 2  # (1, n_outputs, K)
    index, used = module.pair_index, module.pair_used.to(x.dtype)
    J = J.index_add(2, index[:, 0], half * (x[:, index[:, 1]] * used).unsqueeze(1))
    J = J.index_add(2, index[:, 1], half * (x[:, index[:, 0]] * used).unsqueeze(1))
    return f + pair_products(module, x) @ weight.T, J


def eval_output(module, x):
    """``module(x)`` in evaluation mode without gradients, every submodule's mode restored.

    Parameters
    ----------
    module : torch.nn.Module
        The network.
    x : torch.Tensor
        Its input.

    Returns
    -------
    out : torch.Tensor
        The output, with dropout off.

    Examples
    --------
    >>> import torch
    >>> net = GatedMLP(3, 1, hidden_sizes=(4,), dropout=0.5).train()
    >>> eval_output(net, torch.zeros(2, 3)).shape, net.training
    (torch.Size([2, 1]), True)
    """
    modes = [(sub, sub.training) for sub in module.modules()]
    module.eval()
    try:
        with torch.no_grad():
            return module(x)
    finally:
        for sub, training in modes:
            sub.training = training


def batch_loader(dataset, batch_size=128, shuffle=False, **kwargs):
    """DataLoader that indexes the dataset once per mini-batch, not once per sample.

    skorch's default DataLoader fetches and collates samples one by one, which
    on small networks costs several times the arithmetic of the training step.
    Indexing the in-memory arrays with a whole batch of indices gives the same
    batches at a fraction of the cost.  Over the chunks of a lazy input (what
    :class:`~sklearn_elm.NeuralGPRegressor` trains a dask array or a PLINK file
    on), each batch is drawn from within one chunk of consecutive samples, the
    chunks in a random order when shuffling.

    Parameters
    ----------
    dataset : skorch.dataset.Dataset
        Dataset whose ``__getitem__`` accepts an array of indices.
    batch_size : int, default=128
        Mini-batch size; the last batch may be smaller.
    shuffle : bool, default=False
        Draw the batches in a random order (from the global torch generator).
    **kwargs
        Passed to :class:`torch.utils.data.DataLoader`.

    Returns
    -------
    loader : torch.utils.data.DataLoader

    Examples
    --------
    >>> import numpy as np
    >>> from skorch.dataset import Dataset
    >>> from sklearn_elm.nn import batch_loader
    >>> data = Dataset(np.arange(10.0).reshape(5, 2), np.arange(5.0))
    >>> [tuple(X.shape) for X, y in batch_loader(data, batch_size=2)]
    [(2, 2), (2, 2), (1, 2)]
    """
    from ._chunks import ChunkBatches, chunked_base

    chunked = chunked_base(dataset)
    if chunked is not None:  # a lazy X: batches within chunks of consecutive samples
        base, rows = chunked
        sampler = ChunkBatches(rows, base.chunk_of(rows), batch_size, shuffle)
    else:
        order = RandomSampler(dataset) if shuffle else SequentialSampler(dataset)
        sampler = _IndexArrayBatches(order, batch_size=batch_size, drop_last=False)
    return DataLoader(dataset, batch_size=None, sampler=sampler, **kwargs)


class _IndexArrayBatches(BatchSampler):
    # an index array, not a list: sklearn's indexing inspects every list element
    def __iter__(self):
        for batch in super().__iter__():
            yield np.asarray(batch)
