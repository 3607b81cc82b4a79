"""Find the parts of an exported whole-pipeline graph by its structure, not by node names.

Node names are the exporter's (``node_Conv_1959``, ``node_conv2d_158``) and change with the torch
version, so precision rules are stated structurally instead:

* the **heads** are the Sigmoids and Softmaxes that read a Conv's output directly: Late Fusion's
  F, B and beta; AdaMatting's alpha (the A-decoder's and each propagation step's) and its adapted
  trimap (Softmax). An LSTM gate's Sigmoid reads a Split, not a Conv, so it is not a head;
* the **pixel convs** are the Convs whose input traces back to a graph input through no other
  Conv and no head (shape computations do not count: they carry sizes, not pixels). The
  **network input** is what the first Conv (in topological order) reads: the normalised image
  (with the one-hot trimap concatenated, for trimap models);
* the **network body** is every node reachable forward from a pixel conv's input *and* backward
  from the heads' inputs, neither walk passing through a head. Everything else (uint8 casts,
  resize matmuls, normalisation, trimap encoding, the heads, blend, resize back, clamp,
  known-region enforcement, a trimap derived from F and B, output casts) is pipeline and stays
  float32;
* the **stem** is the pixel conv whose output reaches the most heads (the first encoder's first
  conv); the other pixel convs of the body are **image convs** (Late Fusion's RGB conv;
  AdaMatting's propagation-unit input convs, which read the normalised RGB each step);
* the **logit convs** are the Convs whose outputs the heads read.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ..errors import TrtmatteError

# Names accepted in `exclude=` lists besides node names (see int8.quantize_int8).
ROLES = ("stem", "logits", "image_convs")
HEAD_OPS = ("Sigmoid", "Softmax")


@dataclass(frozen=True)
class Anatomy:
    network_input: str
    body: frozenset[str]  # node names
    convs: tuple[str, ...]  # every Conv in the body, topological order
    stem: str
    image_convs: tuple[str, ...]
    logit_convs: tuple[str, ...]
    sigmoids: tuple[str, ...]  # the Sigmoid heads (Late Fusion's F, B, beta: what --fused-blend fuses)
    heads: tuple[str, ...] = ()  # every head: the Sigmoids and the Softmaxes

    def role(self, role: str) -> tuple[str, ...]:
        return {"stem": (self.stem,), "logits": self.logit_convs, "image_convs": self.image_convs}[role]


def name_nodes(graph) -> None:
    """Give unnamed (or duplicate-named) nodes unique names: the converters address nodes by name."""
    seen: set[str] = set()
    for i, node in enumerate(graph.node):
        if not node.name or node.name in seen:
            node.name = f"trtmatte_{node.op_type}_{i}"
        seen.add(node.name)


def _reach(start: list[str], step) -> set[str]:
    """Node names reachable from tensors ``start``; ``step(tensor)`` gives (node, next tensors)."""
    found: set[str] = set()
    stack = list(start)
    while stack:
        for node, tensors in step(stack.pop()):
            if node.name not in found:
                found.add(node.name)
                stack.extend(tensors)
    return found


def analyse(model, source: str = "the graph") -> Anatomy:
    """The :class:`Anatomy` of a whole-pipeline graph (nodes must be named: see name_nodes)."""
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    consumers = defaultdict(list)
    for node in graph.node:
        for name in node.input:
            consumers[name].append(node)
    convs = [n for n in graph.node if n.op_type == "Conv"]
    heads = [n for n in graph.node if n.op_type in HEAD_OPS
             and getattr(producer.get(n.input[0]), "op_type", None) == "Conv"]
    if not convs or not heads:
        raise TrtmatteError(f"{source} has no Conv feeding a Sigmoid: not a trtmatte matting graph "
                            "(export one with `trtmatte export`)")
    network_input = convs[0].input[0]
    head_names = {h.name for h in heads}
    graph_inputs = {i.name for i in graph.input} - {i.name for i in graph.initializer}

    def forward(tensor, through_heads=True):
        return [(n, list(n.output)) for n in consumers[tensor] if through_heads or n.name not in head_names]

    def backward(tensor):
        node = producer.get(tensor)
        return [(node, list(node.input))] if node is not None and node.name not in head_names else []

    def reads_pixels(conv) -> bool:
        seen, stack = set(), [conv.input[0]]
        while stack:
            tensor = stack.pop()
            if tensor in graph_inputs:
                return True
            node = producer.get(tensor)
            if node is None or node.op_type in ("Conv", "Shape") or node.name in head_names or node.name in seen:
                continue
            seen.add(node.name)
            stack.extend(node.input)
        return False

    pixel_convs = [c for c in convs if reads_pixels(c)] or [convs[0]]
    body = (_reach([c.input[0] for c in pixel_convs], lambda t: forward(t, through_heads=False))
            & _reach([h.input[0] for h in heads], backward))
    reached = {c.name: len(_reach(list(c.output), forward) & head_names) for c in pixel_convs}
    stem = max(pixel_convs, key=lambda c: reached[c.name])  # max() keeps the earliest on ties
    return Anatomy(
        network_input=network_input,
        body=frozenset(body),
        convs=tuple(c.name for c in convs if c.name in body),
        stem=stem.name,
        image_convs=tuple(c.name for c in pixel_convs if c is not stem and c.name in body),
        logit_convs=tuple(dict.fromkeys(producer[h.input[0]].name for h in heads)),
        sigmoids=tuple(h.name for h in heads if h.op_type == "Sigmoid"),
        heads=tuple(h.name for h in heads),
    )
