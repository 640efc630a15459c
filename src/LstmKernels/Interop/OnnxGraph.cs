using System.Globalization;
using Google.Protobuf;
using LstmKernels.Interop.Onnx;

namespace LstmKernels.Interop;

/// <summary>
/// Reads an ONNX graph of LSTM nodes into an <see cref="Lstm"/>. The nodes that the graph outputs depend on are
/// followed in order: constants are computed (initializers, Constant, and Slice/Concat/Transpose/… over them), the
/// shapes that torch.onnx.export builds its zero states from are followed symbolically, and for every tensor computed
/// from the graph inputs the reader knows what each axis holds. So the plumbing between LSTM nodes (Squeeze, Transpose,
/// Reshape, Slice, Concat) is checked to be plumbing: each layer must take the previous layer's whole output in
/// PyTorch's order, the states must be slices of one input per layer, and the graph outputs must be the last layer's
/// output or the states of all layers in a layout the library produces. Anything else is refused, naming the node.
/// </summary>
internal sealed class OnnxGraph
{
    public const int MinOpset = 7;
    public const int MaxOpset = 23;
    private const string Format = "ONNX";

    private static readonly Dictionary<string, string[]> Attributes = new(StringComparer.Ordinal)
    {
        ["Identity"] = [],
        ["Constant"] = ["value", "value_float", "value_floats", "value_int", "value_ints"],
        ["Shape"] = ["start", "end"],
        ["Gather"] = ["axis"],
        ["Unsqueeze"] = ["axes"],
        ["Squeeze"] = ["axes"],
        ["Concat"] = ["axis"],
        ["Slice"] = ["starts", "ends", "axes"],
        ["Transpose"] = ["perm"],
        ["Reshape"] = ["allowzero"],
        ["ConstantOfShape"] = ["value"],
        ["Expand"] = [],
        ["Cast"] = ["to", "saturate"],
        ["LSTM"] = ["hidden_size", "direction", "activations", "activation_alpha", "activation_beta", "clip", "input_forget", "layout"],
    };

    private readonly Dictionary<string, OnnxValue> values = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TensorProto> initializers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> inputTypes = new(StringComparer.Ordinal);
    private readonly List<OnnxLstmNode> lstms = [];
    private readonly string? folder;
    private readonly OnnxAtom stateHidden = new(OnnxAtomKind.StateHidden, -1);
    private readonly long fileBytes;
    private long spent;
    private long externalBytes;
    private NodeProto node = null!;

    private OnnxGraph(string? folder, long fileBytes)
    {
        this.folder = folder;
        this.fileBytes = fileBytes;
    }

    /// <summary>Parses a model and builds its LSTM.</summary>
    public static Lstm Read(ReadOnlySpan<byte> bytes, string? folder, LstmOptions? options)
    {
        ModelProto model;
        try
        {
            model = ModelProto.Parser.WithDiscardUnknownFields(true).ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            return InteropThrow.Invalid<Lstm>(Format, "not a protobuf ModelProto: " + e.Message);
        }

        return new OnnxGraph(folder, bytes.Length).Build(model, options);
    }

    private static bool IsDefaultDomain(string domain) => domain.Length == 0 || domain == "ai.onnx";

    private Lstm Build(ModelProto model, LstmOptions? options)
    {
        long opset = -1;
        foreach (OperatorSetIdProto o in model.OpsetImport)
        {
            if (IsDefaultDomain(o.Domain))
            {
                opset = o.Version;
            }
        }

        if (opset is < MinOpset or > MaxOpset)
        {
            InteropThrow.Invalid(Format, opset < 0 ? "no opset_import for the default ONNX domain." : $"opset {opset} of the default domain; opsets {MinOpset} to {MaxOpset} are read.");
        }

        GraphProto graph = model.Graph ?? InteropThrow.Invalid<GraphProto>(Format, "the model has no graph.");
        foreach (TensorProto t in graph.Initializer)
        {
            if (t.Name.Length == 0 || !initializers.TryAdd(t.Name, t))
            {
                InteropThrow.Invalid(Format, $"initializer '{t.Name}' is unnamed or appears twice.");
            }
        }

        foreach (ValueInfoProto input in graph.Input)
        {
            if (initializers.ContainsKey(input.Name))
            {
                continue; // An initializer listed as an input too (IR < 4): a constant with a default.
            }

            AddInput(input);
        }

        if (graph.Output.Count == 0)
        {
            InteropThrow.Invalid(Format, "the graph has no outputs.");
        }

        foreach (int k in NeededNodes(graph))
        {
            node = graph.Node[k];
            Evaluate();
        }

        return Assemble(graph, options);
    }

