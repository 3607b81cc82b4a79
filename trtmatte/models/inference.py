"""Inference forms of a matting network for the PyTorch backend: BatchNorm folded into the
convolutions before it, and true float16 with the sigmoids and the blend in float32.

Both work on a torch.fx trace of the network (``forward`` of LateFusionNet or AdaMatting: shapes
never steer its control flow), so they follow the real data flow rather than module names:

* :func:`fold_batchnorm` is ``torch.fx.experimental.optimization.fuse``: a BatchNorm whose only
  input is a convolution's output (Conv -> BN, as in the decoders, the fusion net, the encoder
  stem and DenseNet's bottlenecks) becomes that convolution's weights and bias. A BatchNorm after
  a ReLU or a concatenation (DenseNet's pre-activation ``norm1``, the transitions, ``norm5``)
  stays. Measured on CPU: 75 of 137 BatchNorms of late_fusion_lite, 39 of 49 of adamatting_lite
  folded, α equal within 2e-7.
* :func:`to_half` converts weights and activations to float16 (``.half()``, not autocast's casts
  around each op) and rewrites the traced graph so the sigmoids of the output heads read float32:
  F, B and β, and so the blend α = β·F + (1-β)·(1-B), are computed in float32, where a float16
  β·F would round α to 1/2048 steps at best. A sigmoid whose result reaches another layer (a
  ConvLSTM gate) stays float16. The network takes float32 like the original.
"""
from __future__ import annotations

import copy

import torch
from torch import nn


def trace(network: nn.Module) -> torch.fx.GraphModule:
    """``network`` (in eval mode) as a torch.fx GraphModule; a one-line ValueError if it cannot be traced."""
    try:
        return torch.fx.symbolic_trace(network.eval())
    except Exception as exc:  # fx raises TraceError, TypeError, ... on data-dependent control flow
        raise ValueError(f"{type(network).__name__} cannot be traced by torch.fx "
                         f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None


def fold_batchnorm(network: nn.Module) -> torch.fx.GraphModule:
    """A copy of ``network`` (eval mode) with every Conv -> BatchNorm pair folded into the Conv."""
    from torch.fx.experimental.optimization import fuse

    # fx's GraphModule shares the traced network's submodules: work on a copy, so the caller's
    # network keeps its BatchNorms (and stays float32 when to_half follows)
    return fuse(trace(copy.deepcopy(network)), inplace=True)


def count_batchnorms(module: nn.Module) -> int:
    return sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


def to_half(network: nn.Module) -> torch.fx.GraphModule:
    """``network`` in float16 taking float32 inputs, its output heads' sigmoids (and what follows
    them) in float32. A GraphModule (from :func:`fold_batchnorm`) is changed in place; any other
    network is traced from a copy."""
    graph_module = network if isinstance(network, torch.fx.GraphModule) else trace(copy.deepcopy(network))
    graph = graph_module.graph
    for node in list(graph.nodes):
        if node.op == "placeholder":  # float32 in: the pipeline's normalised image (and trimap)
            with graph.inserting_after(node):
                half = graph.call_method("half", (node,))
            node.replace_all_uses_with(half, delete_user_cb=lambda user: user is not half)
        elif _is_sigmoid(node) and not _feeds_a_module(node):
            with graph.inserting_before(node):
                wide = graph.call_method("float", (node.args[0],))
            node.args = (wide,) + tuple(node.args[1:])
    graph.lint()
    graph_module.recompile()
    return graph_module.half()


def _feeds_a_module(node: torch.fx.Node) -> bool:
    """Whether a layer (a call_module: conv, norm, ...) reads ``node``'s value, directly or not.
    Such a sigmoid (AdaMatting's ConvLSTM gates) stays float16: its float32 result would reach
    float16 weights."""
    seen, todo = set(), list(node.users)
    while todo:
        user = todo.pop()
        if user in seen:
            continue
        seen.add(user)
        if user.op == "call_module":
            return True
        todo.extend(user.users)
    return False


def _is_sigmoid(node: torch.fx.Node) -> bool:
    return ((node.op == "call_function" and node.target in (torch.sigmoid, torch.nn.functional.sigmoid))
            or (node.op == "call_method" and node.target == "sigmoid"))
