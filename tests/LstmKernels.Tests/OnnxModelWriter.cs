using System.Text;
using LstmKernels.Testing;

namespace LstmKernels.Tests;

/// <summary>
/// Writes an ONNX model holding one <c>LSTM</c> node, as protobuf bytes written by hand (the few messages needed:
/// ModelProto, OperatorSetIdProto, GraphProto, NodeProto, AttributeProto, ValueInfoProto, TypeProto, TensorShapeProto).
/// Every node input is a graph input (fed at run time); outputs Y, Y_h, Y_c.
/// </summary>
internal static class OnnxModelWriter
{
    public sealed record Input(string Name, int ElementType, long[] Shape);

    public const int Float = OnnxProto.Float;
    public const int Int32 = OnnxProto.Int32;

    /// <param name="nodeInputs">Positional node inputs; "" for an omitted optional input.</param>
    /// <param name="graphInputs">The graph inputs with element type and shape.</param>
    /// <param name="attributes">Attribute writers: (name, one of int / float / string / string[]).</param>
    public static byte[] LstmModel(string[] nodeInputs, Input[] graphInputs, (string Name, object Value)[] attributes, int opset = 14)
    {
        var node = new ProtoWriter();
        foreach (string i in nodeInputs)
        {
            node.String(1, i);
        }

        foreach (string o in (string[])["Y", "Y_h", "Y_c"])
        {
            node.String(2, o);
        }

        node.String(3, "lstm");
        node.String(4, "LSTM");
        foreach ((string name, object value) in attributes)
        {
            var a = new ProtoWriter();
            a.String(1, name);
            switch (value)
            {
                case int i: a.Varint(3, (ulong)(long)i); a.Varint(20, 2); break;
                case float f: a.Fixed32(2, BitConverter.SingleToUInt32Bits(f)); a.Varint(20, 1); break;
                case string s: a.Bytes(4, Encoding.UTF8.GetBytes(s)); a.Varint(20, 3); break;
                case string[] ss:
                    foreach (string s in ss)
                    {
                        a.Bytes(9, Encoding.UTF8.GetBytes(s));
                    }

                    a.Varint(20, 8);
                    break;
                default: throw new ArgumentException("unsupported attribute type", nameof(attributes));
            }

            node.Message(5, a);
        }

        var graph = new ProtoWriter();
        graph.Message(1, node);
        graph.String(2, "lstm_graph");
        foreach (Input input in graphInputs)
        {
            graph.Message(11, OnnxProto.ValueInfo(input.Name, input.ElementType, input.Shape));
        }

        foreach (string o in (string[])["Y", "Y_h", "Y_c"])
        {
            graph.Message(12, OnnxProto.ValueInfo(o, Float, null));
        }

        return OnnxProto.Model(graph, "LstmKernels.Tests", opset);
    }
}