    private void AddInput(ValueInfoProto input)
    {
        if (input.Name.Length == 0 || values.ContainsKey(input.Name))
        {
            InteropThrow.Invalid(Format, $"graph input '{input.Name}' is unnamed or appears twice.");
        }

        TypeProto.Types.Tensor? tensor = input.Type?.TensorType;
        if (tensor?.Shape is null)
        {
            // Its rank is unknown: usable by nothing the reader follows, so it is an error only if a node reads it.
            inputTypes[input.Name] = tensor?.ElemType ?? 0;
            return;
        }

        int rank = tensor.Shape.Dim.Count;
        if (rank > 8)
        {
            InteropThrow.Invalid(Format, $"graph input '{input.Name}' has rank {rank}; the reader follows tensors of rank up to 8.");
        }

        var axes = new OnnxAtom[rank][];
        for (int a = 0; a < rank; a++)
        {
            TensorShapeProto.Types.Dimension d = tensor.Shape.Dim[a];
            long size = d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && d.DimValue > 0 ? d.DimValue : -1;
            axes[a] = [new OnnxAtom(OnnxAtomKind.Input, size) { Input = input.Name, Axis = a }];
        }

        inputTypes[input.Name] = tensor.ElemType;
        values[input.Name] = new FlowValue(axes);
    }

    /// <summary>The indices of the nodes that the graph outputs depend on, in file order.</summary>
    private List<int> NeededNodes(GraphProto graph)
    {
        var producer = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int k = 0; k < graph.Node.Count; k++)
        {
            foreach (string o in graph.Node[k].Output)
            {
                if (o.Length == 0)
                {
                    continue;
                }

                if (initializers.ContainsKey(o) || values.ContainsKey(o) || !producer.TryAdd(o, k))
                {
                    InteropThrow.Invalid(Format, $"'{o}' is produced twice (node '{graph.Node[k].Name}', {graph.Node[k].OpType}).");
                }
            }
        }

        bool[] needed = new bool[graph.Node.Count];
        var pending = new Stack<string>();
        foreach (ValueInfoProto o in graph.Output)
        {
            pending.Push(o.Name);
        }

        while (pending.Count > 0)
        {
            if (producer.TryGetValue(pending.Pop(), out int k) && !needed[k])
            {
                needed[k] = true;
                foreach (string i in graph.Node[k].Input)
                {
                    pending.Push(i);
                }
            }
        }

        var order = new List<int>();
        for (int k = 0; k < needed.Length; k++)
        {
            if (needed[k])
            {
                order.Add(k);
            }
        }

        return order;
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private void Fail(string problem) => InteropThrow.Invalid(Format, $"node '{node.Name}' ({node.OpType}): {problem}");

    private T Fail<T>(string problem) => InteropThrow.Invalid<T>(Format, $"node '{node.Name}' ({node.OpType}): {problem}");

    private void Evaluate()
    {
        if (!IsDefaultDomain(node.Domain))
        {
            Fail($"operator domain '{node.Domain}' is not understood; only the default ONNX operators are.");
        }

        if (!Attributes.TryGetValue(node.OpType, out string[]? known))
        {
            Fail("this operator is not understood. The reader takes LSTM nodes and the plumbing around them (Constant, Identity, Shape, Gather, "
                + "Unsqueeze, Squeeze, Concat, Slice, Transpose, Reshape, ConstantOfShape, Expand, Cast); anything else would change what the model computes.");
        }

        foreach (AttributeProto a in node.Attribute)
        {
            if (Array.IndexOf(known, a.Name) < 0 || a.RefAttrName.Length != 0)
            {
                Fail($"attribute '{a.Name}' is not understood.");
            }
        }

        OnnxValue?[] outputs = node.OpType switch
        {
            "Identity" => [In(0)],
            "Constant" => [Constant()],
            "Shape" => [Shape()],
            "Gather" => [Gather()],
            "Unsqueeze" => [Unsqueeze()],
            "Squeeze" => [Squeeze()],
            "Concat" => [Concat()],
            "Slice" => [Slice()],
            "Transpose" => [Transpose()],
            "Reshape" => [Reshape()],
            "ConstantOfShape" => [ConstantOfShape()],
            "Expand" => [Expand()],
            "Cast" => [Cast()],
            _ => Lstm(),
        };
        for (int k = 0; k < node.Output.Count; k++)
        {
            string name = node.Output[k];
            if (name.Length == 0)
            {
                continue;
            }

            if (k >= outputs.Length || outputs[k] is null)
            {
                Fail($"output {k} ('{name}') is not one this operator has.");
            }

            values[name] = outputs[k]!;
        }
    }

    // ---- inputs and attributes ----

    private bool HasInput(int k) => k < node.Input.Count && node.Input[k].Length > 0;

    private OnnxValue In(int k)
    {
        if (!HasInput(k))
        {
            Fail($"input {k} is missing.");
        }

        string name = node.Input[k];
        if (values.TryGetValue(name, out OnnxValue? v))
        {
            return v;
        }

        if (initializers.TryGetValue(name, out TensorProto? t))
        {
            ConstValue c = OnnxTensors.Decode(t, $"initializer '{name}'", folder, ref externalBytes);
            values[name] = c;
            return c;
        }

        return inputTypes.ContainsKey(name)
            ? Fail<OnnxValue>($"input '{name}' is a graph input without a shape; the reader needs its rank.")
            : Fail<OnnxValue>($"input '{name}' is produced by no earlier node, initializer or graph input.");
    }

