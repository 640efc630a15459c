#!/usr/bin/env python3
"""Writes the training fixtures of LstmTrainerTests from PyTorch's autograd (issue 16).

Run from this folder with PyTorch 1.13 (Debian's python3-torch): python3 make_fixtures.py
CI reads the JSON files only; it needs neither Python nor torch.

Every model runs in float64 from float32-representable values (parameters, inputs and states are rounded to
float32 first), so the fixtures are the exact answer for the float32 values the C# tests start from.

Fixtures:
  grad_bidir2_lengths.json   2 layers, bidirectional, batch_first, per-row lengths (pack_padded_sequence):
                             y, hT, cT and the gradients of every parameter, x, h0 and c0 for
                             L = sum(dY*y) + sum(dhT*hT) + sum(dcT*cT)
  grad_proj_lengths.json     the same with proj_size (2 layers, bidirectional, time-major, per-row lengths)
  grad_nobias.json           nn.LSTM(bias=False), 2 layers, one direction, time-major, all rows full
  traj_sgd.json              20 steps of SGD with momentum 0.9 and clip_grad_norm_ on a 2-layer bidirectional
                             batch-first model with lengths, loss 0.5*sum((y - target)^2)/B: the loss and the gradient
                             norm (before clipping) of every step, and every parameter after the 20 steps
  traj_adam.json             the same with Adam
"""

import json

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

torch.set_default_dtype(torch.float64)


def f32(t):
    """Rounds to float32 and back, so C# starts from exactly these values."""
    return t.float().double()


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def make_model(seed, input_size, hidden, layers, bidirectional, batch_first, proj_size=0, bias=True):
    torch.manual_seed(seed)
    model = nn.LSTM(input_size, hidden, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first,
                    proj_size=proj_size, bias=bias).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(f32(p))
    return model


def run(model, x, h0, c0, lengths, batch_first):
    """The model's forward with PyTorch's packed-sequence semantics when lengths are given."""
    steps = x.shape[1] if batch_first else x.shape[0]
    if lengths is None:
        y, (hT, cT) = model(x, (h0, c0))
        return y, hT, cT
    packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False)
    out, (hT, cT) = model(packed, (h0, c0))
    y, _ = pad_packed_sequence(out, batch_first=batch_first, total_length=steps)
    return y, hT, cT


def header(model, batch, steps, lengths, batch_first):
    return {
        "torch": torch.__version__,
        "input_size": model.input_size,
        "hidden_size": model.hidden_size,
        "proj_size": model.proj_size,
        "num_layers": model.num_layers,
        "bidirectional": model.bidirectional,
        "batch_first": batch_first,
        "bias": model.bias,
        "batch": batch,
        "steps": steps,
        "lengths": lengths if lengths is not None else [],
        "names": [name for name, _ in model.named_parameters()],
    }


def gradient_fixture(path, seed, input_size, hidden, layers, bidirectional, batch_first, batch, steps, lengths,
                     proj_size=0, bias=True):
    model = make_model(seed, input_size, hidden, layers, bidirectional, batch_first, proj_size, bias)
    d = 2 if bidirectional else 1
    state = proj_size if proj_size > 0 else hidden
    g = torch.Generator().manual_seed(seed + 1)
    shape_x = (batch, steps, input_size) if batch_first else (steps, batch, input_size)
    x = f32(torch.rand(shape_x, generator=g) * 2 - 1).requires_grad_()
    h0 = f32(torch.rand(layers * d, batch, state, generator=g) - 0.5).requires_grad_()
    c0 = f32(torch.rand(layers * d, batch, hidden, generator=g) - 0.5).requires_grad_()
    y, hT, cT = run(model, x, h0, c0, lengths, batch_first)
    dY = f32(torch.rand(y.shape, generator=g) * 2 - 1)
    dhT = f32(torch.rand(hT.shape, generator=g) * 2 - 1)
    dcT = f32(torch.rand(cT.shape, generator=g) * 2 - 1)
    loss = (dY * y).sum() + (dhT * hT).sum() + (dcT * cT).sum()
    loss.backward()
    fixture = header(model, batch, steps, lengths, batch_first)
    fixture.update({
        "parameters": {name: flat(p) for name, p in model.named_parameters()},
        "x": flat(x), "h0": flat(h0), "c0": flat(c0),
        "y": flat(y), "hT": flat(hT), "cT": flat(cT),
        "dY": flat(dY), "dhT": flat(dhT), "dcT": flat(dcT),
        "gradients": {name: flat(p.grad) for name, p in model.named_parameters()},
        "dX": flat(x.grad), "dh0": flat(h0.grad), "dc0": flat(c0.grad),
    })
    write(path, fixture)


