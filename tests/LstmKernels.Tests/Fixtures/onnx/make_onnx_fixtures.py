#!/usr/bin/env python3
"""Makes the ONNX fixtures of OnnxFileTests: small nn.LSTM models exported by torch.onnx.export (PyTorch 1.13.1, as
Debian's python3-torch installs it) and single-LSTM-node graphs built with onnx.helper as other exporters write them,
each with its outputs for fixed inputs in <name>.json.

Run from this folder:  /usr/bin/python3 make_onnx_fixtures.py
The tests read the .onnx, .json and .weights files only; they need neither Python nor torch. refused_*.onnx are models
the reader must refuse (no JSON).

JSON per model: the input x (and h0, c0, sequence_lens when the graph takes them) and the expected y, h, c, all in the
library's layouts (x, y as the graph takes them, [T, B, .] or [B, T, .]; states [L*D, B, H]), flattened row-major,
with "shape" for each; "source" says what computed the outputs (PyTorch itself, or the numpy ONNX-spec reference
below for graphs PyTorch cannot express: peepholes, clip, layout 1, sequence_lens)."""
import json
import os
import numpy as np
import onnx
import onnx.helper as oh
import onnx.numpy_helper as onh
import torch

torch.manual_seed(14)
rng = np.random.default_rng(14)


def flat(a):
    return [float(v) for v in np.asarray(a, dtype=np.float32).reshape(-1)]


def save_json(name, data):
    with open(name + ".json", "w") as f:
        json.dump(data, f, indent=1)


def export_torch(name, lstm, opset, batch, steps, with_state, **kw):
    lstm = lstm.eval()
    d = 2 if lstm.bidirectional else 1
    shape = (batch, steps, lstm.input_size) if lstm.batch_first else (steps, batch, lstm.input_size)
    x = torch.randn(*shape)
    states = (torch.randn(lstm.num_layers * d, batch, lstm.hidden_size), torch.randn(lstm.num_layers * d, batch, lstm.hidden_size))
    args = (x, states) if with_state else (x,)
    names = ["x", "h0", "c0"] if with_state else ["x"]
    torch.onnx.export(lstm, args, name + ".onnx", opset_version=opset, input_names=names, output_names=["y", "h", "c"], **kw)
    with torch.no_grad():
        y, (h, c) = lstm(*args)
    data = {"source": f"PyTorch {torch.__version__} nn.LSTM, torch.onnx.export opset {opset}",
            "layers": lstm.num_layers, "directions": d, "hidden": lstm.hidden_size, "input": lstm.input_size,
            "batchFirst": lstm.batch_first, "bias": lstm.bias, "batch": batch,
            "x": flat(x), "xShape": list(x.shape), "y": flat(y), "yShape": list(y.shape), "h": flat(h), "c": flat(c),
            "stateShape": list(h.shape)}
    if with_state:
        data["h0"] = flat(states[0])
        data["c0"] = flat(states[1])
    save_json(name, data)


export_torch("torch_1layer_opset14", torch.nn.LSTM(3, 4), 14, batch=2, steps=5, with_state=False)
export_torch("torch_2layer_opset11", torch.nn.LSTM(4, 5, num_layers=2), 11, batch=3, steps=4, with_state=True)
export_torch("torch_2layer_bidirectional_opset13", torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True), 13, batch=2, steps=3, with_state=True)
export_torch("torch_2layer_bidirectional_batchfirst_opset17", torch.nn.LSTM(5, 4, num_layers=2, bidirectional=True, batch_first=True), 17,
             batch=2, steps=4, with_state=False, dynamic_axes={"x": {0: "batch", 1: "steps"}})
export_torch("torch_batchfirst_opset15", torch.nn.LSTM(3, 6, batch_first=True), 15, batch=3, steps=5, with_state=True)
export_torch("torch_nobias_2layer_opset12", torch.nn.LSTM(3, 4, num_layers=2, bias=False), 12, batch=2, steps=4, with_state=False,
             do_constant_folding=False)


# ---- single-node graphs (as Keras/tf2onnx and hand-written exporters write them), computed by the ONNX equations ----