    private ConstValue Const(int k, string what)
    {
        OnnxValue v = In(k);
        if (v is ZerosValue z && z.Shape is { } shape && Array.TrueForAll(shape, d => d.IsKnown))
        {
            long[] dims = Array.ConvertAll(shape, d => d.Value);
            long count = Elements.Count(dims);
            if (count < 0)
            {
                Fail($"{what} has more elements than one array can hold.");
            }

            Charge(count);
            return new ConstValue(dims, new float[count], null);
        }

        return v as ConstValue ?? Fail<ConstValue>($"{what} ('{node.Input[k]}') must be a constant (an initializer or computed from them), but it depends on the graph inputs.");
    }

    private long[] ConstInts(int k, string what)
    {
        ConstValue c = Const(k, what);
        if (c.Integers is null || c.Dims.Length > 1)
        {
            Fail($"{what} must be an integer scalar or vector.");
        }

        return c.Integers;
    }

    private AttributeProto? Attribute(string name)
    {
        foreach (AttributeProto a in node.Attribute)
        {
            if (a.Name == name)
            {
                return a;
            }
        }

        return null;
    }

    private long Int(string name, long fallback)
    {
        AttributeProto? a = Attribute(name);
        if (a is null)
        {
            return fallback;
        }

        return a.Type is AttributeProto.Types.AttributeType.Int or AttributeProto.Types.AttributeType.Undefined ? a.I : Fail<long>($"attribute '{name}' is not an int.");
    }

    private long[]? Ints(string name)
    {
        AttributeProto? a = Attribute(name);
        if (a is null)
        {
            return null;
        }

        return a.Type is AttributeProto.Types.AttributeType.Ints or AttributeProto.Types.AttributeType.Undefined ? [.. a.Ints] : Fail<long[]>($"attribute '{name}' is not a list of ints.");
    }

    private string? Text(string name)
    {
        AttributeProto? a = Attribute(name);
        if (a is null)
        {
            return null;
        }

        return a.Type is AttributeProto.Types.AttributeType.String or AttributeProto.Types.AttributeType.Undefined ? a.S.ToStringUtf8() : Fail<string>($"attribute '{name}' is not a string.");
    }

    /// <summary>
    /// Counts computed elements against a budget of the bytes read (the file and its external data), so that no file
    /// makes the reader allocate far more than itself. Real exports stay well inside it: without constant folding,
    /// torch.onnx.export slices and concatenates each weight once (2 values computed per 4 bytes stored).
    /// </summary>
    private void Charge(long elements)
    {
        spent += elements;
        if (spent > fileBytes + externalBytes + (1 << 16))
        {
            Fail("the constants computed here hold more values than the file does.");
        }
    }

    private int Axis(long axis, int rank, string what)
    {
        long a = axis < 0 ? axis + rank : axis;
        return a >= 0 && a < rank ? (int)a : Fail<int>($"{what} {axis} is outside a tensor of rank {rank}.");
    }

    // ---- operators ----

    private ConstValue Constant()
    {
        if (node.Attribute.Count != 1)
        {
            Fail("a Constant needs exactly one value attribute.");
        }

        AttributeProto a = node.Attribute[0];
        return a.Name switch
        {
            "value" when a.T is not null => OnnxTensors.Decode(a.T, $"the value of node '{node.Name}' (Constant)", folder, ref externalBytes),
            "value_float" => new ConstValue([], [a.F], null),
            "value_floats" => new ConstValue([a.Floats.Count], [.. a.Floats], null),
            "value_int" => new ConstValue([], null, [a.I]),
            "value_ints" => new ConstValue([a.Ints.Count], null, [.. a.Ints]),
            _ => Fail<ConstValue>($"attribute '{a.Name}' holds no value."),
        };
    }

    private OnnxValue Shape()
    {
        OnnxDim[] dims = In(0) switch
        {
            ConstValue c => Array.ConvertAll(c.Dims, d => new OnnxDim(d, null)),
            ZerosValue { Shape: { } s } => s,
            FlowValue f => Array.ConvertAll(f.Axes, AxisDim),
            _ => Fail<OnnxDim[]>("the shape of its input is not followed."),
        };
        int rank = dims.Length;
        long start = Clamp(Int("start", 0), rank), end = Clamp(Int("end", rank), rank);
        OnnxDim[] items = end > start ? dims[(int)start..(int)end] : [];
        return Array.TrueForAll(items, d => d.IsKnown) ? new ConstValue([items.Length], null, Array.ConvertAll(items, d => d.Value)) : new ShapeValue(items, false);
    }

    private static long Clamp(long index, long rank) => Math.Clamp(index < 0 ? index + rank : index, 0, rank);

    private static OnnxDim AxisDim(OnnxAtom[] axis)
    {
        long size = 1;
        foreach (OnnxAtom a in axis)
        {
            if (a.Size < 0)
            {
                return axis.Length == 1 ? new OnnxDim(0, a) : new OnnxDim(0, new OnnxAtom(OnnxAtomKind.Opaque, -1));
            }

            size *= a.Size;
        }

        return new OnnxDim(size, null);
    }

