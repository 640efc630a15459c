using Google.Protobuf;
using LstmKernels.Interop.Onnx;

namespace LstmKernels.Testing;

/// <summary>
/// ONNX message pieces shared by the test and benchmark model writers, built on the library's own generated protobuf
/// types (src/LstmKernels/Interop/Onnx/onnx_subset.proto, internal; visible to the tests and benchmarks).
/// </summary>
internal static class OnnxProto
{
    public const int Float = (int)TensorProto.Types.DataType.Float;
    public const int Int32 = (int)TensorProto.Types.DataType.Int32;

    /// <summary>A ValueInfoProto: a tensor of <paramref name="elementType"/>; no shape when null; a dimension ≤ 0 is symbolic.</summary>
    public static ValueInfoProto ValueInfo(string name, int elementType, long[]? shape)
    {
        var tensor = new TypeProto.Types.Tensor { ElemType = elementType };
        if (shape is not null)
        {
            tensor.Shape = new TensorShapeProto();
            foreach (long d in shape)
            {
                tensor.Shape.Dim.Add(d > 0 ? new TensorShapeProto.Types.Dimension { DimValue = d } : new TensorShapeProto.Types.Dimension { DimParam = "n" });
            }
        }

        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensor } };
    }

    /// <summary>A float tensor with its values as little-endian raw_data.</summary>
    public static TensorProto Tensor(string name, long[] dims, float[] values)
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

        byte[] raw = new byte[values.Length * sizeof(float)];
        for (int k = 0; k < values.Length; k++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(4 * k), values[k]);
        }

        var t = new TensorProto { Name = name, DataType = Float, RawData = ByteString.CopyFrom(raw) };
        t.Dims.Add(dims);
        return t;
    }

    public static AttributeProto Attribute(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Attribute(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto Attribute(string name, string value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    public static AttributeProto Attribute(string name, string[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Strings };
        foreach (string s in values)
        {
            a.Strings.Add(ByteString.CopyFromUtf8(s));
        }

        return a;
    }

    /// <summary>A ModelProto around <paramref name="graph"/>: IR version 8, the default domain at <paramref name="opset"/>.</summary>
    public static byte[] Model(GraphProto graph, string producer, int opset)
    {
        var model = new ModelProto { IrVersion = 8, ProducerName = producer, Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = opset });
        return model.ToByteArray();
    }
}
