"""Tests of the equivalent linear map: exactness, agreement with autograd, errors."""

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from torch import nn

from sklearn_elm._elm import (
    _forward_gates,
    _jacobian_forward,
    _jacobian_reverse,
    elm_steps,
    equivalent_linear_map,
)
from sklearn_elm._network import GatedMLP

ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.1),
    "silu": nn.SiLU,
    "gelu": nn.GELU,
    "gelu_tanh": lambda: nn.GELU(approximate="tanh"),
}


def make_net(sizes, activation, dtype=torch.float64, seed=0):
    """A bias-free MLP with the given layer sizes and activation."""
    torch.manual_seed(seed)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=False)):
        layers.append(nn.Linear(n_in, n_out, bias=False))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers).to(dtype)


def relative_residual(net, X):
    """max |f - J x| relative to the size of what the network sums on the way.

    That size is the summed terms ``|J_i x_i|``; in float32 the larger of them and the path bound
    ``|W_L| ... |W_1| |x|`` (gates at most about 1): where the terms cancel inside
    the network the output's own round-off is of the order of the latter, not of
    the small output (hypothesis found a float32 GELU chain 3e-5 off relative to
    the former, where the module's float32 output differs from its float64 one by
    1.4e-5).
    """
    J, f, residual = equivalent_linear_map(net, X, return_output=True, return_residual=True)
    x = np.asarray(X, dtype=np.float64)
    terms = np.abs(J * x[:, None, :]).sum(axis=-1).max()
    paths = np.abs(x).T
    for layer in (m for m in net.modules() if isinstance(m, nn.Linear)):
        paths = np.abs(layer.weight.detach().double().numpy()) @ paths
    # float64 keeps the stricter scale: its round-off is far below the bound either way
    size = max(terms, paths.max() if J.dtype == np.float32 else 0.0, np.finfo(J.dtype).tiny)
    return residual.max() / size, J, f


@settings(max_examples=60, deadline=None)
@example(widths=[5, 11], n_features=1, n_outputs=1, activation="gelu", double=False,
         n_samples=1, scale=1.0, seed=2964)