    private OnnxValue Gather()
    {
        OnnxValue data = In(0);
        ConstValue indices = Const(1, "the indices");
        if (indices.Integers is null || indices.Dims.Length > 1)
        {
            Fail("the indices must be an integer scalar or vector.");
        }

        if (data is ShapeValue s && !s.Scalar)
        {
            Axis(Int("axis", 0), 1, "axis");
            var items = new OnnxDim[indices.Integers.Length];
            for (int k = 0; k < items.Length; k++)
            {
                items[k] = s.Items[Axis(indices.Integers[k], s.Items.Length, "index")];
            }

            return new ShapeValue(items, indices.Dims.Length == 0);
        }

        ConstValue c = data as ConstValue ?? Fail<ConstValue>("Gather is followed on constants and shapes only.");
        int axis = Axis(Int("axis", 0), c.Dims.Length, "axis");
        long[] picked = Array.ConvertAll(indices.Integers, i => (long)Axis(i, (int)c.Dims[axis], "index"));
        var maps = new List<(int Source, long[] Map)>();
        long offset = 0;
        long[] strides = Strides(c.Dims);
        for (int a = 0; a < c.Dims.Length; a++)
        {
            if (a != axis)
            {
                maps.Add((a, Iota(c.Dims[a])));
            }
            else if (indices.Dims.Length == 1)
            {
                maps.Add((a, picked));
            }
            else
            {
                offset = picked[0] * strides[a];
            }
        }

        return Remap(c, maps, offset);
    }

    private OnnxValue Unsqueeze()
    {
        long[] axes = HasInput(1) ? ConstInts(1, "the axes") : Ints("axes") ?? Fail<long[]>("no axes.");
        OnnxValue v = In(0);
        int rank = Rank(v) + axes.Length;
        bool[] added = new bool[rank];
        foreach (long a in axes)
        {
            int at = Axis(a, rank, "axis");
            if (added[at])
            {
                Fail($"axis {a} is repeated.");
            }

            added[at] = true;
        }

        switch (v)
        {
            case ShapeValue { Scalar: true } s when rank == 1:
                return new ShapeValue(s.Items, false);
            case ConstValue c:
                {
                    var dims = new long[rank];
                    for (int a = 0, from = 0; a < rank; a++)
                    {
                        dims[a] = added[a] ? 1 : c.Dims[from++];
                    }

                    return c.WithDims(dims);
                }

            case FlowValue f:
                {
                    var axesOut = new OnnxAtom[rank][];
                    for (int a = 0, from = 0; a < rank; a++)
                    {
                        axesOut[a] = added[a] ? [OnnxAtom.One] : f.Axes[from++];
                    }

                    return new FlowValue(axesOut);
                }

            case ZerosValue:
                return new ZerosValue(null);
            default:
                return Fail<OnnxValue>("Unsqueeze of this value is not followed.");
        }
    }

    private int Rank(OnnxValue v) => v switch
    {
        ConstValue c => c.Dims.Length,
        FlowValue f => f.Axes.Length,
        ShapeValue s => s.Scalar ? 0 : 1,
        ZerosValue { Shape: { } shape } => shape.Length,
        _ => Fail<int>("the rank of its input is not followed."),
    };

    private OnnxValue Squeeze()
    {
        OnnxValue v = In(0);
        long[]? axes = HasInput(1) ? ConstInts(1, "the axes") : Ints("axes");
        int rank = Rank(v);
        bool[] removed = new bool[rank];
        if (axes is null)
        {
            for (int a = 0; a < rank; a++)
            {
                removed[a] = Size(v, a) == 1;
            }
        }
        else
        {
            foreach (long axis in axes)
            {
                int a = Axis(axis, rank, "axis");
                if (Size(v, a) != 1)
                {
                    Fail($"axis {axis} does not have size 1 (or its size is only known when the model runs).");
                }

                removed[a] = true;
            }
        }

        switch (v)
        {
            case ShapeValue s:
                return new ShapeValue(s.Items, true);
            case ConstValue c:
                return c.WithDims(c.Dims.Where((_, a) => !removed[a]).ToArray());
            case FlowValue f:
                return new FlowValue(f.Axes.Where((_, a) => !removed[a]).ToArray());
            default:
                return new ZerosValue(null);
        }
    }

    /// <summary>The size of axis a, or −1 when only the running model knows it.</summary>
    private static long Size(OnnxValue v, int a) => v switch
    {
        ConstValue c => c.Dims[a],
        ShapeValue s => s.Items.Length,
        FlowValue f => AxisDim(f.Axes[a]) is { IsKnown: true } d ? d.Value : -1,
        ZerosValue { Shape: { } shape } => shape[a].IsKnown ? shape[a].Value : -1,
        _ => -1,
    };

