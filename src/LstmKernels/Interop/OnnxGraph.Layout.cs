using LstmKernels.Interop.Onnx;

namespace LstmKernels.Interop;

/// <summary>The plumbing operators that move data: Transpose, Reshape, ConstantOfShape, Expand, Cast, and the index arithmetic of constants.</summary>
internal sealed partial class OnnxGraph
{
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
}
