using LstmKernels.Interop.Onnx;
using LstmKernels.Testing;

namespace LstmKernels.Tests;

/// <summary>
/// Writes an ONNX model holding one <c>LSTM</c> node with the library's generated ONNX types (<see cref="OnnxProto"/>).
/// Every node input is a graph input (fed at run time); outputs Y, Y_h, Y_c.
/// </summary>
internal static class OnnxModelWriter
{
    public sealed record Input(string Name, int ElementType, long[] Shape);

    public const int Float = OnnxProto.Float;
    public const int Int32 = OnnxProto.Int32;

    /// <param name="nodeInputs">Positional node inputs; "" for an omitted optional input.</param>
    /// <param name="graphInputs">The graph inputs with element type and shape.</param>
    /// <param name="attributes">Attributes: (name, one of int / float / string / string[]).</param>
    public static byte[] LstmModel(string[] nodeInputs, Input[] graphInputs, (string Name, object Value)[] attributes, int opset = 14)
    {
        var node = new NodeProto { Name = "lstm", OpType = "LSTM" };
        node.Input.Add(nodeInputs);
        node.Output.Add(["Y", "Y_h", "Y_c"]);
        foreach ((string name, object value) in attributes)
        {
            node.Attribute.Add(value switch
            {
                int i => OnnxProto.Attribute(name, (long)i),
                float f => OnnxProto.Attribute(name, f),
                string s => OnnxProto.Attribute(name, s),
                string[] ss => OnnxProto.Attribute(name, ss),
                _ => throw new ArgumentException("unsupported attribute type", nameof(attributes)),
            });
        }

        var graph = new GraphProto { Name = "lstm_graph" };
        graph.Node.Add(node);
        foreach (Input input in graphInputs)
        {
            graph.Input.Add(OnnxProto.ValueInfo(input.Name, input.ElementType, input.Shape));
        }

        foreach (string o in (string[])["Y", "Y_h", "Y_c"])
        {
            graph.Output.Add(OnnxProto.ValueInfo(o, Float, null));
        }

        return OnnxProto.Model(graph, "LstmKernels.Tests", opset);
    }
}