    private OnnxValue Concat()
    {
        int count = node.Input.Count;
        if (count == 0)
        {
            Fail("no inputs.");
        }

        var inputs = new OnnxValue[count];
        for (int k = 0; k < count; k++)
        {
            inputs[k] = In(k);
        }

        long axisAttribute = Attribute("axis") is null ? Fail<long>("no axis.") : Int("axis", 0);
        if (Array.TrueForAll(inputs, v => v is ConstValue))
        {
            return ConcatConst(inputs.Cast<ConstValue>().ToArray(), axisAttribute);
        }

        if (Array.TrueForAll(inputs, v => v is ConstValue { Dims.Length: 1, Integers: not null } or ShapeValue { Scalar: false }))
        {
            var items = new List<OnnxDim>();
            foreach (OnnxValue v in inputs)
            {
                items.AddRange(v is ShapeValue s ? s.Items : Array.ConvertAll(((ConstValue)v).Integers!, i => new OnnxDim(i, null)));
            }

            return new ShapeValue([.. items], false);
        }

        if (Array.TrueForAll(inputs, v => v is FlowValue))
        {
            return ConcatStates(inputs.Cast<FlowValue>().ToArray(), axisAttribute);
        }

        return Fail<OnnxValue>("Concat is followed for constants, shapes and the states of LSTM nodes.");
    }

    private ConstValue ConcatConst(ConstValue[] inputs, long axisAttribute)
    {
        ConstValue first = inputs[0];
        int rank = first.Dims.Length;
        int axis = Axis(axisAttribute, rank, "axis");
        long total = 0;
        foreach (ConstValue c in inputs)
        {
            bool match = c.Dims.Length == rank && (c.Floats is null) == (first.Floats is null);
            for (int a = 0; match && a < rank; a++)
            {
                match = a == axis || c.Dims[a] == first.Dims[a];
            }

            if (!match)
            {
                Fail("the inputs differ in rank, type or a dimension other than the axis.");
            }

            total += c.Dims[axis];
        }

        long[] dims = (long[])first.Dims.Clone();
        dims[axis] = total;
        long outer = 1;
        for (int a = 0; a < axis; a++)
        {
            outer *= dims[a];
        }

        long count = Elements.Count(dims);
        if (count < 0)
        {
            Fail("the result has more elements than one array can hold.");
        }

        Charge(count);
        return first.Floats is not null
            ? new ConstValue(dims, ConcatData(inputs.Select(c => c.Floats!).ToArray(), inputs, axis, outer, count), null)
            : new ConstValue(dims, null, ConcatData(inputs.Select(c => c.Integers!).ToArray(), inputs, axis, outer, count));
    }

    private static T[] ConcatData<T>(T[][] data, ConstValue[] inputs, int axis, long outer, long count)
    {
        var result = new T[count];
        long at = 0;
        for (long o = 0; o < outer; o++)
        {
            for (int k = 0; k < inputs.Length; k++)
            {
                long inner = 1;
                for (int a = axis; a < inputs[k].Dims.Length; a++)
                {
                    inner *= inputs[k].Dims[a];
                }

                Array.Copy(data[k], o * inner, result, at, inner);
                at += inner;
            }
        }

        return result;
    }

    /// <summary>Concat of LSTM states along their stack axis (torch.onnx.export's h_n, c_n of several layers).</summary>
    private FlowValue ConcatStates(FlowValue[] inputs, long axisAttribute)
    {
        int rank = inputs[0].Axes.Length;
        int axis = Axis(axisAttribute, rank, "axis");
        var nodes = new List<OnnxLstmNode>();
        foreach (FlowValue f in inputs)
        {
            bool match = f.Axes.Length == rank && f.Axes[axis] is [{ Kind: OnnxAtomKind.Stack }];
            for (int a = 0; match && a < rank; a++)
            {
                match = a == axis || OnnxAtom.Same(f.Axes[a], inputs[0].Axes[a]);
            }

            if (!match)
            {
                Fail("Concat of tensors computed from the inputs is followed only for the states of LSTM nodes along their first axis.");
            }

            nodes.AddRange(f.Axes[axis][0].Nodes!);
        }

        OnnxAtom[][] axes = (OnnxAtom[][])inputs[0].Axes.Clone();
        axes[axis] = [new OnnxAtom(OnnxAtomKind.Stack, nodes.Sum(n => (long)n.Directions)) { Nodes = [.. nodes] }];
        return new FlowValue(axes);
    }