def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def onnx_lstm(x, w, r, b, p, h0, c0, lengths, clip, reverse_dirs):
    """ONNX LSTM (layout 0), float64: x [T, B, I], w [D, 4H, I] (i, o, f, c), r [D, 4H, H], b [D, 8H], p [D, 3H]."""
    t_steps, batch, _ = x.shape
    dirs, h4, _ = w.shape
    hidden = h4 // 4
    y = np.zeros((t_steps, dirs, batch, hidden))
    yh = np.zeros((dirs, batch, hidden))
    yc = np.zeros((dirs, batch, hidden))
    cl = (lambda v: np.clip(v, -clip, clip)) if clip else (lambda v: v)
    for d in range(dirs):
        for bi in range(batch):
            n = lengths[bi]
            h = h0[d, bi].copy()
            c = c0[d, bi].copy()
            order = range(n - 1, -1, -1) if reverse_dirs[d] else range(n)
            for t in order:
                z = w[d] @ x[t, bi] + r[d] @ h + b[d, :4 * hidden] + b[d, 4 * hidden:]
                zi, zo, zf, zc = (z[k * hidden:(k + 1) * hidden] for k in range(4))
                pi, po, pf = (p[d, k * hidden:(k + 1) * hidden] for k in range(3))
                i = sigmoid(cl(zi + pi * c))
                f = sigmoid(cl(zf + pf * c))
                g = np.tanh(cl(zc))
                c = f * c + i * g
                o = sigmoid(cl(zo + po * c))
                h = o * np.tanh(c)
                y[t, d, bi] = h
            yh[d, bi] = h
            yc[d, bi] = c
    return y, yh, yc


def keras_style():
    """x [B, T, I] -> Transpose -> LSTM (peepholes, clip, raw_data initializers) -> Squeeze -> Transpose: y [B, T, H]."""
    name, batch, steps, inp, hidden = "single_node_keras_style_peepholes", 2, 4, 3, 5
    w = rng.uniform(-0.8, 0.8, (1, 4 * hidden, inp)).astype(np.float32)
    r = rng.uniform(-0.8, 0.8, (1, 4 * hidden, hidden)).astype(np.float32)
    b = rng.uniform(-0.5, 0.5, (1, 8 * hidden)).astype(np.float32)
    p = rng.uniform(-0.5, 0.5, (1, 3 * hidden)).astype(np.float32)
    x = rng.standard_normal((batch, steps, inp)).astype(np.float32)
    clip = 1.5
    nodes = [
        oh.make_node("Transpose", ["x"], ["x_tbi"], name="transpose_in", perm=[1, 0, 2]),
        oh.make_node("LSTM", ["x_tbi", "W", "R", "B", "", "", "", "P"], ["Y", "Y_h", "Y_c"], name="lstm", hidden_size=hidden, clip=clip),
        oh.make_node("Squeeze", ["Y", "squeeze_axes"], ["Y_tbh"], name="squeeze"),
        oh.make_node("Transpose", ["Y_tbh"], ["y"], name="transpose_out", perm=[1, 0, 2]),
    ]
    inits = [onh.from_array(w, "W"), onh.from_array(r, "R"), onh.from_array(b, "B"), onh.from_array(p, "P"),
             onh.from_array(np.array([1], dtype=np.int64), "squeeze_axes")]
    graph = oh.make_graph(nodes, "keras_lstm", [oh.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["batch", "steps", inp])],
                          [oh.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["batch", "steps", hidden]),
                           oh.make_tensor_value_info("Y_h", onnx.TensorProto.FLOAT, [1, "batch", hidden]),
                           oh.make_tensor_value_info("Y_c", onnx.TensorProto.FLOAT, [1, "batch", hidden])], inits)
    model = oh.make_model(graph, producer_name="keras2onnx-style", opset_imports=[oh.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, name + ".onnx")
    xt = x.transpose(1, 0, 2).astype(np.float64)
    zeros = np.zeros((1, batch, hidden))
    y, yh, yc = onnx_lstm(xt, w.astype(np.float64), r.astype(np.float64), b.astype(np.float64), p.astype(np.float64), zeros, zeros,
                          [steps] * batch, clip, [False])
    save_json(name, {"source": "numpy ONNX LSTM equations (float64)", "layers": 1, "directions": 1, "hidden": hidden, "input": inp,
                     "batchFirst": True, "bias": True, "batch": batch, "x": flat(x), "xShape": list(x.shape),
                     "y": flat(y[:, 0].transpose(1, 0, 2)), "yShape": [batch, steps, hidden], "h": flat(yh), "c": flat(yc),
                     "stateShape": [1, batch, hidden]})


def typed_layout1():
    """Bidirectional, layout 1, float_data (typed) initializers, B from a Constant node, sequence_lens and states as inputs."""
    name, batch, steps, inp, hidden = "single_node_layout1_bidirectional_typed", 3, 4, 4, 3
    w = rng.uniform(-0.8, 0.8, (2, 4 * hidden, inp)).astype(np.float32)
    r = rng.uniform(-0.8, 0.8, (2, 4 * hidden, hidden)).astype(np.float32)
    b = rng.uniform(-0.5, 0.5, (2, 8 * hidden)).astype(np.float32)
    x = rng.standard_normal((batch, steps, inp)).astype(np.float32)
    h0 = rng.standard_normal((batch, 2, hidden)).astype(np.float32)
    c0 = rng.standard_normal((batch, 2, hidden)).astype(np.float32)
    lengths = np.array([4, 2, 3], dtype=np.int32)
    nodes = [
        oh.make_node("Constant", [], ["B"], name="bias", value=oh.make_tensor("B", onnx.TensorProto.FLOAT, b.shape, b.reshape(-1).tolist())),
        oh.make_node("LSTM", ["x", "W", "R", "B", "lengths", "h0", "c0"], ["Y", "Y_h", "Y_c"], name="lstm", hidden_size=hidden,
                     direction="bidirectional", layout=1),
    ]
    inits = [oh.make_tensor("W", onnx.TensorProto.FLOAT, w.shape, w.reshape(-1).tolist()),
             oh.make_tensor("R", onnx.TensorProto.FLOAT, r.shape, r.reshape(-1).tolist())]
    graph = oh.make_graph(nodes, "layout1_lstm",
                          [oh.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["batch", "steps", inp]),
                           oh.make_tensor_value_info("lengths", onnx.TensorProto.INT32, ["batch"]),
                           oh.make_tensor_value_info("h0", onnx.TensorProto.FLOAT, ["batch", 2, hidden]),
                           oh.make_tensor_value_info("c0", onnx.TensorProto.FLOAT, ["batch", 2, hidden])],
                          [oh.make_tensor_value_info("Y", onnx.TensorProto.FLOAT, ["batch", "steps", 2, hidden]),
                           oh.make_tensor_value_info("Y_h", onnx.TensorProto.FLOAT, ["batch", 2, hidden]),
                           oh.make_tensor_value_info("Y_c", onnx.TensorProto.FLOAT, ["batch", 2, hidden])], inits)
    model = oh.make_model(graph, producer_name="single-node-exporter", opset_imports=[oh.make_opsetid("", 14)])
    onnx.checker.check_model(model)
    onnx.save(model, name + ".onnx")
    xt = x.transpose(1, 0, 2).astype(np.float64)
    h0d = h0.transpose(1, 0, 2).astype(np.float64)
    c0d = c0.transpose(1, 0, 2).astype(np.float64)
    y, yh, yc = onnx_lstm(xt, w.astype(np.float64), r.astype(np.float64), b.astype(np.float64), np.zeros((2, 3 * hidden)), h0d, c0d,
                          lengths, None, [False, True])
    # Library layouts: y [B, T, D*H] (= ONNX layout-1 Y [B, T, D, H]); states [D, B, H].
    save_json(name, {"source": "numpy ONNX LSTM equations (float64)", "layers": 1, "directions": 2, "hidden": hidden, "input": inp,
                     "batchFirst": True, "bias": True, "batch": batch, "x": flat(x), "xShape": list(x.shape),
                     "h0": flat(h0d), "c0": flat(c0d), "sequenceLengths": [int(v) for v in lengths],
                     "y": flat(y.transpose(2, 0, 1, 3)), "yShape": [batch, steps, 2 * hidden], "h": flat(yh), "c": flat(yc),
                     "stateShape": [2, batch, hidden]})


