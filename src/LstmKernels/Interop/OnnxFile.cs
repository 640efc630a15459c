using Google.Protobuf;
using LstmKernels.Interop.Onnx;

namespace LstmKernels.Interop;

/// <summary>
/// Reads and writes <c>.onnx</c> files holding an LSTM: what <c>torch.onnx.export</c> writes for an <c>nn.LSTM</c>
/// (opsets 11 to 17; one or more layers, bidirectional, batch-first), graphs of a single <c>LSTM</c> node from other
/// exporters, and what <see cref="Write"/> writes.
/// </summary>
/// <remarks>
/// <para>The reader follows the nodes that the graph outputs depend on. LSTM nodes take W, R, B and P from initializers
/// (raw_data or typed data, float32/float16/bfloat16/double), Constant nodes or constants computed from them;
/// initial_h, initial_c and sequence_lens are zero, absent, or graph inputs (slices of one input per layer, as
/// torch.onnx.export writes them); every LSTM attribute the library has is read (direction, hidden_size, activations
/// Sigmoid/Tanh/Relu, clip, input_forget, layout). The plumbing between layers (Squeeze, Unsqueeze, Transpose, Reshape,
/// Slice, Concat, Gather, Shape, ConstantOfShape, Expand, Cast, Identity) is checked to be plumbing: each layer takes the
/// previous layer's whole output, and batch-first is recognised from the Transposes around the nodes. Anything that would
/// change what the model computes and is not understood gives <see cref="InvalidDataException"/> naming the node and
/// its operator.</para>
/// <para>The returned <see cref="Lstm"/> takes and gives the library's layouts: <c>x, y</c> as <c>[T, B, ·]</c> (or
/// <c>[B, T, ·]</c> when the graph is batch-first), states <c>[L·D, B, H]</c>. They are the graph's own layouts for
/// torch.onnx.export models; a single LSTM node's <c>Y [T, D, B, H]</c> (D = 2) and layout-1 states <c>[B, D, H]</c> are
/// laid out differently (see docs/interop.md).</para>
/// <para>Tensors in external files are read only from the model's own folder (<see cref="ReadLstm(string, LstmOptions?)"/>);
/// a location that leads out of it is refused. Memory use is linear in the size of the file and of its external data:
/// every declared size is checked against the bytes actually there before anything is allocated, and constants computed
/// in the graph may hold at most twice as many values as the bytes read. (The parsed protobuf messages themselves take
/// up to about 150 bytes per byte of a file made of empty messages.)</para>
/// </remarks>
public static class OnnxFile
{
    /// <summary>The opset <see cref="Write"/> writes (the default ONNX domain).</summary>
    public const int WriteOpset = 14;

