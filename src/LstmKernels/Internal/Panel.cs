using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace LstmKernels.Internal;

/// <summary>
/// Sixteen floats, the width of a packed weight panel, held in whatever registers the machine has: one
/// <see cref="Vector512{T}"/>, two <see cref="Vector256{T}"/>, four <see cref="Vector128{T}"/>, or sixteen scalars.
/// The packing and the kernels are written against this, so a packed model is the same bytes on every machine.
/// </summary>
internal interface IPanel<TP>
    where TP : struct
{
    /// <summary>How many hardware vectors make up one panel; the kernels unroll more when it is 1.</summary>
    static abstract int Vectors { get; }

    static abstract TP Broadcast(float value);

    static abstract TP Load(ref float source);

    /// <summary>
    /// Two gates' sixteen bfloat16 weights stored interleaved in 32-bit lanes (lane u: <paramref name="low"/>'s unit u
    /// in its low half, <paramref name="high"/>'s in its high half), widened to float: a shift and a mask, no shuffle.
    /// </summary>
    static abstract void LoadBFloat16Pair(ref ushort source, out TP low, out TP high);

    /// <summary>Sixteen signed bytes converted to float.</summary>
    static abstract TP LoadInt8(ref sbyte source);

    static abstract void Store(TP value, ref float destination);

    static abstract TP Add(TP a, TP b);

    static abstract TP Multiply(TP a, TP b);

    /// <summary><c>a·b + c</c>.</summary>
    static abstract TP MultiplyAdd(TP a, TP b, TP c);

    static abstract TP Sigmoid(TP x);

    static abstract TP Tanh(TP x);
}

/// <summary>The fixed width of a panel.</summary>
internal static class PanelWidth
{
    public const int Value = 16;
}

