using System.Globalization;
using LstmKernels.Interop.Onnx;

namespace LstmKernels.Interop;

/// <summary>LSTM nodes, and the whole graph checked as one chain of layers with the library's inputs and outputs.</summary>
internal sealed partial class OnnxGraph
{
    private OnnxValue?[] Lstm()
    {
        if (node.Input.Count > 8 || node.Output.Count > 3)
        {
            Fail("an LSTM node has at most 8 inputs and 3 outputs.");
        }

        long hidden = Attribute("hidden_size") is null ? Fail<long>("no hidden_size.") : Int("hidden_size", 0);
        string direction = Text("direction") ?? "forward";
        LstmDirection dir = direction switch
        {
            "forward" => LstmDirection.Forward,
            "reverse" => LstmDirection.Reverse,
            "bidirectional" => LstmDirection.Bidirectional,
            _ => Fail<LstmDirection>($"direction '{direction}' is not forward, reverse or bidirectional."),
        };
        int d = dir == LstmDirection.Bidirectional ? 2 : 1;
        long layout = Int("layout", 0);
        if (layout is not (0 or 1))
        {
            Fail($"layout {layout} is not 0 or 1.");
        }

        float? clip = null;
        if (Attribute("clip") is { } clipAttribute)
        {
            float c = clipAttribute.F;
            clip = c > 0 && float.IsFinite(c) ? c : Fail<float>($"clip {c.ToString(CultureInfo.InvariantCulture)} is not positive and finite.");
        }

        long inputForget = Int("input_forget", 0);
        if (inputForget is not (0 or 1))
        {
            Fail($"input_forget {inputForget} is not 0 or 1.");
        }

        (LstmActivation gate, LstmActivation cell, LstmActivation output) = Activations(d);
        ConstValue w = Const(1, "W"), r = Const(2, "R");
        if (w.Floats is null || w.Dims.Length != 3 || w.Dims[0] != d || w.Dims[1] != 4 * hidden || w.Dims[2] < 1 || hidden < 1 || hidden > int.MaxValue / 8)
        {
            Fail($"W has dims [{string.Join(", ", w.Dims)}], not [{d}, 4·hidden_size = {4 * hidden}, I] of floats.");
        }

        int h = (int)hidden, i = (int)w.Dims[2];
        CheckWeight(r, "R", [d, 4L * h, h]);
        ConstValue? b = HasInput(3) ? Const(3, "B") : null;
        ConstValue? p = HasInput(7) ? Const(7, "P") : null;
        if (b is not null)
        {
            CheckWeight(b, "B", [d, 8L * h]);
        }

        if (p is not null)
        {
            CheckWeight(p, "P", [d, 3L * h]);
        }

        FlowValue x = In(0) as FlowValue ?? Fail<FlowValue>("X must be computed from a graph input.");
        if (x.Axes.Length != 3 || x.Axes[0].Length != 1 || x.Axes[1].Length != 1)
        {
            Fail("X is not a [T, B, I] tensor whose time and batch axes come from the sequence input.");
        }

        OnnxAtom time = x.Axes[layout == 0 ? 0 : 1][0], batch = x.Axes[layout == 0 ? 1 : 0][0];
        var features = x.Axes[2].Where(a => a.Kind != OnnxAtomKind.One && !(a.Kind == OnnxAtomKind.Direction && a.Size == 1)).ToList();
        OnnxLstmNode? previous = null;
        OnnxAtom? inputFeatures = null;
        if (features is [{ Kind: OnnxAtomKind.Input, Start: 0, End: long.MaxValue } f] && time.Kind == OnnxAtomKind.Input && batch.Kind == OnnxAtomKind.Input && f.Input == time.Input && f.Input == batch.Input)
        {
            inputFeatures = f;
            if (inputTypes[f.Input!] is not (0 or (int)TensorProto.Types.DataType.Float))
            {
                Fail($"the sequence input '{f.Input}' is not float32.");
            }
        }
        else if (features.Count > 0 && features[^1] is { Kind: OnnxAtomKind.Hidden, Node: { } prev }
            && (features.Count == 1 ? prev.Directions == 1 : features.Count == 2 && features[0] == prev.DirectionAtom))
        {
            previous = prev;
        }
        else
        {
            Fail("X is neither the sequence input nor the whole output of the previous LSTM node as [T, B, D·H] (directions outer, hidden units inner, as PyTorch lays them out).");
        }

        if (time.Kind != OnnxAtomKind.Input || batch.Kind != OnnxAtomKind.Input || time.Start != 0 || batch.Start != 0 || time.End != long.MaxValue || batch.End != long.MaxValue)
        {
            Fail("the time and batch axes of X are not those of the sequence input.");
        }

        if (stateHidden.Size >= 0 && stateHidden.Size != h)
        {
            Fail($"hidden_size {h} differs from the first LSTM node's {stateHidden.Size}; every layer of an Lstm has the same hidden size.");
        }

        var lstm = new OnnxLstmNode
        {
            Name = node.Name,
            Directions = d,
            Hidden = h,
            Input = i,
            Layout = (int)layout,
            Options = new LstmOptions { Direction = dir, Clip = clip, InputForget = inputForget == 1, GateActivation = gate, CellActivation = cell, HiddenActivation = output },
            W = w.Floats,
            R = r.Floats!,
            B = b?.Floats,
            P = p?.Floats,
            Time = time,
            Batch = batch,
            Previous = previous,
            Features = inputFeatures,
            InitialH = State(5, "initial_h", (int)layout),
            InitialC = State(6, "initial_c", (int)layout),
            SequenceLengths = SequenceLengths(),
            DirectionAtom = new OnnxAtom(OnnxAtomKind.Direction, d),
            HiddenAtom = new OnnxAtom(OnnxAtomKind.Hidden, h),
            StackAtom = new OnnxAtom(OnnxAtomKind.Stack, d),
        };
        lstm.DirectionAtom.Node = lstm;
        lstm.HiddenAtom.Node = lstm;
        lstm.StackAtom.Nodes = [lstm];
        stateHidden.Size = h;
        lstms.Add(lstm);
        OnnxAtom[] hiddenAxis = [lstm.HiddenAtom];
        FlowValue y = layout == 0
            ? new FlowValue([[time], [lstm.DirectionAtom], [batch], hiddenAxis])
            : new FlowValue([[batch], [time], [lstm.DirectionAtom], hiddenAxis]);
        FlowValue states = layout == 0
            ? new FlowValue([[lstm.StackAtom], [batch], [stateHidden]])
            : new FlowValue([[batch], [lstm.StackAtom], [stateHidden]]);
        return [y, states, states];
    }