    private OnnxValue Slice()
    {
        OnnxValue v = In(0);
        int rank = Rank(v);
        long[] starts, ends;
        long[]? axes, steps = null;
        if (HasInput(1) || node.Input.Count > 1)
        {
            starts = ConstInts(1, "the starts");
            ends = ConstInts(2, "the ends");
            axes = HasInput(3) ? ConstInts(3, "the axes") : null;
            steps = HasInput(4) ? ConstInts(4, "the steps") : null;
        }
        else
        {
            starts = Ints("starts") ?? Fail<long[]>("no starts.");
            ends = Ints("ends") ?? Fail<long[]>("no ends.");
            axes = Ints("axes");
        }

        axes ??= Iota(starts.Length);
        steps ??= Enumerable.Repeat(1L, starts.Length).ToArray();
        if (ends.Length != starts.Length || axes.Length != starts.Length || steps.Length != starts.Length)
        {
            Fail("starts, ends, axes and steps differ in length.");
        }

        var ranges = new (long Start, long End, long Step)?[rank];
        for (int k = 0; k < starts.Length; k++)
        {
            int a = Axis(axes[k], rank, "axis");
            if (ranges[a] is not null || steps[k] == 0)
            {
                Fail($"axis {axes[k]} is repeated or has step 0.");
            }

            ranges[a] = (starts[k], ends[k], steps[k]);
        }

        switch (v)
        {
            case ConstValue c:
                {
                    var maps = new List<(int, long[])>();
                    for (int a = 0; a < rank; a++)
                    {
                        maps.Add((a, ranges[a] is { } r ? SliceIndices(c.Dims[a], r.Start, r.End, r.Step) : Iota(c.Dims[a])));
                    }

                    return Remap(c, maps, 0);
                }

            case ShapeValue s:
                {
                    (long start, long end, long step) = ranges[0] ?? (0, long.MaxValue, 1);
                    return new ShapeValue(Array.ConvertAll(SliceIndices(s.Items.Length, start, end, step), i => s.Items[i]), false);
                }

            case ZerosValue:
                return new ZerosValue(null);
            case FlowValue f:
                {
                    OnnxAtom[][] result = (OnnxAtom[][])f.Axes.Clone();
                    for (int a = 0; a < rank; a++)
                    {
                        if (ranges[a] is not { } r)
                        {
                            continue;
                        }

                        OnnxAtom atom = f.Axes[a] is [{ Kind: OnnxAtomKind.Input } single] ? single : Fail<OnnxAtom>("Slice of tensors computed from the inputs is followed only along an axis of a graph input.");
                        if (r.Step != 1 || r.Start < 0 || (r.End < 0 && atom.Size < 0))
                        {
                            Fail("Slice of tensors computed from the inputs is followed only along an axis of a graph input, with step 1 and non-negative starts.");
                        }

                        long length = atom.End == long.MaxValue ? atom.Size : atom.End - atom.Start;
                        long end = r.End < 0 ? r.End + length : r.End;
                        long start = atom.Start + r.Start;
                        long stop = end >= long.MaxValue - atom.Start ? atom.End : Math.Min(atom.Start + end, atom.End);
                        if (stop <= start)
                        {
                            Fail("the slice is empty.");
                        }

                        result[a] = [new OnnxAtom(OnnxAtomKind.Input, stop == long.MaxValue ? -1 : stop - start) { Input = atom.Input, Axis = atom.Axis, Start = start, End = stop }];
                    }

                    return new FlowValue(result);
                }

            default:
                return Fail<OnnxValue>("Slice of this value is not followed.");
        }
    }

    private static long[] SliceIndices(long size, long start, long end, long step)
    {
        static long Fix(long i, long size, long low, long high) => Math.Clamp(i < 0 ? i + size : i, low, high);
        var result = new List<long>();
        if (step > 0)
        {
            for (long i = Fix(start, size, 0, size), e = Fix(end, size, 0, size); i < e; i += step)
            {
                result.Add(i);
            }
        }
        else
        {
            for (long i = Fix(start, size, -1, size - 1), e = Fix(end, size, -1, size - 1); i > e; i += step)
            {
                result.Add(i);
            }
        }

        return [.. result];
    }

    private OnnxValue Transpose()
    {
        OnnxValue v = In(0);
        int rank = Rank(v);
        long[] perm = Ints("perm") ?? Enumerable.Range(0, rank).Reverse().Select(a => (long)a).ToArray();
        if (perm.Length != rank || perm.Distinct().Count() != rank || Array.Exists(perm, p => p < 0 || p >= rank))
        {
            Fail($"perm [{string.Join(", ", perm)}] is not a permutation of the {rank} axes.");
        }

        return v switch
        {
            ConstValue c => Remap(c, perm.Select(p => ((int)p, Iota(c.Dims[p]))).ToList(), 0),
            FlowValue f => new FlowValue(Array.ConvertAll(perm, p => f.Axes[p])),
            ZerosValue => new ZerosValue(null),
            _ => Fail<OnnxValue>("Transpose of this value is not followed."),
        };
    }

