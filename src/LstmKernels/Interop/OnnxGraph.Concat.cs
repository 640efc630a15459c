namespace LstmKernels.Interop;

/// <summary>Concat of constants, of shapes, and of the states of LSTM nodes.</summary>
internal sealed partial class OnnxGraph
{
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
}