internal readonly struct Panel512 : IPanel<Vector512<float>>
{
    public static int Vectors => 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Broadcast(float value) => Vector512.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load(ref float source) => Vector512.LoadUnsafe(ref source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadBFloat16Pair(ref ushort source, out Vector512<float> low, out Vector512<float> high)
    {
        Vector512<uint> pairs = Vector512.LoadUnsafe(ref Unsafe.As<ushort, uint>(ref source));
        low = Vector512.ShiftLeft(pairs, 16).AsSingle();
        high = (pairs & Vector512.Create(0xFFFF0000u)).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LoadInt8(ref sbyte source) =>
        Vector512.ConvertToSingle(Avx512F.IsSupported
            ? Avx512F.ConvertToVector512Int32(Vector128.LoadUnsafe(ref source)) // one vpmovsxbd, the load folded in
            : Vector512.WidenLower(Vector256.WidenLower(Vector128.LoadUnsafe(ref source).ToVector256Unsafe()).ToVector512Unsafe()));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<float> value, ref float destination) => value.StoreUnsafe(ref destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Multiply(Vector512<float> a, Vector512<float> b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> MultiplyAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) =>
        Vector512.MultiplyAddEstimate(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Sigmoid(Vector512<float> x) => VectorMath<Simd512, Vector512<float>>.Sigmoid(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Tanh(Vector512<float> x) => VectorMath<Simd512, Vector512<float>>.Tanh(x);
}

/// <summary>Two <see cref="Vector256{T}"/> halves of a panel.</summary>
internal struct Pair256
{
    public Vector256<float> Lo;
    public Vector256<float> Hi;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Pair256(Vector256<float> lo, Vector256<float> hi)
    {
        Lo = lo;
        Hi = hi;
    }
}

internal readonly struct Panel256 : IPanel<Pair256>
{
    private const int Half = 8;

    public static int Vectors => 2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Pair256 Broadcast(float value) => new(Vector256.Create(value), Vector256.Create(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Pair256 Load(ref float source) =>
        new(Vector256.LoadUnsafe(ref source), Vector256.LoadUnsafe(ref Unsafe.Add(ref source, Half)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadBFloat16Pair(ref ushort source, out Pair256 low, out Pair256 high)
    {
        ref uint lanes = ref Unsafe.As<ushort, uint>(ref source);
        Vector256<uint> a = Vector256.LoadUnsafe(ref lanes), b = Vector256.LoadUnsafe(ref Unsafe.Add(ref lanes, Half));
        Vector256<uint> mask = Vector256.Create(0xFFFF0000u);
        low = new(Vector256.ShiftLeft(a, 16).AsSingle(), Vector256.ShiftLeft(b, 16).AsSingle());
        high = new((a & mask).AsSingle(), (b & mask).AsSingle());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Pair256 LoadInt8(ref sbyte source)
    {
        Vector256<short> words = Vector256.WidenLower(Vector128.LoadUnsafe(ref source).ToVector256Unsafe());
        (Vector256<int> lo, Vector256<int> hi) = Vector256.Widen(words);
        return new(Vector256.ConvertToSingle(lo), Vector256.ConvertToSingle(hi));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Pair256 value, ref float destination)
    {
        value.Lo.StoreUnsafe(ref destination);
        value.Hi.StoreUnsafe(ref Unsafe.Add(ref destination, Half));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Pair256 Add(Pair256 a, Pair256 b) => new(a.Lo + b.Lo, a.Hi + b.Hi);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Pair256 Multiply(Pair256 a, Pair256 b) => new(a.Lo * b.Lo, a.Hi * b.Hi);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Pair256 MultiplyAdd(Pair256 a, Pair256 b, Pair256 c) =>
        new(Vector256.MultiplyAddEstimate(a.Lo, b.Lo, c.Lo), Vector256.MultiplyAddEstimate(a.Hi, b.Hi, c.Hi));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Pair256 Sigmoid(Pair256 x) =>
        new(VectorMath<Simd256, Vector256<float>>.Sigmoid(x.Lo), VectorMath<Simd256, Vector256<float>>.Sigmoid(x.Hi));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Pair256 Tanh(Pair256 x) =>
        new(VectorMath<Simd256, Vector256<float>>.Tanh(x.Lo), VectorMath<Simd256, Vector256<float>>.Tanh(x.Hi));
}

/// <summary>Four <see cref="Vector128{T}"/> quarters of a panel.</summary>
[InlineArray(4)]
internal struct Quad128
{
    private Vector128<float> element;
}

internal readonly struct Panel128 : IPanel<Quad128>
{
    private const int Quarter = 4;

    public static int Vectors => 4;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Quad128 Broadcast(float value)
    {
        Quad128 r = default;
        for (int q = 0; q < 4; q++)
        {
            r[q] = Vector128.Create(value);
        }

        return r;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Quad128 Load(ref float source)
    {
        Quad128 r = default;
        for (int q = 0; q < 4; q++)
        {
            r[q] = Vector128.LoadUnsafe(ref Unsafe.Add(ref source, q * Quarter));
        }

        return r;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadBFloat16Pair(ref ushort source, out Quad128 low, out Quad128 high)
    {
        ref uint lanes = ref Unsafe.As<ushort, uint>(ref source);
        Vector128<uint> mask = Vector128.Create(0xFFFF0000u);
        low = default;
        high = default;
        for (int q = 0; q < 4; q++)
        {
            Vector128<uint> v = Vector128.LoadUnsafe(ref Unsafe.Add(ref lanes, q * Quarter));
            low[q] = Vector128.ShiftLeft(v, 16).AsSingle();
            high[q] = (v & mask).AsSingle();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Quad128 LoadInt8(ref sbyte source)
    {
        Quad128 r = default;
        (Vector128<short> lo, Vector128<short> hi) = Vector128.Widen(Vector128.LoadUnsafe(ref source));
        r[0] = Vector128.ConvertToSingle(Vector128.WidenLower(lo));
        r[1] = Vector128.ConvertToSingle(Vector128.WidenUpper(lo));
        r[2] = Vector128.ConvertToSingle(Vector128.WidenLower(hi));
        r[3] = Vector128.ConvertToSingle(Vector128.WidenUpper(hi));
        return r;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Quad128 value, ref float destination)
    {
        for (int q = 0; q < 4; q++)
        {
            value[q].StoreUnsafe(ref Unsafe.Add(ref destination, q * Quarter));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Quad128 Add(Quad128 a, Quad128 b)
    {
        for (int q = 0; q < 4; q++)
        {
            a[q] += b[q];
        }

        return a;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Quad128 Multiply(Quad128 a, Quad128 b)
    {
        for (int q = 0; q < 4; q++)
        {
            a[q] *= b[q];
        }

        return a;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Quad128 MultiplyAdd(Quad128 a, Quad128 b, Quad128 c)
    {
        for (int q = 0; q < 4; q++)
        {
            c[q] = Vector128.MultiplyAddEstimate(a[q], b[q], c[q]);
        }

        return c;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Quad128 Sigmoid(Quad128 x)
    {
        for (int q = 0; q < 4; q++)
        {
            x[q] = VectorMath<Simd128, Vector128<float>>.Sigmoid(x[q]);
        }

        return x;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Quad128 Tanh(Quad128 x)
    {
        for (int q = 0; q < 4; q++)
        {
            x[q] = VectorMath<Simd128, Vector128<float>>.Tanh(x[q]);
        }

        return x;
    }
}

/// <summary>Sixteen scalars: the panel of the path with no hardware vectors.</summary>
[InlineArray(16)]
internal struct Scalar16
{
    private float element;
}

internal readonly struct PanelScalar : IPanel<Scalar16>
{
    public static int Vectors => 16;

    public static Scalar16 Broadcast(float value)
    {
        Scalar16 r = default;
        ((Span<float>)r).Fill(value);
        return r;
    }

    public static Scalar16 Load(ref float source)
    {
        Scalar16 r = default;
        MemoryMarshal.CreateReadOnlySpan(ref source, PanelWidth.Value).CopyTo(r);
        return r;
    }

    public static void LoadBFloat16Pair(ref ushort source, out Scalar16 low, out Scalar16 high)
    {
        low = default;
        high = default;
        for (int j = 0; j < PanelWidth.Value; j++)
        {
            low[j] = BitConverter.UInt32BitsToSingle((uint)Unsafe.Add(ref source, 2 * j) << 16);
            high[j] = BitConverter.UInt32BitsToSingle((uint)Unsafe.Add(ref source, (2 * j) + 1) << 16);
        }
    }

    public static Scalar16 LoadInt8(ref sbyte source)
    {
        Scalar16 r = default;
        for (int j = 0; j < PanelWidth.Value; j++)
        {
            r[j] = Unsafe.Add(ref source, j);
        }

        return r;
    }

    public static void Store(Scalar16 value, ref float destination) =>
        ((ReadOnlySpan<float>)value).CopyTo(MemoryMarshal.CreateSpan(ref destination, PanelWidth.Value));

    public static Scalar16 Add(Scalar16 a, Scalar16 b)
    {
        for (int j = 0; j < PanelWidth.Value; j++)
        {
            a[j] += b[j];
        }

        return a;
    }

    public static Scalar16 Multiply(Scalar16 a, Scalar16 b)
    {
        for (int j = 0; j < PanelWidth.Value; j++)
        {
            a[j] *= b[j];
        }

        return a;
    }

    public static Scalar16 MultiplyAdd(Scalar16 a, Scalar16 b, Scalar16 c)
    {
        for (int j = 0; j < PanelWidth.Value; j++)
        {
            c[j] = float.MultiplyAddEstimate(a[j], b[j], c[j]);
        }

        return c;
    }

    public static Scalar16 Sigmoid(Scalar16 x)
    {
        for (int j = 0; j < PanelWidth.Value; j++)
        {
            x[j] = VectorMath<SimdScalar, float>.Sigmoid(x[j]);
        }

        return x;
    }

    public static Scalar16 Tanh(Scalar16 x)
    {
        for (int j = 0; j < PanelWidth.Value; j++)
        {
            x[j] = VectorMath<SimdScalar, float>.Tanh(x[j]);
        }

        return x;
    }
}