    private OnnxValue Reshape()
    {
        OnnxValue v = In(0);
        long[] target = ConstInts(1, "the shape");
        bool allowZero = Int("allowzero", 0) != 0;
        switch (v)
        {
            case ConstValue c:
                {
                    long[] dims = (long[])target.Clone();
                    int infer = -1;
                    long known = 1;
                    for (int a = 0; a < dims.Length; a++)
                    {
                        if (dims[a] == 0 && !allowZero)
                        {
                            dims[a] = a < c.Dims.Length ? c.Dims[a] : Fail<long>("a 0 in the shape has no input axis to copy.");
                        }

                        if (dims[a] == -1 && infer < 0)
                        {
                            infer = a;
                        }
                        else if (dims[a] < 0)
                        {
                            Fail("the shape holds a negative size.");
                        }
                        else
                        {
                            known *= dims[a];
                            if (known > Array.MaxLength)
                            {
                                Fail("the shape has more elements than one array can hold.");
                            }
                        }
                    }

                    if (infer >= 0)
                    {
                        dims[infer] = known == 0 ? 0 : c.Length / known;
                        known *= dims[infer];
                    }

                    return known == c.Length ? c.WithDims(dims) : Fail<OnnxValue>($"the shape holds {known} elements, the input {c.Length}.");
                }

            case FlowValue f:
                return ReshapeFlow(f, target, allowZero);
            case ZerosValue:
                return new ZerosValue(null);
            default:
                return Fail<OnnxValue>("Reshape of this value is not followed.");
        }
    }

    /// <summary>
    /// Reshape of a tensor computed from the inputs: the output axes take the input's atoms in memory order, a 0 copies
    /// an input axis, a number takes atoms of known sizes whose product it is, and one −1 takes what is left.
    /// </summary>
    private FlowValue ReshapeFlow(FlowValue f, long[] target, bool allowZero)
    {
        List<OnnxAtom> atoms = f.Layout();
        int infer = Array.IndexOf(target, -1L);
        var result = new OnnxAtom[target.Length][];
        int front = 0, back = atoms.Count;
        for (int a = 0; a < target.Length && a != infer; a++)
        {
            result[a] = Take(f, target[a], a, allowZero, atoms, ref front, back, fromFront: true);
        }

        if (infer >= 0)
        {
            for (int a = target.Length - 1; a > infer; a--)
            {
                result[a] = Take(f, target[a], a, allowZero, atoms, ref back, front, fromFront: false);
            }

            result[infer] = front < back ? [.. atoms.GetRange(front, back - front)] : [OnnxAtom.One];
            front = back;
        }

        if (front != back)
        {
            Fail($"the shape [{string.Join(", ", target)}] does not hold the input's elements.");
        }

        return new FlowValue(result);
    }

    private OnnxAtom[] Take(FlowValue f, long size, int axis, bool allowZero, List<OnnxAtom> atoms, ref int at, int limit, bool fromFront)
    {
        var taken = new List<OnnxAtom>();
        if (size == 0 && !allowZero)
        {
            if (axis >= f.Axes.Length)
            {
                Fail("a 0 in the shape has no input axis to copy.");
            }

            foreach (OnnxAtom atom in f.Axes[axis])
            {
                if (atom.Droppable)
                {
                    continue;
                }

                int k = fromFront ? at : at - 1;
                if ((fromFront ? at >= limit : at <= limit) || !OnnxAtom.Same(atoms[k], atom))
                {
                    Fail("a 0 in the shape copies an input axis that is not at that place in memory.");
                }

                taken.Add(atom);
                at += fromFront ? 1 : -1;
            }
        }
        else if (size > 1)
        {
            long product = 1;
            while (product < size && (fromFront ? at < limit : at > limit))
            {
                OnnxAtom atom = atoms[fromFront ? at : at - 1];
                if (atom.Size < 1)
                {
                    Fail($"a size of {size} in the shape would split or merge an axis whose size is only known when the model runs.");
                }

                product *= atom.Size;
                taken.Add(atom);
                at += fromFront ? 1 : -1;
            }

            if (product != size)
            {
                Fail($"a size of {size} in the shape does not fall on the boundaries of the input's axes.");
            }
        }
        else if (size != 1)
        {
            Fail($"the shape holds {size}.");
        }

        if (!fromFront)
        {
            taken.Reverse();
        }

        return taken.Count == 0 ? [OnnxAtom.One] : [.. taken];
    }

    private OnnxValue ConstantOfShape()
    {
        OnnxDim[] shape = Dims(0);
        AttributeProto? value = Attribute("value");
        ConstValue fill = value?.T is { } t ? OnnxTensors.Decode(t, $"the value of node '{node.Name}' (ConstantOfShape)", folder, ref externalBytes) : new ConstValue([1], [0f], null);
        if (fill.Length != 1)
        {
            Fail("the value must hold one element.");
        }

        if (fill.IsZero)
        {
            return new ZerosValue(shape);
        }

        if (!Array.TrueForAll(shape, d => d.IsKnown))
        {
            Fail("a non-zero fill of a shape known only when the model runs is not followed.");
        }

        long[] dims = Array.ConvertAll(shape, d => d.Value);
        long count = Elements.Count(dims);
        if (count < 0)
        {
            Fail("the shape has more elements than one array can hold.");
        }

        Charge(count);
        return fill.Floats is not null
            ? new ConstValue(dims, Enumerable.Repeat(fill.Floats[0], (int)count).ToArray(), null)
            : new ConstValue(dims, null, Enumerable.Repeat(fill.Integers![0], (int)count).ToArray());
    }