    private void CheckWeight(ConstValue c, string name, long[] dims)
    {
        if (c.Floats is null || !c.Dims.AsSpan().SequenceEqual(dims))
        {
            Fail($"{name} has dims [{string.Join(", ", c.Dims)}], not [{string.Join(", ", dims)}] of floats.");
        }
    }

    private (LstmActivation Gate, LstmActivation Cell, LstmActivation Output) Activations(int directions)
    {
        AttributeProto? a = Attribute("activations");
        if (a is null)
        {
            return (LstmActivation.Sigmoid, LstmActivation.Tanh, LstmActivation.Tanh);
        }

        if (a.Strings.Count != 3 * directions)
        {
            Fail($"activations holds {a.Strings.Count} names; it must hold 3 per direction.");
        }

        var names = a.Strings.Select(s => s.ToStringUtf8()).ToArray();
        if (directions == 2 && !names.AsSpan(0, 3).SequenceEqual(names.AsSpan(3, 3)))
        {
            Fail($"the directions have different activations ({string.Join(", ", names)}); an Lstm has one set for both.");
        }

        LstmActivation Parse(string s) => s switch
        {
            "Sigmoid" => LstmActivation.Sigmoid,
            "Tanh" => LstmActivation.Tanh,
            "Relu" => LstmActivation.Relu,
            _ => Fail<LstmActivation>($"activation '{s}' is not one the library has (Sigmoid, Tanh, Relu)."),
        };
        return (Parse(names[0]), Parse(names[1]), Parse(names[2]));
    }

