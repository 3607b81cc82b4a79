"""Find the parts of an exported whole-pipeline graph by its structure, not by node names.

Node names are the exporter's (``node_Conv_1959``, ``node_conv2d_158``) and change with the torch
version, so precision rules are stated structurally instead:

* the **network input** is the tensor the first Conv (in topological order) reads: the
  mean-subtracted image;
* the **network body** is every node reachable forward from the network input *and* backward from
  the inputs of the Sigmoids that produce F, B and beta. Everything else (uint8 cast, resize
  matmuls, mean subtraction, the Sigmoids, blend, resize back, clamp, output cast) is pipeline;
* the **stem** is the Conv on the network input whose output reaches every Sigmoid (the encoder's
  first conv); other Convs on the network input are **image convs** (the fusion net's RGB conv,
  which reaches only beta's Sigmoid);
* the **logit convs** are the Convs whose outputs the Sigmoids read.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ..errors import TrtmatteError

# Names accepted in `exclude=` lists besides node names (see int8.quantize_int8).
ROLES = ("stem", "logits", "image_convs")


@dataclass(frozen=True)
class Anatomy:
    network_input: str
    body: frozenset[str]  # node names
    convs: tuple[str, ...]  # every Conv in the body, topological order
    stem: str
    image_convs: tuple[str, ...]
    logit_convs: tuple[str, ...]
    sigmoids: tuple[str, ...]

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
    sigmoids = [n for n in graph.node if n.op_type == "Sigmoid"
                and getattr(producer.get(n.input[0]), "op_type", None) == "Conv"]
    if not convs or not sigmoids:
        raise TrtmatteError(f"{source} has no Conv feeding a Sigmoid: not a trtmatte matting graph "
                            "(export one with `trtmatte export`)")
    network_input = convs[0].input[0]

    def forward(tensor):
        return [(n, list(n.output)) for n in consumers[tensor]]

    def backward(tensor):
        node = producer.get(tensor)
        return [(node, list(node.input))] if node is not None else []

    body = _reach([network_input], forward) & _reach([s.input[0] for s in sigmoids], backward)
    sigmoid_names = {s.name for s in sigmoids}
    first = [c for c in convs if c.input[0] == network_input]
    reached = {c.name: len(_reach(list(c.output), forward) & sigmoid_names) for c in first}
    stem = max(first, key=lambda c: reached[c.name])  # max() keeps the earliest on ties
    return Anatomy(
        network_input=network_input,
        body=frozenset(body),
        convs=tuple(c.name for c in convs if c.name in body),
        stem=stem.name,
        image_convs=tuple(c.name for c in first if c is not stem),
        logit_convs=tuple(producer[s.input[0]].name for s in sigmoids),
        sigmoids=tuple(s.name for s in sigmoids),
    )
