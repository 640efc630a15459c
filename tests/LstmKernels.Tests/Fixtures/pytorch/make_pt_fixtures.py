"""Writes the torch.save fixtures of PyTorchFileTests (tests/LstmKernels.Tests/Fixtures/pytorch/).

Run with the PyTorch that made them (Debian's python3-torch, PyTorch 1.13.1):

    /usr/bin/python3 tests/LstmKernels.Tests/Fixtures/pytorch/make_pt_fixtures.py

Each fixture is a small nn.LSTM state_dict saved with torch.save, exactly as a user would save it. fixtures.json
holds, per fixture: the file, the module's prefix and batch_first, the exact key list of the state_dict, every tensor
as torch holds it (converted to float32 with .float(), row-major, so float16/bfloat16/float64 values can be compared
exactly), fixed inputs x [T, B, I] (or [B, T, I] when batch_first) and PyTorch's outputs y, h_n, c_n computed in
float32 (the model as stored, converted to float32) and in float64 (the same float32 weights, run in double).
Integer and bool tensors (integer_buffers: a BatchNorm's num_batches_tracked, position_ids, a mask) are not in "keys"
nor "tensors" but in "left_out" with their dtypes: the reader leaves them out. The refusal fixtures (a custom
__reduce__ calling os.system or builtins.eval, a complex tensor, the legacy non-zip format) are listed with the global
or problem the reader must name. The test suite needs neither Python nor torch.
"""

import json
import os
import pathlib

import torch

HERE = pathlib.Path(__file__).resolve().parent


def tensor_json(t):
    t = t.detach()
    return {"shape": list(t.shape), "data": [float(v) for v in t.float().contiguous().reshape(-1).tolist()]}


def outputs(module, x):
    result = {}
    with torch.no_grad():
        m32 = module.float()
        y, (h, c) = m32(x)
        result["y"], result["h_n"], result["c_n"] = tensor_json(y), tensor_json(h), tensor_json(c)
        m64 = module.double()
        y, (h, c) = m64(x.double())
        result["y64"], result["h_n64"], result["c_n64"] = tensor_json(y), tensor_json(h), tensor_json(c)
        module.float()
    return result


def lstm_case(name, state_dict, module, prefix, batch_first, x, layers, pickle_protocol=2):
    """Saves state_dict as <name>.pt and describes it; module (an nn.LSTM holding the same values as float32) runs x."""
    torch.save(state_dict, HERE / (name + ".pt"), pickle_protocol=pickle_protocol)
    case = {
        "name": name,
        "file": name + ".pt",
        "prefix": prefix,
        "batch_first": batch_first,
        "layers": layers,
        "keys": [k for k, v in state_dict.items() if v.is_floating_point()],
        "left_out": {k: str(v.dtype).replace("torch.", "") for k, v in state_dict.items() if not v.is_floating_point()},
        "tensors": {k: dict(tensor_json(v), dtype=str(v.dtype).replace("torch.", "")) for k, v in state_dict.items() if v.is_floating_point()},
        "x": tensor_json(x),
    }
    case.update(outputs(module, x))
    return case


def inputs(steps, batch, size, batch_first, seed):
    g = torch.Generator().manual_seed(seed)
    shape = (batch, steps, size) if batch_first else (steps, batch, size)
    return torch.rand(shape, generator=g) * 2 - 1


