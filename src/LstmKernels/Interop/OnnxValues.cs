namespace LstmKernels.Interop;

/// <summary>What one named value of an ONNX graph is, as far as <see cref="OnnxGraph"/> follows it.</summary>
internal abstract class OnnxValue
{
}

/// <summary>A tensor known when the file is read: an initializer, a Constant, or plumbing computed from them.</summary>
/// <remarks>Floating-point types are held as float32, integer and bool types as int64 (Slice ends of <c>INT64_MAX</c> stay exact).</remarks>
internal sealed class ConstValue : OnnxValue
{
    public ConstValue(long[] dims, float[]? floats, long[]? integers)
    {
        Dims = dims;
        Floats = floats;
        Integers = integers;
    }

    public long[] Dims { get; }

    public float[]? Floats { get; }

    public long[]? Integers { get; }

    public int Length => Floats?.Length ?? Integers!.Length;

    public bool IsZero
    {
        get
        {
            if (Floats is not null)
            {
                foreach (float v in Floats)
                {
                    if (v != 0)
                    {
                        return false;
                    }
                }

                return true;
            }

            return Array.TrueForAll(Integers!, v => v == 0);
        }
    }

    public ConstValue WithDims(long[] dims) => new(dims, Floats, Integers);
}

/// <summary>
/// One dimension of a shape computed inside the graph: a number, or an axis of a graph input whose size is only known
/// when the model runs (the time steps, the batch).
/// </summary>
internal readonly record struct OnnxDim(long Value, OnnxAtom? Atom)
{
    public bool IsKnown => Atom is null;
}

/// <summary>An integer vector (or scalar) made from <c>Shape</c>: what torch.onnx.export builds its zero states from.</summary>
internal sealed class ShapeValue : OnnxValue
{
    public ShapeValue(OnnxDim[] items, bool scalar)
    {
        Items = items;
        Scalar = scalar;
    }

    public OnnxDim[] Items { get; }

    public bool Scalar { get; }
}

/// <summary>A tensor of zeros whose shape may depend on the inputs (ConstantOfShape, Expand of a zero constant).</summary>
internal sealed class ZerosValue : OnnxValue
{
    public ZerosValue(OnnxDim[]? shape) => Shape = shape;

    /// <summary>The shape, or null when it is not followed.</summary>
    public OnnxDim[]? Shape { get; }
}

/// <summary>
/// A tensor computed from the graph inputs: the sequence, the states, or an LSTM node's outputs. Each axis is a
/// product of atoms (a Reshape merges axes), so the reader knows what every axis of every value holds and in which
/// order its memory is laid out.
/// </summary>
internal sealed class FlowValue : OnnxValue
{
    public FlowValue(OnnxAtom[][] axes) => Axes = axes;

    public OnnxAtom[][] Axes { get; }

    /// <summary>The atoms of every axis in memory order, without the droppable ones (they do not change the layout).</summary>
    public List<OnnxAtom> Layout()
    {
        var atoms = new List<OnnxAtom>();
        foreach (OnnxAtom[] axis in Axes)
        {
            foreach (OnnxAtom a in axis)
            {
                if (!a.Droppable)
                {
                    atoms.Add(a);
                }
            }
        }

        return atoms;
    }
}

/// <summary>What an axis (or part of a merged axis) of a <see cref="FlowValue"/> holds.</summary>
internal enum OnnxAtomKind
{
    /// <summary>An axis of a graph input, possibly sliced to <c>[Start, End)</c>.</summary>
    Input,

    /// <summary>The directions of an LSTM node's <c>Y</c>.</summary>
    Direction,

    /// <summary>The hidden units of an LSTM node's <c>Y</c>.</summary>
    Hidden,

    /// <summary>The hidden units of the states <c>Y_h</c>, <c>Y_c</c> (one atom for every node: states concatenate).</summary>
    StateHidden,

    /// <summary>The layers and directions of states: <c>Y_h</c> of one node, or several concatenated in order.</summary>
    Stack,

    /// <summary>An axis of size 1 added by Unsqueeze or Reshape.</summary>
    One,

    /// <summary>An axis made of unknown parts (a merge that the reader does not follow further).</summary>
    Opaque,
}