    /// <summary>An initial state: null for zeros (absent, a zero constant or a zero tensor), else the graph input axis that indexes it.</summary>
    private OnnxAtom? State(int k, string name, int layout)
    {
        if (!HasInput(k))
        {
            return null;
        }

        OnnxValue v = In(k);
        if (v is ZerosValue || v is ConstValue { IsZero: true })
        {
            return null;
        }

        // A graph input (or a slice along its layers·directions axis) with its axes in their own order.
        int stackAxis = layout == 0 ? 0 : 1;
        if (v is FlowValue { Axes: [[{ Kind: OnnxAtomKind.Input } a0], [{ Kind: OnnxAtomKind.Input } a1], [{ Kind: OnnxAtomKind.Input } a2]] } f)
        {
            OnnxAtom[] atoms = [a0, a1, a2];
            bool inOrder = true;
            for (int a = 0; a < 3; a++)
            {
                inOrder &= atoms[a].Input == a0.Input && atoms[a].Axis == a && (a == stackAxis || (atoms[a].Start == 0 && atoms[a].End == long.MaxValue));
            }

            if (inOrder)
            {
                return atoms[stackAxis];
            }
        }

        return Fail<OnnxAtom>($"{name} must be zero or a graph input [layers·directions, B, H] (or its rows for this layer); an Lstm takes initial states per call, not stored ones.");
    }

    private string? SequenceLengths()
    {
        if (!HasInput(4))
        {
            return null;
        }

        return In(4) is FlowValue { Axes: [[{ Kind: OnnxAtomKind.Input, Axis: 0, Start: 0, End: long.MaxValue } atom]] }
            ? atom.Input
            : Fail<string>("sequence_lens must be a graph input [B]; an Lstm takes the lengths per call.");
    }

    // ---- the whole graph ----

    private Lstm Assemble(GraphProto graph, LstmOptions? options)
    {
        if (lstms.Count == 0)
        {
            InteropThrow.Invalid(Format, "the graph outputs depend on no LSTM node.");
        }

        // The layers: one chain from the sequence input, each node taking the previous one's Y.
        var chain = new List<OnnxLstmNode>();
        OnnxLstmNode first = lstms.Find(n => n.Previous is null) ?? InteropThrow.Invalid<OnnxLstmNode>(Format, "no LSTM node reads the sequence input.");
        chain.Add(first);
        while (lstms.Find(n => n.Previous == chain[^1]) is { } next)
        {
            chain.Add(next);
        }

        if (chain.Count != lstms.Count)
        {
            OnnxLstmNode odd = lstms.Find(n => !chain.Contains(n))!;
            InteropThrow.Invalid(Format, $"node '{odd.Name}' (LSTM) is not part of one chain of layers from the sequence input (two nodes read the same input, or one reads an earlier layer's output).");
        }

        OnnxAtom time = first.Time, batch = first.Batch;
        OnnxAtom features = first.Features!;
        bool batchFirst;
        if (time.Axis == 0 && batch.Axis == 1 && features.Axis == 2)
        {
            batchFirst = false;
        }
        else if (time.Axis == 1 && batch.Axis == 0 && features.Axis == 2)
        {
            batchFirst = true;
        }
        else
        {
            batchFirst = InteropThrow.Invalid<bool>(Format, $"node '{first.Name}' (LSTM) reads the sequence input '{features.Input}' with its axes in an order that is neither [T, B, I] nor [B, T, I].");
        }

        int layers = chain.Count, d = first.Directions;
        for (int k = 0; k < layers; k++)
        {
            OnnxLstmNode n = chain[k];
            string at = $"node '{n.Name}' (LSTM)";
            if (!OnnxAtom.Same(n.Time, time) || !OnnxAtom.Same(n.Batch, batch))
            {
                InteropThrow.Invalid(Format, $"{at} runs over other time or batch axes than the first layer.");
            }

            if (n.Options != first.Options || n.Directions != d)
            {
                InteropThrow.Invalid(Format, $"{at} has other attributes (direction, activations, clip, input_forget) than node '{first.Name}'; an Lstm has one set for all layers.");
            }

            if (k > 0 && n.Input != d * first.Hidden)
            {
                InteropThrow.Invalid(Format, $"{at} has W for {n.Input} inputs; the previous layer gives D·H = {d * first.Hidden}.");
            }

            if (n.SequenceLengths != first.SequenceLengths)
            {
                InteropThrow.Invalid(Format, $"{at} takes other sequence lengths than node '{first.Name}'.");
            }

            CheckState(n.InitialH, first.InitialH, k, layers, d, at, "initial_h");
            CheckState(n.InitialC, first.InitialC, k, layers, d, at, "initial_c");
        }

        if (first.Features is { } xf && xf.Size > 0 && xf.Size != first.Input)
        {
            InteropThrow.Invalid(Format, $"the sequence input '{xf.Input}' has {xf.Size} features, but node '{first.Name}' (LSTM) has W for {first.Input}.");
        }

        CheckOutputs(graph, chain, batchFirst);

        var cells = new List<LstmParameters>();
        foreach (OnnxLstmNode n in chain)
        {
            int h = n.Hidden, wd = 4 * h * n.Input, rd = 4 * h * h;
            for (int dir = 0; dir < d; dir++)
            {
                try
                {
                    cells.Add(LstmParameters.FromOnnx(
                        n.Input,
                        h,
                        n.W.AsSpan(dir * wd, wd),
                        n.R.AsSpan(dir * rd, rd),
                        n.B is null ? default : n.B.AsSpan(dir * 8 * h, 8 * h),
                        n.P is null ? default : n.P.AsSpan(dir * 3 * h, 3 * h)));
                }
                catch (ArgumentException e)
                {
                    InteropThrow.Invalid(Format, $"node '{n.Name}' (LSTM), direction {dir}: {e.Message}");
                }
            }
        }

        LstmOptions lstmOptions = first.Options with
        {
            BatchFirst = batchFirst,
            Bias = chain.Exists(n => n.B is not null),
            Precision = options?.Precision ?? WeightPrecision.Float32,
            StepThreads = options?.StepThreads ?? 1,
        };
        try
        {
            return LstmKernels.Lstm.Create(cells, lstmOptions);
        }
        catch (ArgumentException e) when (e.ParamName != "options" || options is null)
        {
            // The weights or attributes do not make an Lstm: the file is at fault. A caller's options error stays theirs.
            return InteropThrow.Invalid<Lstm>(Format, e.Message);
        }
    }