def trajectory_fixture(path, optimizer_name):
    seed, input_size, hidden, layers, batch, steps = 7, 3, 5, 2, 3, 6
    lengths = [6, 4, 2]
    batch_first = True
    max_norm = 0.5
    model = make_model(seed, input_size, hidden, layers, True, batch_first)
    g = torch.Generator().manual_seed(seed + 1)
    x = f32(torch.rand(batch, steps, input_size, generator=g) * 2 - 1)
    h0 = f32(torch.rand(layers * 2, batch, hidden, generator=g) - 0.5)
    c0 = f32(torch.rand(layers * 2, batch, hidden, generator=g) - 0.5)
    target = f32(torch.rand(batch, steps, 2 * hidden, generator=g) - 0.5)
    for b, length in enumerate(lengths):
        target[b, length:, :] = 0  # padded outputs are zero: the loss there is zero
    initial = {name: flat(p) for name, p in model.named_parameters()}
    if optimizer_name == "sgd":
        settings = {"lr": 0.2, "momentum": 0.9}
        optimizer = torch.optim.SGD(model.parameters(), lr=settings["lr"], momentum=settings["momentum"])
    else:
        settings = {"lr": 0.02, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
        optimizer = torch.optim.Adam(model.parameters(), lr=settings["lr"], betas=(settings["beta1"], settings["beta2"]),
                                     eps=settings["eps"])
    losses, norms = [], []
    for _ in range(20):
        optimizer.zero_grad()
        y, _, _ = run(model, x, h0, c0, lengths, batch_first)
        loss = 0.5 * ((y - target) ** 2).sum() / batch
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        optimizer.step()
        losses.append(float(loss))
        norms.append(float(norm))
    fixture = header(model, batch, steps, lengths, batch_first)
    fixture.update({
        "optimizer": optimizer_name,
        "settings": settings,
        "max_norm": max_norm,
        "loss": "0.5 * sum((y - target)^2) / batch",
        "parameters": initial,
        "x": flat(x), "h0": flat(h0), "c0": flat(c0), "target": flat(target),
        "losses": losses,
        "norms": norms,
        "final": {name: flat(p) for name, p in model.named_parameters()},
    })
    write(path, fixture)


def write(path, fixture):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(fixture, f, indent=None, separators=(",", ":"))
        f.write("\n")
    print(path)


if __name__ == "__main__":
    gradient_fixture("grad_bidir2_lengths.json", 1, input_size=3, hidden=5, layers=2, bidirectional=True,
                     batch_first=True, batch=3, steps=6, lengths=[6, 4, 1])
    gradient_fixture("grad_proj_lengths.json", 2, input_size=4, hidden=6, layers=2, bidirectional=True,
                     batch_first=False, batch=3, steps=5, lengths=[3, 5, 2], proj_size=3)
    gradient_fixture("grad_nobias.json", 3, input_size=3, hidden=4, layers=2, bidirectional=False,
                     batch_first=False, batch=2, steps=4, lengths=None, bias=False)
    trajectory_fixture("traj_sgd.json", "sgd")
    trajectory_fixture("traj_adam.json", "adam")
