"""``--fused-blend``: replace the blend subgraph of an exported graph with one ``trtmatte::FusedBlend``
node (the TensorRT plugin in plugins/fused_blend/), and expand such a node back into plain ONNX ops.

What the node covers, decided from our graphs' structure: the three Sigmoids (F, B, beta; located
structurally by ``contract.anatomy``: the Sigmoids fed by Convs) and eq. 2's Mul/Sub/Sub/Mul/Add,
plus the kernel's clamp to [0, 1] (a no-op for a convex mix of probabilities). It does not absorb
the pipeline's clamp, uint8 quantization or crop: in trtmatte's graphs the blend output feeds the
antialiased MatMul resize back to the input size (``models/preprocess.py``), so those ops never
follow the blend directly, and the resize is not a crop (the working size is a resize of the
input, not a padding of it). So the node is emitted with ``alpha_dtype`` = the blend's own dtype
(float32), ``crop_hw`` = (0, 0); the resize, clamp and output cast stay ONNX ops. A Sigmoid whose
output is also used elsewhere (``--debug-outputs``: fg, bg, beta) is kept for that use.

The node follows TensorRT's ONNX-parser plugin convention: op_type = plugin name, attributes
``plugin_namespace``/``plugin_version`` naming the creator, the plugin's fields as INT/INTS
attributes. onnxruntime has no kernel for it; ``expand_fused_blend`` gives the equivalent graph.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from collections import defaultdict

from .._lazy import require
from ..errors import TrtmatteError
from ..fused_blend.blend_op import (ONNX_CODES, ONNX_DOMAIN, ONNX_DTYPES, PLUGIN_NAME, PLUGIN_NAMESPACE,
                                   PLUGIN_VERSION, FusedBlendAttrs)
from ..contract.anatomy import analyse, name_nodes

BOOKKEEPING_ATTRS = ("plugin_namespace", "plugin_version")


@dataclass(frozen=True)
class BlendMatch:
    fg_logit: str
    bg_logit: str
    beta_logit: str
    output: str  # the Add's output: alpha at the working size
    blend_nodes: tuple[str, ...]  # Mul, Mul, Sub, Sub, Add
    sigmoids_removed: tuple[str, ...]
    sigmoids_kept: tuple[str, ...]  # still needed by another consumer (debug outputs)


def _is_one(model, name: str, producer: dict) -> bool:
    numpy_helper = require("onnx.numpy_helper", "reading ONNX constants")
    for init in model.graph.initializer:
        if init.name == name:
            value = numpy_helper.to_array(init)
            return value.size == 1 and float(value.reshape(-1)[0]) == 1.0
    node = producer.get(name)
    if node is not None and node.op_type == "Constant":
        for attr in node.attribute:
            if attr.name == "value":
                value = numpy_helper.to_array(attr.t)
                return value.size == 1 and float(value.reshape(-1)[0]) == 1.0
            if attr.name in ("value_float", "value_int"):
                return float(attr.f if attr.name == "value_float" else attr.i) == 1.0
    return False


def find_blend(model, source: str = "the graph") -> BlendMatch:
    """The eq. 2 subgraph  Add(Mul(beta, F), Mul(Sub(1, beta), Sub(1, B)))  over the network's
    Sigmoids, operands in either order. Exactly one must exist."""
    graph = model.graph
    name_nodes(graph)
    sigmoids = {n.name: n for n in graph.node if n.name in set(analyse(model, source).sigmoids)}
    by_output = {s.output[0]: s for s in sigmoids.values()}
    producer = {out: node for node in graph.node for out in node.output}
    consumers = defaultdict(list)
    for node in graph.node:
        for name in node.input:
            consumers[name].append(node)
    graph_outputs = {o.name for o in graph.output}

    def one_minus_sigmoid(tensor):
        sub = producer.get(tensor)
        if sub is not None and sub.op_type == "Sub" and sub.input[1] in by_output and _is_one(model, sub.input[0], producer):
            return sub
        return None

    matches = []
    for add in (n for n in graph.node if n.op_type == "Add"):
        muls = [producer.get(t) for t in add.input]
        if len(muls) != 2 or any(m is None or m.op_type != "Mul" for m in muls):
            continue
        for direct, mixed in (muls, muls[::-1]):
            if not all(t in by_output for t in direct.input):
                continue
            subs = [one_minus_sigmoid(t) for t in mixed.input]
            if None in subs:
                continue
            under_subs = {s.input[1] for s in subs}
            beta = set(direct.input) & under_subs
            if len(beta) != 1 or len(set(direct.input)) != 2 or len(under_subs) != 2:
                continue
            (beta_prob,) = beta
            (fg_prob,) = set(direct.input) - beta
            (bg_prob,) = under_subs - beta
            matches.append((add, direct, mixed, subs, fg_prob, bg_prob, beta_prob))
    if len(matches) != 1:
        found = "no" if not matches else f"{len(matches)}"
        raise TrtmatteError(f"{source} has {found} blend subgraph(s) beta*F + (1-beta)*(1-B) over its Sigmoids, "
                            "so --fused-blend cannot place the FusedBlend node; export without --fused-blend")
    add, direct, mixed, subs, fg_prob, bg_prob, beta_prob = matches[0]
    blend_nodes = [direct, mixed, *subs, add]
    removed = {n.name for n in blend_nodes}
    for node in blend_nodes[:-1]:  # intermediates must not be used outside the pattern
        if node.output[0] in graph_outputs or any(c.name not in removed for c in consumers[node.output[0]]):
            raise TrtmatteError(f"{source}: the blend's intermediate {node.output[0]} is used outside the blend, "
                                "so it cannot be fused; export without --fused-blend")
    keep, drop = [], []
    for prob in (fg_prob, bg_prob, beta_prob):
        sig = by_output[prob]
        used_elsewhere = prob in graph_outputs or any(c.name not in removed for c in consumers[prob])
        (keep if used_elsewhere else drop).append(sig.name)
    return BlendMatch(by_output[fg_prob].input[0], by_output[bg_prob].input[0], by_output[beta_prob].input[0],
                      add.output[0], tuple(n.name for n in blend_nodes), tuple(drop), tuple(keep))


def _elem_types(model) -> dict[str, int]:
    """Tensor name -> ONNX elem type, from shape inference (graph inputs/outputs included)."""
    onnx = require("onnx", "rewriting ONNX graphs")
    inferred = onnx.shape_inference.infer_shapes(model)
    infos = list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)
    return {v.name: v.type.tensor_type.elem_type for v in infos if v.type.HasField("tensor_type")}, inferred


def fuse_blend(model, source: str = "the graph") -> dict:
    """Rewrite ``model`` in place: one FusedBlend node instead of the blend subgraph. Returns what
    was done (recorded in the graph's metadata by the exporter)."""
    onnx = require("onnx", "rewriting ONNX graphs")
    match = find_blend(model, source)
    types, inferred = _elem_types(model)
    dtype = ONNX_DTYPES.get(types.get(match.output, 0))
    if dtype not in ("float32", "float16"):
        raise TrtmatteError(f"{source}: the blend output {match.output} is not float32/float16, so it cannot be fused")
    attrs = FusedBlendAttrs(fg_bg_logits=True, alpha_dtype=dtype)
    node = onnx.helper.make_node(
        PLUGIN_NAME, [match.fg_logit, match.bg_logit, match.beta_logit], [match.output], name="trtmatte_FusedBlend",
        domain=ONNX_DOMAIN, plugin_namespace=PLUGIN_NAMESPACE, plugin_version=PLUGIN_VERSION,
        **{k: [int(x) for x in v] if k == "crop_hw" else int(v[0]) for k, v in attrs.to_fields().items()})
    gone = set(match.blend_nodes) | set(match.sigmoids_removed)
    nodes = []
    for n in model.graph.node:
        if n.name == match.blend_nodes[-1]:
            nodes.append(node)  # where the Add was: every input is produced before it
        elif n.name not in gone:
            nodes.append(n)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    # Shape inference cannot see through a custom op: keep the fused output's inferred type and shape
    # so the ops after it (the resize back) still infer.
    known = {v.name for v in model.graph.value_info}
    for info in inferred.graph.value_info:
        if info.name == match.output and info.name not in known:
            model.graph.value_info.append(info)
    if not any(o.domain == ONNX_DOMAIN for o in model.opset_import):
        model.opset_import.append(onnx.helper.make_opsetid(ONNX_DOMAIN, 1))
    return {"node": node.name, "inputs": list(node.input), "output": match.output, "attributes": asdict(attrs),
            "replaced": list(match.blend_nodes) + list(match.sigmoids_removed),
            "sigmoids_kept": list(match.sigmoids_kept)}


def fused_blend_nodes(model) -> list:
    return [n for n in model.graph.node if n.op_type == PLUGIN_NAME and n.domain == ONNX_DOMAIN]


def node_attrs(node) -> FusedBlendAttrs:
    onnx = require("onnx", "reading ONNX graphs")
    fields = [(a.name, onnx.helper.get_attribute_value(a)) for a in node.attribute if a.name not in BOOKKEEPING_ATTRS]
    try:
        return FusedBlendAttrs.from_fields(fields)
    except ValueError as exc:
        raise TrtmatteError(f"FusedBlend node {node.name}: {exc}") from None


def expand_fused_blend(model):
    """Replace every FusedBlend node of ``model`` (in place) by the plain ONNX ops it stands for:
    Sigmoids, eq. 2, Clip(0, 1), the crop as a Slice, and the output cast (uint8: x255, Round,
    Cast). Returns the model; onnxruntime can run it."""
    onnx = require("onnx", "rewriting ONNX graphs")
    helper, TensorProto = onnx.helper, onnx.TensorProto
    targets = fused_blend_nodes(model)
    if not targets:
        return model
    types, _ = _elem_types(model)
    nodes = []
    for node in model.graph.node:
        if node not in targets:
            nodes.append(node)
            continue
        attrs = node_attrs(node)
        in_type = types.get(node.input[0], TensorProto.FLOAT)
        p = node.name or "FusedBlend"

        def t(suffix):
            return f"{p}_{suffix}"

        consts = {"one": 1.0, "zero": 0.0, **({"x255": 255.0} if attrs.alpha_dtype == "uint8" else {})}
        for key, value in consts.items():
            model.graph.initializer.append(helper.make_tensor(t(key), in_type, [], [value]))
        fg, bg, beta = node.input
        ops = []
        if attrs.fg_bg_logits:
            ops += [helper.make_node("Sigmoid", [fg], [t("F")], name=t("sigmoid_fg")),
                    helper.make_node("Sigmoid", [bg], [t("B")], name=t("sigmoid_bg"))]
            fg, bg = t("F"), t("B")
        ops += [helper.make_node("Sigmoid", [beta], [t("beta")], name=t("sigmoid_beta")),
                helper.make_node("Mul", [t("beta"), fg], [t("beta_F")], name=t("mul_beta_F")),
                helper.make_node("Sub", [t("one"), t("beta")], [t("one_minus_beta")], name=t("sub_beta")),
                helper.make_node("Sub", [t("one"), bg], [t("one_minus_B")], name=t("sub_B")),
                helper.make_node("Mul", [t("one_minus_beta"), t("one_minus_B")], [t("mix")], name=t("mul_mix")),
                helper.make_node("Add", [t("beta_F"), t("mix")], [t("blend")], name=t("add")),
                helper.make_node("Clip", [t("blend"), t("zero"), t("one")], [t("alpha")], name=t("clip"))]
        alpha = t("alpha")
        if attrs.cropped:
            model.graph.initializer.extend([
                helper.make_tensor(t("crop_starts"), TensorProto.INT64, [2], [0, 0]),
                helper.make_tensor(t("crop_ends"), TensorProto.INT64, [2], list(attrs.crop_hw)),
                helper.make_tensor(t("crop_axes"), TensorProto.INT64, [2], [2, 3])])
            ops.append(helper.make_node("Slice", [alpha, t("crop_starts"), t("crop_ends"), t("crop_axes")],
                                        [t("cropped")], name=t("crop")))
            alpha = t("cropped")
        if attrs.alpha_dtype == "uint8":
            ops += [helper.make_node("Mul", [alpha, t("x255")], [t("scaled")], name=t("mul_255")),
                    helper.make_node("Round", [t("scaled")], [t("rounded")], name=t("round"))]
            alpha = t("rounded")
        out_code = ONNX_CODES[attrs.alpha_dtype]
        if out_code != in_type:
            ops.append(helper.make_node("Cast", [alpha], [t("cast")], name=t("cast"), to=out_code))
            alpha = t("cast")
        ops.append(helper.make_node("Identity", [alpha], [node.output[0]], name=t("output")))
        nodes.extend(ops)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    if not fused_blend_nodes(model):
        keep = [o for o in model.opset_import if o.domain != ONNX_DOMAIN]
        del model.opset_import[:]
        model.opset_import.extend(keep)
    return model


def describe(fusion: dict) -> str:
    return json.dumps(fusion, sort_keys=True)