@given(
    widths=st.lists(st.integers(1, 12), min_size=0, max_size=3),
    n_features=st.integers(1, 6),
    n_outputs=st.integers(1, 3),
    activation=st.sampled_from(sorted(ACTIVATIONS)),
    double=st.booleans(),
    n_samples=st.integers(1, 20),
    scale=st.sampled_from([1e-2, 1.0, 30.0]),
    seed=st.integers(0, 2**16),
)
def test_exactness_property(
    widths, n_features, n_outputs, activation, double, n_samples, scale, seed
):
    """f(x) = J(x) x to round-off for any bias-free gated MLP and input."""
    dtype = torch.float64 if double else torch.float32
    net = make_net([n_features, *widths, n_outputs], activation, dtype=dtype, seed=seed)
    gen = torch.Generator().manual_seed(seed + 1)
    X = scale * torch.randn(n_samples, n_features, generator=gen, dtype=dtype)
    rel, J, f = relative_residual(net, X)
    assert J.shape == (n_samples, n_outputs, n_features)
    assert J.dtype == (np.float64 if double else np.float32)
    assert rel <= (1e-10 if double else 1e-5)
    with torch.no_grad():
        np.testing.assert_array_equal(f, net(X).numpy())


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_closed_form_matches_autograd_on_detached_graph(activation):
    """The closed form equals reverse-mode autograd with the gates detached."""
    net = make_net([5, 7, 6, 3], activation)
    X = torch.randn(11, 5, dtype=torch.float64)
    J = equivalent_linear_map(net, X, batch_size=4)
    J_auto = equivalent_linear_map(net, X, method="autograd", batch_size=4)
    np.testing.assert_allclose(J, J_auto, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method", ["closed_form", "autograd"])
def test_float32_gelu_gate_matches_the_module_forward(method):
    """Where 1 + erf(h) cancels, torch's GELU kernel and torch.erf differ by many ulps;
    both methods take the gate from the layer's own output, so J x reproduces the
    module's own output (hypothesis found this width-1 chain 7e-5 off, relatively)."""
    net = make_net([3, 1, 1, 1], "gelu", dtype=torch.float32, seed=245)
    X = 30.0 * torch.randn(13, 3, generator=torch.Generator().manual_seed(246))
    J = equivalent_linear_map(net, X, method=method)
    with torch.no_grad():
        f = net(X).numpy()
    terms = np.abs(J * X.numpy()[:, None, :]).sum(axis=-1).max()
    assert np.abs(f - np.einsum("nkp,np->nk", J, X.numpy())).max() <= 1e-5 * terms


@pytest.mark.parametrize("sizes", [[5, 7, 6, 3], [2, 9, 9, 6], [4, 3]])
def test_forward_and_reverse_products_agree(sizes):
    """Both multiplication orders of W_L D ... D W_1 give the same J."""
    net = make_net(sizes, "silu")
    steps = elm_steps(net)
    X = torch.randn(8, sizes[0], dtype=torch.float64)
    with torch.no_grad():
        _, gates = _forward_gates(steps, X)
        np.testing.assert_allclose(
            _jacobian_forward(steps, gates, 8), _jacobian_reverse(steps, gates, 8), atol=1e-13
        )


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_homogeneous_elm_is_the_jacobian(activation):
    """For ReLU nets J is the ordinary Jacobian (Euler's theorem)."""
    net = make_net([4, 8, 8, 2], activation)
    X = torch.randn(6, 4, dtype=torch.float64)
    J = equivalent_linear_map(net, X)
    jac = torch.func.vmap(torch.func.jacrev(net))(X).detach().numpy()
    np.testing.assert_allclose(J, jac, atol=1e-12)


def test_gated_elm_is_not_the_jacobian():
    """For SiLU the plain Jacobian is not exact; the detached one is."""
    net = make_net([4, 8, 1], "silu")
    X = torch.randn(6, 4, dtype=torch.float64)
    J, f = equivalent_linear_map(net, X, return_output=True)
    jac = torch.func.vmap(torch.func.jacrev(net))(X).detach().numpy()
    x = X.numpy()[:, None, :]
    assert np.abs((jac * x).sum(-1) - f).max() > 1e-3
    np.testing.assert_allclose((J * x).sum(-1), f, atol=1e-12)


def test_planted_pair_network():
    """|z_0 + z_1| = relu(z_0 + z_1) + relu(-z_0 - z_1) = 1 + z_0 z_1 on -1/+1 inputs.

    Its ELM is s_0 = s_1 = (z_0 + z_1) / 2: the pair is split evenly.
    """
    net = nn.Sequential(nn.Linear(2, 2, bias=False), nn.ReLU(), nn.Linear(2, 1, bias=False))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, 1.0], [-1.0, -1.0]]))
        net[2].weight.copy_(torch.tensor([[1.0, 1.0]]))
    Z = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    J, f = equivalent_linear_map(net, Z, return_output=True)
    np.testing.assert_array_equal(f[:, 0], 1 + Z[:, 0] * Z[:, 1])
    np.testing.assert_array_equal(J[:, 0, 0], Z.sum(axis=1) / 2)
    np.testing.assert_array_equal(J[:, 0, 1], Z.sum(axis=1) / 2)


def test_gated_mlp_and_batches():
    """GatedMLP (layers in `.layers`) works; batching and dropout change nothing."""
    net = GatedMLP(6, 2, hidden_sizes=(10, 5), activation="gelu", dropout=0.5).double()
    net.train()  # dropout is the identity for the map, as in evaluation mode
    X = np.random.default_rng(0).normal(size=(13, 6))
    J_all, f_all, res = equivalent_linear_map(net, X, return_output=True, return_residual=True)
    J_b, f_b = equivalent_linear_map(net, X, batch_size=4, return_output=True)
    np.testing.assert_allclose(J_all, J_b, atol=1e-14)
    np.testing.assert_allclose(f_all, f_b, atol=1e-14)
    with torch.no_grad():
        np.testing.assert_allclose(f_all, net.eval()(torch.as_tensor(X)).numpy(), atol=1e-14)
    assert res.shape == (2,) and res.max() < 1e-12


