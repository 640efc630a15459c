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
internal sealed partial class OnnxGraph
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

        if (v is ShapeValue shapeValue && Array.TrueForAll(shapeValue.Items, d => d.IsKnown))
        {
            return new ConstValue(shapeValue.Scalar ? [] : [shapeValue.Items.Length], null, Array.ConvertAll(shapeValue.Items, d => d.Value));
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
    /// Counts computed elements against a budget of twice the bytes read (the file and its external data), so that no
    /// file makes the reader allocate far more than itself. Real exports stay well inside it: without constant folding,
    /// torch.onnx.export slices, concatenates and stacks each weight (up to 3 values computed per stored value of 2 or
    /// 4 bytes).
    /// </summary>
    private void Charge(long elements)
    {
        spent += elements;
        if (spent > (2 * (fileBytes + externalBytes)) + (1 << 16))
        {
            Fail("the constants computed here hold more values than the file does.");
        }
    }

    private int Axis(long axis, int rank, string what)
    {
        long a = axis < 0 ? axis + rank : axis;
        return a >= 0 && a < rank ? (int)a : Fail<int>($"{what} {axis} is outside a tensor of rank {rank}.");
    }
}
