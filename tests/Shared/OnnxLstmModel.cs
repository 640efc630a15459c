using LstmKernels.Interop.Onnx;

namespace LstmKernels.Testing;

/// <summary>
/// Writes an ONNX model holding one <c>LSTM</c> node, as protobuf bytes, with the library's generated ONNX types
/// (<see cref="OnnxProto"/>). Weights and biases go in as initializers; X, and optionally sequence_lens, initial_h,
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
        // Positional inputs, "" for an omitted optional one; trailing omitted ones are left out, as ONNX allows.
        string[] inputs = ["X", "W", "R", B is not null ? "B" : "", WithSequenceLengths ? "sequence_lens" : "", WithInitialState ? "initial_h" : "",
            WithInitialState ? "initial_c" : "", P is not null ? "P" : ""];
        int count = inputs.Length;
        while (count > 3 && inputs[count - 1].Length == 0)
        {
            count--;
        }

        var node = new NodeProto { Name = "lstm", OpType = "LSTM" };
        node.Input.Add(inputs[..count]);
        node.Output.Add(["Y", "Y_h", "Y_c"]);
        node.Attribute.Add(OnnxProto.Attribute("hidden_size", (long)h));
        node.Attribute.Add(OnnxProto.Attribute("direction", Direction));
        node.Attribute.Add(OnnxProto.Attribute("layout", (long)Layout));
        node.Attribute.Add(OnnxProto.Attribute("input_forget", (long)InputForget));
        if (Clip is float clip)
        {
            node.Attribute.Add(OnnxProto.Attribute("clip", clip));
        }

        var graph = new GraphProto { Name = "lstm_graph" };
        graph.Node.Add(node);
        graph.Initializer.Add(OnnxProto.Tensor("W", [d, 4 * h, InputSize], W));
        graph.Initializer.Add(OnnxProto.Tensor("R", [d, 4 * h, h], R));
        if (B is not null)
        {
            graph.Initializer.Add(OnnxProto.Tensor("B", [d, 8 * h], B));
        }

        if (P is not null)
        {
            graph.Initializer.Add(OnnxProto.Tensor("P", [d, 3 * h], P));
        }

        long[] x = Layout == 0 ? [SequenceLength, BatchSize, InputSize] : [BatchSize, SequenceLength, InputSize];
        graph.Input.Add(OnnxProto.ValueInfo("X", FloatType, x));
        if (WithSequenceLengths)
        {
            graph.Input.Add(OnnxProto.ValueInfo("sequence_lens", Int32Type, [BatchSize]));
        }

        long[] state = Layout == 0 ? [d, BatchSize, h] : [BatchSize, d, h];
        if (WithInitialState)
        {
            graph.Input.Add(OnnxProto.ValueInfo("initial_h", FloatType, state));
            graph.Input.Add(OnnxProto.ValueInfo("initial_c", FloatType, state));
        }

        long[] y = Layout == 0 ? [SequenceLength, d, BatchSize, h] : [BatchSize, SequenceLength, d, h];
        graph.Output.Add(OnnxProto.ValueInfo("Y", FloatType, y));
        graph.Output.Add(OnnxProto.ValueInfo("Y_h", FloatType, state));
        graph.Output.Add(OnnxProto.ValueInfo("Y_c", FloatType, state));
        return OnnxProto.Model(graph, "LstmKernels", opset: 14);
    }
}