def main():
    torch.manual_seed(1234)
    cases = []

    m = torch.nn.LSTM(3, 4)
    cases.append(lstm_case("one_layer", m.state_dict(), m, "", False, inputs(5, 2, 3, False, 1), 1))

    m = torch.nn.LSTM(4, 5, num_layers=2)
    cases.append(lstm_case("stack", m.state_dict(), m, "", False, inputs(4, 2, 4, False, 2), 2))

    m = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    cases.append(lstm_case("bidirectional", m.state_dict(), m, "", True, inputs(3, 2, 3, True, 3), 2))

    m = torch.nn.LSTM(4, 6, proj_size=3)
    cases.append(lstm_case("projection", m.state_dict(), m, "", False, inputs(4, 2, 4, False, 4), 1))

    m = torch.nn.LSTM(3, 4, num_layers=2, bias=False)
    cases.append(lstm_case("no_bias", m.state_dict(), m, "", False, inputs(5, 2, 3, False, 5), 2))

    # Reduced and double precision: the state_dict as torch stores it; the outputs from the same (rounded) values.
    for name, dtype in (("float16", torch.float16), ("bfloat16", torch.bfloat16), ("float64", torch.float64)):
        m = torch.nn.LSTM(3, 4, num_layers=2)
        m.to(dtype)
        sd = m.state_dict()
        cases.append(lstm_case(name, sd, m, "", False, inputs(4, 2, 3, False, 6), 2))

    # Views: a transposed weight, a window of a larger matrix (storage offset, row stride), strided and shared biases.
    m = torch.nn.LSTM(3, 4)
    g = torch.Generator().manual_seed(7)
    base_ih = (torch.rand(3, 16, generator=g) - 0.5)
    big = (torch.rand(20, 7, generator=g) - 0.5)
    shared = (torch.rand(40, generator=g) - 0.5)
    views = {
        "weight_ih_l0": base_ih.t(),
        "weight_hh_l0": big[2:18, 1:5],
        "bias_ih_l0": shared[1::2][:16],
        "bias_hh_l0": shared[4:20],
    }
    assert not views["weight_ih_l0"].is_contiguous() and not views["weight_hh_l0"].is_contiguous()
    m.load_state_dict({k: v.contiguous() for k, v in views.items()})
    cases.append(lstm_case("views", views, m, "", False, inputs(4, 2, 3, False, 8), 1))

    # A module inside another: keys start with "lstm."; the head is loaded and ignored.
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(5, 4)
            self.head = torch.nn.Linear(4, 2)

    net = Net()
    cases.append(lstm_case("wrapped", net.state_dict(), net.lstm, "lstm.", False, inputs(3, 1, 5, False, 9), 1))

    # Parameters (keep_vars=True: torch._utils._rebuild_parameter) in pickle protocol 4 (frames, STACK_GLOBAL, MEMOIZE).
    m = torch.nn.LSTM(3, 5)
    cases.append(lstm_case("parameters_protocol4", m.state_dict(keep_vars=True), m, "", False, inputs(3, 2, 3, False, 10), 1, pickle_protocol=4))

    # Integer and bool tensors next to the LSTM's (a BatchNorm's num_batches_tracked, an expanded position_ids buffer,
    # a bool mask): read as opaque values and left out ("left_out"), the float tensors read.
    net = torch.nn.Sequential(torch.nn.LSTM(3, 4), torch.nn.BatchNorm1d(4))
    net[1].train()
    with torch.no_grad():
        net[1](torch.rand(5, 4, generator=torch.Generator().manual_seed(11)))
    net.register_buffer("position_ids", torch.arange(6).expand((1, -1)))
    net.register_buffer("mask", torch.tensor([True, False, True]))
    sd = net.state_dict()
    assert sd["1.num_batches_tracked"].dtype == torch.int64 and sd["position_ids"].dtype == torch.int64
    cases.append(lstm_case("integer_buffers", sd, net[0], "0.", False, inputs(3, 2, 3, False, 12), 1))

    # A thousand two-element views of one flattened storage (as parameters flattened into one buffer are saved), in
    # protocol 4: each costs the reader more than its few bytes of pickle, and the memory budget must take them.
    flat = torch.rand(2000, generator=torch.Generator().manual_seed(13))
    torch.save({"layers.%d.norm.weight" % i: flat[2 * i:2 * i + 2] for i in range(1000)}, HERE / "flat_views.pt", pickle_protocol=4)

    refusals = []

    class System:
        def __reduce__(self):
            return (os.system, ("echo this must never run",))

    class Eval:
        def __reduce__(self):
            return (eval, ("print('this must never run')",))

    w = torch.zeros(16, 3)
    torch.save({"weight_ih_l0": w, "evil": System()}, HERE / "malicious_system.pt")
    refusals.append({"file": "malicious_system.pt", "names": [os.system.__module__ + ".system"]})
    torch.save({"weight_ih_l0": w, "evil": Eval()}, HERE / "malicious_eval.pt")
    refusals.append({"file": "malicious_eval.pt", "names": ["__builtin__.eval"]})
    torch.save({"weight_ih_l0": w, "c": torch.zeros(3, dtype=torch.complex64)}, HERE / "complex_tensor.pt")
    refusals.append({"file": "complex_tensor.pt", "names": ["torch.ComplexFloatStorage"]})
    # The legacy format keys its storages by object id: this one file differs from run to run (the others are identical).
    torch.save({"weight_ih_l0": w}, HERE / "legacy_format.pt", _use_new_zipfile_serialization=False)
    refusals.append({"file": "legacy_format.pt", "names": ["legacy"]})

    document = {"torch": torch.__version__, "cases": cases, "refusals": refusals}
    with open(HERE / "fixtures.json", "w", encoding="utf-8") as f:
        # One line per case keeps the file small and its diffs readable.
        f.write("{\"torch\": " + json.dumps(document["torch"]) + ",\n\"cases\": [\n")
        f.write(",\n".join(json.dumps(c, separators=(",", ":")) for c in cases))
        f.write("],\n\"refusals\": " + json.dumps(refusals) + "}\n")


if __name__ == "__main__":
    main()
