using System.Text;

namespace LstmKernels.Testing;

/// <summary>
/// Writes an ONNX model holding one <c>LSTM</c> node, as protobuf bytes, with no ONNX or protobuf package: the
/// few messages needed (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto) are
/// encoded by hand. Weights and biases go in as initializers; X, and optionally sequence_lens, initial_h,
/// initial_c, are graph inputs. Shared by the benchmarks (ONNX Runtime as the peer) and the tests (ONNX Runtime
/// as an oracle); linked into both projects, not part of the library.
/// </summary>
public sealed class OnnxLstmModel
{
    private const int FloatType = OnnxProto.Float;
    private const int Int32Type = OnnxProto.Int32;

    /// <summary>Sequence length; 0 writes a symbolic dimension.</summary>
    public int SequenceLength { get; init; }

    /// <summary>Batch size; 0 writes a symbolic dimension.</summary>
    public int BatchSize { get; init; }

    /// <summary>I.</summary>
    public required int InputSize { get; init; }

    /// <summary>H, the <c>hidden_size</c> attribute.</summary>
    public required int HiddenSize { get; init; }

    /// <summary>"forward", "reverse" or "bidirectional".</summary>
    public string Direction { get; init; } = "forward";

    /// <summary>The <c>layout</c> attribute (0: X is [T, B, I]; 1: [B, T, I]).</summary>
    public int Layout { get; init; }

    /// <summary>The <c>clip</c> attribute, or null to leave it out.</summary>
    public float? Clip { get; init; }

    /// <summary>The <c>input_forget</c> attribute.</summary>
    public int InputForget { get; init; }

    /// <summary>W <c>[num_dir, 4H, I]</c>, ONNX gate order i, o, f, c.</summary>
    public required float[] W { get; init; }

    /// <summary>R <c>[num_dir, 4H, H]</c>.</summary>
    public required float[] R { get; init; }

    /// <summary>B <c>[num_dir, 8H]</c> (Wb then Rb), or null to leave it out.</summary>
    public float[]? B { get; init; }

    /// <summary>P <c>[num_dir, 3H]</c> (i, o, f), or null to leave it out.</summary>
    public float[]? P { get; init; }

    /// <summary>Whether <c>sequence_lens</c> is a graph input.</summary>
    public bool WithSequenceLengths { get; init; }

    /// <summary>Whether <c>initial_h</c> and <c>initial_c</c> are graph inputs.</summary>
    public bool WithInitialState { get; init; }

    /// <summary>The number of directions.</summary>
    public int Directions => Direction == "bidirectional" ? 2 : 1;

    /// <summary>The model as ONNX protobuf bytes (IR version 8, opset 14).</summary>
    /// <returns>The serialized ModelProto.</returns>
    public byte[] ToBytes()
    {
        int d = Directions, h = HiddenSize;
        ProtoWriter node = NodeInputs(B is not null, WithSequenceLengths, WithInitialState, P is not null);
        foreach (string output in (string[])["Y", "Y_h", "Y_c"])
        {
            node.String(2, output);
        }

        node.String(3, "lstm");
        node.String(4, "LSTM");
        node.Message(5, IntAttribute("hidden_size", h));
        node.Message(5, StringAttribute("direction", Direction));
        node.Message(5, IntAttribute("layout", Layout));
        node.Message(5, IntAttribute("input_forget", InputForget));
        if (Clip is float clip)
        {
            node.Message(5, FloatAttribute("clip", clip));
        }

        var graph = new ProtoWriter();
        graph.Message(1, node);
        graph.String(2, "lstm_graph");
        graph.Message(5, Tensor("W", [d, 4 * h, InputSize], W));
        graph.Message(5, Tensor("R", [d, 4 * h, h], R));
        if (B is not null)
        {
            graph.Message(5, Tensor("B", [d, 8 * h], B));
        }

        if (P is not null)
        {
            graph.Message(5, Tensor("P", [d, 3 * h], P));
        }

        long[] x = Layout == 0 ? [SequenceLength, BatchSize, InputSize] : [BatchSize, SequenceLength, InputSize];
        graph.Message(11, OnnxProto.ValueInfo("X", FloatType, x));
        if (WithSequenceLengths)
        {
            graph.Message(11, OnnxProto.ValueInfo("sequence_lens", Int32Type, [BatchSize]));
        }

        long[] state = Layout == 0 ? [d, BatchSize, h] : [BatchSize, d, h];
        if (WithInitialState)
        {
            graph.Message(11, OnnxProto.ValueInfo("initial_h", FloatType, state));
            graph.Message(11, OnnxProto.ValueInfo("initial_c", FloatType, state));
        }

        long[] y = Layout == 0 ? [SequenceLength, d, BatchSize, h] : [BatchSize, SequenceLength, d, h];
        graph.Message(12, OnnxProto.ValueInfo("Y", FloatType, y));
        graph.Message(12, OnnxProto.ValueInfo("Y_h", FloatType, state));
        graph.Message(12, OnnxProto.ValueInfo("Y_c", FloatType, state));

        return OnnxProto.Model(graph, "LstmKernels", opset: 14);
    }

    private static ProtoWriter NodeInputs(bool b, bool lengths, bool state, bool p)
    {
        // Positional inputs, "" for an omitted optional one; trailing omitted ones are left out, as ONNX allows.
        string[] inputs = ["X", "W", "R", b ? "B" : "", lengths ? "sequence_lens" : "", state ? "initial_h" : "", state ? "initial_c" : "", p ? "P" : ""];
        int count = inputs.Length;
        while (count > 3 && inputs[count - 1].Length == 0)
        {
            count--;
        }

        var node = new ProtoWriter();
        for (int k = 0; k < count; k++)
        {
            node.String(1, inputs[k]);
        }

        return node;
    }

    private static ProtoWriter IntAttribute(string name, long value)
    {
        var a = new ProtoWriter();
        a.String(1, name);
        a.Varint(3, (ulong)value);
        a.Varint(20, 2);
        return a;
    }

    private static ProtoWriter FloatAttribute(string name, float value)
    {
        var a = new ProtoWriter();
        a.String(1, name);
        a.Fixed32(2, BitConverter.SingleToUInt32Bits(value));
        a.Varint(20, 1);
        return a;
    }

    private static ProtoWriter StringAttribute(string name, string value)
    {
        var a = new ProtoWriter();
        a.String(1, name);
        a.Bytes(4, Encoding.UTF8.GetBytes(value));
        a.Varint(20, 3);
        return a;
    }

    private static ProtoWriter Tensor(string name, long[] dims, float[] values)
    {
        long expected = 1;
        foreach (long dim in dims)
        {
            expected *= dim;
        }

        if (values.Length != expected)
        {
            throw new ArgumentException($"Tensor '{name}' has {values.Length} values; its shape [{string.Join(", ", dims)}] needs {expected}.", name);
        }

        var t = new ProtoWriter();
        foreach (long dim in dims)
        {
            t.Varint(1, (ulong)dim);
        }

        t.Varint(2, FloatType);
        t.String(8, name);
        byte[] raw = new byte[values.Length * sizeof(float)];
        Buffer.BlockCopy(values, 0, raw, 0, raw.Length);
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("ONNX raw_data is little-endian.");
        }

        t.Bytes(9, raw);
        return t;
    }
}