    private static void CheckState(OnnxAtom? state, OnnxAtom? firstState, int layer, int layers, int d, string at, string name)
    {
        if ((state is null) != (firstState is null))
        {
            InteropThrow.Invalid(Format, $"{at}: {name} is zero in some layers and a graph input in others; an Lstm takes all layers' states or none.");
        }

        if (state is null)
        {
            return;
        }

        bool sameInput = state.Input == firstState!.Input && state.Axis == firstState.Axis;
        bool range = state.Start == (long)layer * d && (state.End == ((long)layer * d) + d || (state.End == long.MaxValue && layer == layers - 1));
        if (!sameInput || !range)
        {
            InteropThrow.Invalid(Format, $"{at}: {name} is not rows [{layer * d}, {(layer * d) + d}) of the states input '{firstState.Input}' (layer·D + direction, as an Lstm takes them).");
        }
    }

    private void CheckOutputs(GraphProto graph, List<OnnxLstmNode> chain, bool batchFirst)
    {
        OnnxLstmNode last = chain[^1], first = chain[0];
        OnnxAtom t = first.Time, b = first.Batch, dir = last.DirectionAtom, hid = last.HiddenAtom;
        var stack = new OnnxAtom(OnnxAtomKind.Stack, chain.Sum(n => (long)n.Directions)) { Nodes = [.. chain] };
        List<OnnxAtom>[] accepted =
        [
            Visible(batchFirst ? [b, t, dir, hid] : [t, b, dir, hid]),
            Visible([t, dir, b, hid]),
            Visible([stack, b, stateHidden]),
            Visible([b, stack, stateHidden]),
        ];
        foreach (ValueInfoProto o in graph.Output)
        {
            values.TryGetValue(o.Name, out OnnxValue? v);
            if (v is not FlowValue f || !Array.Exists(accepted, a => OnnxAtom.Same(a, f.Layout())))
            {
                InteropThrow.Invalid(
                    Format,
                    $"graph output '{o.Name}' is neither the last LSTM layer's output ([T, B, D·H], [B, T, D·H] or ONNX's [T, D, B, H]) nor the states of all layers ([L·D, B, H] or ONNX's layout-1 [B, D, H]).");
            }
        }
    }

    private static List<OnnxAtom> Visible(OnnxAtom[] atoms) => atoms.Where(a => !a.Droppable).ToList();
}