    /// <summary>Reads the LSTM of an <c>.onnx</c> file; external data is read from the file's folder only.</summary>
    /// <param name="path">The model file.</param>
    /// <param name="options">
    /// Null, or options whose <see cref="LstmOptions.Precision"/> and <see cref="LstmOptions.StepThreads"/> the LSTM is
    /// built with; their other properties must be the defaults (the model sets direction, layout, clip and the rest).
    /// </param>
    /// <returns>The LSTM; with <see cref="LstmOptions.Bias"/> false when no LSTM node has <c>B</c>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="path"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="options"/> sets a property the model decides, or cannot run this model (a reduced precision where peepholes, clip or other activations need the unfused route).</exception>
    /// <exception cref="InvalidDataException">The file is not an ONNX model of LSTM nodes that the reader understands; the message names the node.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static Lstm ReadLstm(string path, LstmOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        CheckOptions(options);
        byte[] bytes = File.ReadAllBytes(path);
        return OnnxGraph.Read(bytes, Path.GetDirectoryName(Path.GetFullPath(path)), options);
    }

    /// <summary>Reads the LSTM of an ONNX model held in memory (it cannot have external data).</summary>
    /// <param name="model">The bytes of the <c>.onnx</c> file.</param>
    /// <param name="options">As for <see cref="ReadLstm(string, LstmOptions?)"/>.</param>
    /// <returns>The LSTM.</returns>
    /// <exception cref="ArgumentException"><paramref name="options"/> sets a property the model decides, or cannot run this model.</exception>
    /// <exception cref="InvalidDataException">The bytes are not an ONNX model of LSTM nodes that the reader understands, or a tensor is in an external file.</exception>
    public static Lstm ReadLstm(ReadOnlySpan<byte> model, LstmOptions? options = null)
    {
        CheckOptions(options);
        return OnnxGraph.Read(model, null, options);
    }

    /// <summary>
    /// Writes an LSTM as an ONNX model (opset <see cref="WriteOpset"/>) laid out as torch.onnx.export lays out an
    /// <c>nn.LSTM</c> run with <c>(x, (h0, c0))</c>: inputs <c>x</c> (<c>[T, B, I]</c>, or <c>[B, T, I]</c> when
    /// batch-first) and <c>h0</c>, <c>c0</c> (<c>[L·D, B, H]</c>; zeros for a zero state); outputs <c>y</c>, <c>h</c>,
    /// <c>c</c> as <see cref="Lstm.Forward"/> gives them. One LSTM node per layer (direction, clip, input_forget,
    /// activations, peepholes as the LSTM has them; no <c>B</c> when <see cref="LstmOptions.Bias"/> is false), joined by
    /// Slice, Squeeze or Transpose/Reshape, and Concat.
    /// </summary>
    /// <param name="lstm">The LSTM (its weights as it computes with them, so rounded when its precision is reduced).</param>
    /// <returns>The bytes of the <c>.onnx</c> file.</returns>
    /// <remarks>ONNX Runtime runs the model to the LSTM's outputs; <see cref="ReadLstm(ReadOnlySpan{byte}, LstmOptions?)"/> reads back the same weights.</remarks>
    /// <exception cref="ArgumentNullException"><paramref name="lstm"/> is null.</exception>
    /// <exception cref="ArgumentException">The LSTM has projections (proj_size), which the ONNX LSTM operator does not have.</exception>
    public static byte[] Write(Lstm lstm)
    {
        ArgumentNullException.ThrowIfNull(lstm);
        if (lstm.ProjectionSize > 0)
        {
            Internal.ThrowHelper.Argument(nameof(lstm), "'lstm' has projections (proj_size), which the ONNX LSTM operator does not have.");
        }

        return BuildModel(lstm).ToByteArray();
    }

    /// <summary>Writes an LSTM as an ONNX model file (see <see cref="Write"/>).</summary>
    /// <param name="lstm">The LSTM.</param>
    /// <param name="path">The file to create or overwrite.</param>
    /// <exception cref="ArgumentNullException"><paramref name="lstm"/> or <paramref name="path"/> is null.</exception>
    /// <exception cref="ArgumentException">The LSTM has projections.</exception>
    /// <exception cref="IOException">The file cannot be written.</exception>
    public static void WriteFile(Lstm lstm, string path)
    {
        ArgumentNullException.ThrowIfNull(lstm);
        ArgumentNullException.ThrowIfNull(path);
        File.WriteAllBytes(path, Write(lstm));
    }

    private static void CheckOptions(LstmOptions? options)
    {
        if (options is not null && options with { Precision = WeightPrecision.Float32, StepThreads = 1 } != LstmOptions.Default)
        {
            Internal.ThrowHelper.Argument(nameof(options), "'options' may set only Precision and StepThreads; the model decides direction, layout, bias, clip, input_forget and activations.");
        }
    }

    private static ModelProto BuildModel(Lstm lstm)
    {
        int layers = lstm.Layers, d = lstm.Directions, h = lstm.HiddenSize;
        LstmOptions o = lstm.Options;
        var graph = new GraphProto { Name = "lstm" };
        graph.Input.Add(Info("x", o.BatchFirst ? ["B", "T", lstm.InputSize] : ["T", "B", lstm.InputSize]));
        graph.Input.Add(Info("h0", [layers * d, "B", h]));
        graph.Input.Add(Info("c0", [layers * d, "B", h]));
        string sequence = "x";
        if (o.BatchFirst)
        {
            sequence = Node(graph, "Transpose", "x_time_major", [sequence], IntsAttribute("perm", [1, 0, 2]));
        }

        graph.Initializer.Add(Integers("axes_0", [0]));
        graph.Initializer.Add(Integers("axes_1", [1]));
        graph.Initializer.Add(Integers("merge_directions", [0, 0, -1]));
        bool peepholes = false;
        for (int layer = 0; layer < layers; layer++)
        {
            for (int dir = 0; dir < d; dir++)
            {
                peepholes |= lstm.GetParameters(layer, dir).HasPeepholes;
            }
        }

        for (int layer = 0; layer < layers; layer++)
        {
            int input = layer == 0 ? lstm.InputSize : d * h;
            float[] w = new float[d * 4 * h * input], r = new float[d * 4 * h * h], b = new float[d * 8 * h], p = new float[d * 3 * h];
            for (int dir = 0; dir < d; dir++)
            {
                LstmParameters cell = lstm.GetParameters(layer, dir);
                cell.ToOnnx(w.AsSpan(dir * 4 * h * input, 4 * h * input), r.AsSpan(dir * 4 * h * h, 4 * h * h), b.AsSpan(dir * 8 * h, 8 * h), p.AsSpan(dir * 3 * h, 3 * h));
            }

            string suffix = "_l" + layer.ToString(System.Globalization.CultureInfo.InvariantCulture);
            graph.Initializer.Add(Floats("W" + suffix, [d, 4 * h, input], w));
            graph.Initializer.Add(Floats("R" + suffix, [d, 4 * h, h], r));
            if (o.Bias)
            {
                graph.Initializer.Add(Floats("B" + suffix, [d, 8 * h], b));
            }
            if (peepholes)
            {
                graph.Initializer.Add(Floats("P" + suffix, [d, 3 * h], p));
            }

            string h0 = "h0", c0 = "c0";
            if (layers > 1)
            {
                graph.Initializer.Add(Integers("starts" + suffix, [layer * d]));
                graph.Initializer.Add(Integers("ends" + suffix, [(layer * d) + d]));
                h0 = Node(graph, "Slice", "h0" + suffix, ["h0", "starts" + suffix, "ends" + suffix, "axes_0"]);
                c0 = Node(graph, "Slice", "c0" + suffix, ["c0", "starts" + suffix, "ends" + suffix, "axes_0"]);
            }

            var lstmNode = new NodeProto { Name = "LSTM" + suffix, OpType = "LSTM" };
            lstmNode.Input.Add([sequence, "W" + suffix, "R" + suffix, o.Bias ? "B" + suffix : string.Empty, string.Empty, h0, c0]);
            if (peepholes)
            {
                lstmNode.Input.Add("P" + suffix);
            }

            lstmNode.Output.Add(["Y" + suffix, layers == 1 ? "h" : "Y_h" + suffix, layers == 1 ? "c" : "Y_c" + suffix]);
            lstmNode.Attribute.Add(IntAttribute("hidden_size", h));
            if (o.Direction != LstmDirection.Forward)
            {
                lstmNode.Attribute.Add(new AttributeProto { Name = "direction", Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(o.Direction == LstmDirection.Reverse ? "reverse" : "bidirectional") });
            }

            if (o.GateActivation != LstmActivation.Sigmoid || o.CellActivation != LstmActivation.Tanh || o.HiddenActivation != LstmActivation.Tanh)
            {
                var activations = new AttributeProto { Name = "activations", Type = AttributeProto.Types.AttributeType.Strings };
                for (int dir = 0; dir < d; dir++)
                {
                    activations.Strings.Add([ByteString.CopyFromUtf8(o.GateActivation.ToString()), ByteString.CopyFromUtf8(o.CellActivation.ToString()), ByteString.CopyFromUtf8(o.HiddenActivation.ToString())]);
                }

                lstmNode.Attribute.Add(activations);
            }

            if (o.Clip is float clip)
            {
                lstmNode.Attribute.Add(new AttributeProto { Name = "clip", Type = AttributeProto.Types.AttributeType.Float, F = clip });
            }

            if (o.InputForget)
            {
                lstmNode.Attribute.Add(IntAttribute("input_forget", 1));
            }

            graph.Node.Add(lstmNode);
            bool lastTimeMajor = layer == layers - 1 && !o.BatchFirst;
            string output = lastTimeMajor ? "y" : "y" + suffix;
            if (d == 1)
            {
                Node(graph, "Squeeze", output, ["Y" + suffix, "axes_1"]);
            }
            else
            {
                string transposed = Node(graph, "Transpose", "Y" + suffix + "_tbdh", ["Y" + suffix], IntsAttribute("perm", [0, 2, 1, 3]));
                Node(graph, "Reshape", output, [transposed, "merge_directions"]);
            }

            sequence = output;
        }

        if (o.BatchFirst)
        {
            Node(graph, "Transpose", "y", [sequence], IntsAttribute("perm", [1, 0, 2]));
        }

        if (layers > 1)
        {
            foreach (string state in (string[])["h", "c"])
            {
                var concat = new NodeProto { Name = "Concat_" + state, OpType = "Concat", Output = { state } };
                for (int layer = 0; layer < layers; layer++)
                {
                    concat.Input.Add($"Y_{state}_l{layer.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
                }

                concat.Attribute.Add(IntAttribute("axis", 0));
                graph.Node.Add(concat);
            }
        }

        graph.Output.Add(Info("y", o.BatchFirst ? ["B", "T", d * h] : ["T", "B", d * h]));
        graph.Output.Add(Info("h", [layers * d, "B", h]));
        graph.Output.Add(Info("c", [layers * d, "B", h]));
        var model = new ModelProto { IrVersion = 8, ProducerName = "LstmKernels", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = WriteOpset });
        return model;
    }

    private static string Node(GraphProto graph, string op, string output, string[] inputs, AttributeProto? attribute = null)
    {
        var n = new NodeProto { Name = op + "_" + output, OpType = op };
        n.Input.Add(inputs);
        n.Output.Add(output);
        if (attribute is not null)
        {
            n.Attribute.Add(attribute);
        }

        graph.Node.Add(n);
        return output;
    }

    private static AttributeProto IntAttribute(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    private static AttributeProto IntsAttribute(string name, long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.Add(values);
        return a;
    }

    private static TensorProto Floats(string name, long[] dims, float[] values)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        t.Dims.Add(dims);
        byte[] raw = new byte[values.Length * sizeof(float)];
        for (int k = 0; k < values.Length; k++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(4 * k), values[k]);
        }

        t.RawData = ByteString.CopyFrom(raw);
        return t;
    }

    private static TensorProto Integers(string name, long[] values)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        t.Dims.Add(values.Length);
        t.Int64Data.Add(values);
        return t;
    }

    /// <summary>A float tensor's ValueInfo; a string dimension is symbolic.</summary>
    private static ValueInfoProto Info(string name, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (object dim in dims)
        {
            shape.Dim.Add(dim is string s ? new TensorShapeProto.Types.Dimension { DimParam = s } : new TensorShapeProto.Types.Dimension { DimValue = (int)dim });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }
}