/// <summary>One atom: see <see cref="OnnxAtomKind"/>.</summary>
internal sealed class OnnxAtom
{
    public static readonly OnnxAtom One = new(OnnxAtomKind.One, 1);

    public OnnxAtom(OnnxAtomKind kind, long size)
    {
        Kind = kind;
        Size = size;
    }

    public OnnxAtomKind Kind { get; }

    /// <summary>
    /// Whether the atom is a size-1 axis that a Squeeze or Unsqueeze may remove or add without changing the memory
    /// layout. Hidden units never are: they identify a node's output even when H = 1.
    /// </summary>
    public bool Droppable => Kind == OnnxAtomKind.One || (Size == 1 && Kind is OnnxAtomKind.Direction or OnnxAtomKind.Stack or OnnxAtomKind.Input);

    /// <summary>The size, or −1 when only the running model knows it.</summary>
    public long Size { get; set; }

    /// <summary>The graph input of an <see cref="OnnxAtomKind.Input"/> atom.</summary>
    public string? Input { get; init; }

    /// <summary>The axis of the graph input.</summary>
    public int Axis { get; init; }

    /// <summary>The first index of a sliced input axis.</summary>
    public long Start { get; init; }

    /// <summary>The end of a sliced input axis; <see cref="long.MaxValue"/> when not sliced.</summary>
    public long End { get; init; } = long.MaxValue;

    /// <summary>The LSTM node of a Direction or Hidden atom.</summary>
    public OnnxLstmNode? Node { get; set; }

    /// <summary>The LSTM nodes of a Stack atom, in order.</summary>
    public OnnxLstmNode[]? Nodes { get; set; }

    /// <summary>Whether two atoms stand for the same data (slices of one input axis compare by their range).</summary>
    public static bool Same(OnnxAtom a, OnnxAtom b)
    {
        if (ReferenceEquals(a, b))
        {
            return true;
        }

        if (a.Kind != b.Kind)
        {
            return false;
        }

        return a.Kind switch
        {
            OnnxAtomKind.Input => a.Input == b.Input && a.Axis == b.Axis && a.Start == b.Start && a.End == b.End,
            OnnxAtomKind.StateHidden or OnnxAtomKind.One => true,
            OnnxAtomKind.Stack => a.Nodes!.AsSpan().SequenceEqual(b.Nodes),
            _ => false,
        };
    }

    public static bool Same(IReadOnlyList<OnnxAtom> a, IReadOnlyList<OnnxAtom> b)
    {
        if (a.Count != b.Count)
        {
            return false;
        }

        for (int k = 0; k < a.Count; k++)
        {
            if (!Same(a[k], b[k]))
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>One LSTM node as read: its weights and attributes, where its input and states come from.</summary>
internal sealed class OnnxLstmNode
{
    public required string Name { get; init; }

    public required int Directions { get; init; }

    public required int Hidden { get; init; }

    public required int Input { get; init; }

    public required int Layout { get; init; }

    public required LstmOptions Options { get; init; }

    public required float[] W { get; init; }

    public required float[] R { get; init; }

    public float[]? B { get; init; }

    public float[]? P { get; init; }

    /// <summary>The time and batch atoms of its X.</summary>
    public required OnnxAtom Time { get; init; }

    public required OnnxAtom Batch { get; init; }

    /// <summary>The node whose Y is its X, or null when X is a graph input.</summary>
    public OnnxLstmNode? Previous { get; init; }

    /// <summary>The graph input its X comes from (set on the first layer).</summary>
    public OnnxAtom? Features { get; init; }

    /// <summary>initial_h: null for zeros, else the (sliced) graph input axis that indexes the states.</summary>
    public OnnxAtom? InitialH { get; init; }

    public OnnxAtom? InitialC { get; init; }

    /// <summary>The graph input that holds sequence_lens, or null.</summary>
    public string? SequenceLengths { get; init; }

    /// <summary>The atoms of its Y: direction and hidden.</summary>
    public required OnnxAtom DirectionAtom { get; init; }

    public required OnnxAtom HiddenAtom { get; init; }

    public required OnnxAtom StackAtom { get; init; }
}