    private OnnxDim[] Dims(int k) => In(k) switch
    {
        ShapeValue { Scalar: false } s => s.Items,
        ConstValue { Dims.Length: 1, Integers: { } i } => Array.ConvertAll(i, d => d >= 0 ? new OnnxDim(d, null) : Fail<OnnxDim>($"the shape holds {d}.")),
        _ => Fail<OnnxDim[]>($"input {k} must be a shape (an integer vector)."),
    };

    private OnnxValue Expand()
    {
        OnnxValue v = In(0);
        OnnxDim[] shape = Dims(1);
        if (v is ZerosValue || v is ConstValue { IsZero: true })
        {
            return new ZerosValue(shape);
        }

        if (v is ConstValue c && shape.Length <= c.Dims.Length)
        {
            bool same = true;
            for (int a = 0; a < shape.Length; a++)
            {
                long d = c.Dims[c.Dims.Length - shape.Length + a];
                same &= shape[a].IsKnown && (shape[a].Value == d || shape[a].Value == 1);
            }

            if (same)
            {
                return c;
            }
        }

        return Fail<OnnxValue>("Expand is followed for zero tensors and for expansions that change nothing.");
    }

    private OnnxValue Cast()
    {
        OnnxValue v = In(0);
        var to = (TensorProto.Types.DataType)Int("to", 0);
        bool toFloat = to is TensorProto.Types.DataType.Float or TensorProto.Types.DataType.Double or TensorProto.Types.DataType.Float16 or TensorProto.Types.DataType.Bfloat16;
        bool toInt = to is TensorProto.Types.DataType.Int64 or TensorProto.Types.DataType.Int32 or TensorProto.Types.DataType.Int16 or TensorProto.Types.DataType.Int8
            or TensorProto.Types.DataType.Uint64 or TensorProto.Types.DataType.Uint32 or TensorProto.Types.DataType.Uint16 or TensorProto.Types.DataType.Uint8;
        switch (v)
        {
            case ConstValue c when toFloat:
                if (c.Floats is not null)
                {
                    return c;
                }

                Charge(c.Length);
                return new ConstValue(c.Dims, Array.ConvertAll(c.Integers!, i => (float)i), null);
            case ConstValue c when toInt || to == TensorProto.Types.DataType.Bool:
                if (c.Integers is not null && to is TensorProto.Types.DataType.Int64 or TensorProto.Types.DataType.Int32)
                {
                    return c;
                }

                Charge(c.Length);
                return c.Floats is not null
                    ? new ConstValue(c.Dims, null, Array.ConvertAll(c.Floats, f => to == TensorProto.Types.DataType.Bool ? (f != 0 ? 1L : 0L) : float.IsFinite(f) ? (long)f : Fail<long>("a value to cast is not finite.")))
                    : new ConstValue(c.Dims, null, Array.ConvertAll(c.Integers!, i => to == TensorProto.Types.DataType.Bool ? (i != 0 ? 1L : 0L) : i));
            case ShapeValue when to is TensorProto.Types.DataType.Int64 or TensorProto.Types.DataType.Int32:
            case ZerosValue:
                return v;
            case FlowValue when to == TensorProto.Types.DataType.Float:
                return v;
            default:
                return Fail<OnnxValue>($"a cast to {to} of this value is not followed (a computed tensor stays float32, a shape an integer vector).");
        }
    }

    private ConstValue Remap(ConstValue c, List<(int Source, long[] Map)> maps, long offset)
    {
        long count = 1;
        foreach ((_, long[] map) in maps)
        {
            count *= map.Length;
        }

        Charge(count);
        long[] dims = maps.Select(m => (long)m.Map.Length).ToArray();
        return c.Floats is not null
            ? new ConstValue(dims, RemapData(c.Floats, Strides(c.Dims), maps, offset, count), null)
            : new ConstValue(dims, null, RemapData(c.Integers!, Strides(c.Dims), maps, offset, count));
    }

    /// <summary>Output element <c>[i₀, i₁, …]</c> is input element <c>offset + Σ stride[source_k]·map_k[i_k]</c>.</summary>
    private static T[] RemapData<T>(T[] data, long[] strides, List<(int Source, long[] Map)> maps, long offset, long count)
    {
        var result = new T[count];
        int rank = maps.Count;
        int[] index = new int[rank];
        for (long n = 0; n < count; n++)
        {
            long at = offset;
            for (int k = 0; k < rank; k++)
            {
                at += strides[maps[k].Source] * maps[k].Map[index[k]];
            }

            result[n] = data[at];
            for (int k = rank - 1; k >= 0; k--)
            {
                if (++index[k] < maps[k].Map.Length)
                {
                    break;
                }

                index[k] = 0;
            }
        }

        return result;
    }

    private static long[] Strides(long[] dims)
    {
        long[] strides = new long[dims.Length];
        long s = 1;
        for (int a = dims.Length - 1; a >= 0; a--)
        {
            strides[a] = s;
            s *= dims[a];
        }

        return strides;
    }

    private static long[] Iota(long n)
    {
        long[] r = new long[n];
        for (long k = 0; k < n; k++)
        {
            r[k] = k;
        }

        return r;
    }

    // ---- LSTM ----

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
