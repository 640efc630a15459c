using System.Buffers;
using System.Text;

namespace LstmKernels.Testing;

/// <summary>
/// A protobuf message being written by hand: fields appended in order (varint, fixed32, length-delimited). Enough
/// for the few ONNX messages the test and benchmark models need, with no protobuf package.
/// </summary>
internal sealed class ProtoWriter
{
    private readonly ArrayBufferWriter<byte> buffer = new();

    public void Varint(int field, ulong value)
    {
        Key(field, 0);
        Raw(value);
    }

    public void Fixed32(int field, uint value)
    {
        Key(field, 5);
        Span<byte> b = buffer.GetSpan(4);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        buffer.Advance(4);
    }

    public void Bytes(int field, ReadOnlySpan<byte> value)
    {
        Key(field, 2);
        Raw((ulong)value.Length);
        buffer.Write(value);
    }

    public void String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    public void Message(int field, ProtoWriter value) => Bytes(field, value.buffer.WrittenSpan);

    public byte[] ToArray() => buffer.WrittenSpan.ToArray();

    private void Key(int field, int wireType) => Raw(((ulong)field << 3) | (uint)wireType);

    private void Raw(ulong value)
    {
        while (value >= 0x80)
        {
            buffer.Write([(byte)(value | 0x80)]);
            value >>= 7;
        }

        buffer.Write([(byte)value]);
    }
}

/// <summary>ONNX message pieces shared by the model writers.</summary>
internal static class OnnxProto
{
    public const int Float = 1;
    public const int Int32 = 6;

    /// <summary>A ValueInfoProto: a tensor of <paramref name="elementType"/>; no shape when null; a dimension ≤ 0 is symbolic.</summary>
    public static ProtoWriter ValueInfo(string name, int elementType, long[]? shape)
    {
        var tensor = new ProtoWriter();
        tensor.Varint(1, (ulong)elementType);
        if (shape is not null)
        {
            var s = new ProtoWriter();
            foreach (long d in shape)
            {
                var dim = new ProtoWriter();
                if (d > 0)
                {
                    dim.Varint(1, (ulong)d);
                }
                else
                {
                    dim.String(2, "n");
                }

                s.Message(1, dim);
            }

            tensor.Message(2, s);
        }

        var type = new ProtoWriter();
        type.Message(1, tensor);
        var info = new ProtoWriter();
        info.String(1, name);
        info.Message(2, type);
        return info;
    }

    /// <summary>A ModelProto around <paramref name="graph"/>: IR version 8, the default domain at <paramref name="opset"/>.</summary>
    public static byte[] Model(ProtoWriter graph, string producer, int opset)
    {
        var opsetId = new ProtoWriter();
        opsetId.String(1, string.Empty);
        opsetId.Varint(2, (ulong)opset);
        var model = new ProtoWriter();
        model.Varint(1, 8);
        model.String(2, producer);
        model.Message(7, graph);
        model.Message(8, opsetId);
        return model.ToArray();
    }
}
