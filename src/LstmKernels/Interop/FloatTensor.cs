using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace LstmKernels.Interop;

/// <summary>A named float32 tensor read from (or to be written to) a weights file: shape and row-major data.</summary>
public sealed class FloatTensor
{
    private readonly int[] shape;
    private readonly float[] data;

    /// <summary>Creates a tensor; the arrays are copied.</summary>
    /// <param name="name">Its name in the file (e.g. <c>weight_ih_l0</c>).</param>
    /// <param name="shape">Its dimensions (empty for a scalar), each at least 0.</param>
    /// <param name="data">Its values in row-major (C) order; as many as the product of <paramref name="shape"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> is null.</exception>
    /// <exception cref="ArgumentException">A dimension is negative or <paramref name="data"/> has the wrong length.</exception>
    public FloatTensor(string name, ReadOnlySpan<int> shape, ReadOnlySpan<float> data)
    {
        ArgumentNullException.ThrowIfNull(name);
        long count = 1;
        foreach (int d in shape)
        {
            if (d < 0)
            {
                Internal.ThrowHelper.Argument(nameof(shape), "'shape' holds a negative dimension.");
            }

            count = Math.Min(count * d, long.MaxValue / int.MaxValue);
        }

        Internal.ThrowHelper.CheckLength(data.Length, count, nameof(data), "the product of 'shape'");
        Name = name;
        this.shape = shape.ToArray();
        this.data = data.ToArray();
    }

    private FloatTensor(string name, int[] shape, float[] data, bool owned)
    {
        Name = name;
        this.shape = shape;
        this.data = data;
        _ = owned;
    }

    /// <summary>The tensor's name.</summary>
    public string Name { get; }

    /// <summary>The dimensions.</summary>
    public ReadOnlySpan<int> Shape => shape;

    /// <summary>The values, row-major.</summary>
    public ReadOnlySpan<float> Data => data;

    /// <summary>The number of values.</summary>
    public int Length => data.Length;

    /// <summary>The shape as text, e.g. <c>[8, 2]</c>.</summary>
    /// <returns>The dimensions in brackets.</returns>
    public string ShapeText() => "[" + string.Join(", ", shape) + "]";

    /// <inheritdoc/>
    public override string ToString() => Name + " " + ShapeText();

    internal static FloatTensor Owned(string name, int[] shape, float[] data) => new(name, shape, data, owned: true);
}

/// <summary>Messages of the interop readers; only built on the failure path.</summary>
[StackTraceHidden]
internal static class InteropThrow
{
    [DoesNotReturn]
    public static void Invalid(string format, string problem) => throw new InvalidDataException($"Invalid {format} file: {problem}");

    [DoesNotReturn]
    public static T Invalid<T>(string format, string problem) => throw new InvalidDataException($"Invalid {format} file: {problem}");
}

/// <summary>Element types the readers convert to float32.</summary>
internal static class Elements
{
    /// <summary>Converts <paramref name="count"/> little- or big-endian F16/BF16/F32/F64 values of <paramref name="size"/> bytes to floats.</summary>
    public static float[] ToFloats(ReadOnlySpan<byte> bytes, int size, bool brain, bool bigEndian, int count)
    {
        float[] values = new float[count];
        for (int k = 0; k < count; k++)
        {
            values[k] = ToFloat(bytes.Slice(k * size, size), brain, bigEndian);
        }

        return values;
    }

    /// <summary>One F16/BF16 (2 bytes), F32 (4) or F64 (8) value as a float (F64 rounded to nearest).</summary>
    public static float ToFloat(ReadOnlySpan<byte> v, bool brain, bool bigEndian) => v.Length switch
    {
        2 when brain => BitConverter.Int32BitsToSingle((bigEndian ? System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(v) : System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(v)) << 16),
        2 => (float)BitConverter.Int16BitsToHalf(bigEndian ? System.Buffers.Binary.BinaryPrimitives.ReadInt16BigEndian(v) : System.Buffers.Binary.BinaryPrimitives.ReadInt16LittleEndian(v)),
        4 => bigEndian ? System.Buffers.Binary.BinaryPrimitives.ReadSingleBigEndian(v) : System.Buffers.Binary.BinaryPrimitives.ReadSingleLittleEndian(v),
        _ => (float)(bigEndian ? System.Buffers.Binary.BinaryPrimitives.ReadDoubleBigEndian(v) : System.Buffers.Binary.BinaryPrimitives.ReadDoubleLittleEndian(v)),
    };

    /// <summary>The product of the dimensions, or −1 when it exceeds <see cref="Array.MaxLength"/>.</summary>
    public static long Count(ReadOnlySpan<long> shape)
    {
        long count = 1;
        foreach (long d in shape)
        {
            if (d < 0 || d > Array.MaxLength)
            {
                return -1;
            }

            count *= d;
            if (count > Array.MaxLength)
            {
                // A zero later on would make it fine, but so many elements in one dimension product is refused anyway.
                return shape.Contains(0L) ? 0 : -1;
            }
        }

        return count;
    }
}