keras_style()
typed_layout1()


def external_data():
    """The constant-folding-free bias-free export again, its tensors in a side file as onnx.save writes external data."""
    source = "torch_nobias_2layer_opset12"
    name = source + "_external"
    model = onnx.load(source + ".onnx")
    if os.path.exists(name + ".weights"):
        os.remove(name + ".weights")  # onnx.save_model appends to an existing data file
    onnx.save_model(model, name + ".onnx", save_as_external_data=True, all_tensors_to_one_file=True, location=name + ".weights", size_threshold=0)
    with open(source + ".json") as f:
        data = json.load(f)
    data["source"] += "; tensors saved as external data by onnx.save_model"
    save_json(name, data)


external_data()


# Later additions: after everything above, so that the random streams of the earlier fixtures stay the same.
export_torch("torch_3layer_bidirectional_nofolding_opset16", torch.nn.LSTM(3, 4, num_layers=3, bidirectional=True), 16, batch=2, steps=3,
             with_state=True, do_constant_folding=False)


class LinearHead(torch.nn.Module):
    """An LSTM with a Linear head: the graph computes more than an LSTM, and the reader must refuse it naming the MatMul."""

    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(3, 4, batch_first=True)
        self.fc = torch.nn.Linear(4, 2)

    def forward(self, x):
        y, _ = self.lstm(x)
        return self.fc(y)


torch.onnx.export(LinearHead().eval(), (torch.randn(2, 5, 3),), "refused_torch_linear_head_opset14.onnx", opset_version=14, input_names=["x"])
