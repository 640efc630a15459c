using LstmKernels.Interop.Onnx;

namespace LstmKernels.Interop;

/// <summary>The plumbing operators on constants, shapes and tensors computed from the inputs: Constant, Shape, Gather, Unsqueeze, Squeeze, Slice.</summary>
internal sealed partial class OnnxGraph
{
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
                return removed.Length == 1 && removed[0] ? new ShapeValue(s.Items, true) : s;
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
}