def test_float32_module_gives_float32():
    net = GatedMLP(3, 1, hidden_sizes=(4,))
    J = equivalent_linear_map(net, np.ones((2, 3)))
    assert J.dtype == np.float32 and J.shape == (2, 1, 3)


def test_bias_is_rejected_naming_the_layer():
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1, bias=False))
    with pytest.raises(ValueError, match=r"Layer '0'.*has a bias"):
        equivalent_linear_map(net, np.ones((2, 3)))


def test_unsupported_layer_is_rejected_naming_it():
    net = GatedMLP(3, 1, hidden_sizes=(4,))
    net.layers[1] = nn.Tanh()
    with pytest.raises(TypeError, match=r"Layer 'layers.1' \(Tanh\(\)\) is not supported"):
        equivalent_linear_map(net, np.ones((2, 3)))


def test_non_sequential_module_is_rejected():
    with pytest.raises(TypeError, match="nn.Sequential"):
        equivalent_linear_map(nn.Linear(3, 1, bias=False), np.ones((2, 3)))


def test_wrong_input_is_rejected():
    net = GatedMLP(3, 1, hidden_sizes=(4,))
    with pytest.raises(ValueError, match="expects a 2-D input with 3 features"):
        equivalent_linear_map(net, np.ones((2, 4)))
    with pytest.raises(ValueError, match="method must be"):
        equivalent_linear_map(net, np.ones((2, 3)), method="loop")
    with pytest.raises(ValueError, match="batch_size"):
        equivalent_linear_map(net, np.ones((2, 3)), batch_size=0)
    with pytest.raises(ValueError, match="0 samples"):
        equivalent_linear_map(net, np.ones((0, 3)))


@pytest.mark.parametrize("method", ["closed_form", "autograd"])
@pytest.mark.parametrize(
    "activation",
    [
        lambda inplace: nn.ReLU(inplace=inplace),
        lambda inplace: nn.LeakyReLU(-0.5, inplace=inplace),
        lambda inplace: nn.SiLU(inplace=inplace),
    ],
)
def test_inplace_activations_give_the_same_exact_map(activation, method):
    """An in-place activation overwrites its input: the map must not read the gate off it."""
    torch.manual_seed(0)
    first, last = nn.Linear(3, 8, bias=False), nn.Linear(8, 2, bias=False)
    X = torch.randn(40, 3)
    maps = []
    for inplace in (False, True):
        net = nn.Sequential(first, activation(inplace), last)
        J, residual = equivalent_linear_map(net, X, method=method, return_residual=True)
        assert residual.max() < 1e-5
        maps.append(J)
    np.testing.assert_allclose(maps[1], maps[0], atol=1e-6)


def test_forward_beyond_the_layers_is_rejected():
    """A module whose forward adds anything to `layers` (here a biased head) is not what
    the map covers: a clear error, not a silently inexact map."""

    class WithHead(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.Sequential(nn.Linear(3, 4, bias=False), nn.ReLU(),
                                        nn.Linear(4, 1, bias=False))
            self.head = nn.Linear(1, 1)

        def forward(self, x):
            return self.head(self.layers(x))

    torch.manual_seed(0)
    with pytest.raises(ValueError, match="forward of WithHead is not its stack of layers"):
        equivalent_linear_map(WithHead(), torch.randn(5, 3))
    # GatedMLP, whose forward is its layers, passes (in training mode too: dropout is off)
    module = GatedMLP(3, 2, hidden_sizes=(8,), dropout=0.5).train()
    _, residual = equivalent_linear_map(module, torch.randn(5, 3), return_residual=True)
    assert residual.max() < 1e-5 and module.training
