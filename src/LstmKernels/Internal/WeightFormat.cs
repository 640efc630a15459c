using System.Runtime.CompilerServices;

namespace LstmKernels.Internal;

/// <summary>
/// How packed weights are read: one generic step kernel per <see cref="WeightPrecision"/>, the load widening the
/// stored weights to float in registers. Specialised by the JIT like <see cref="IPanel{TP}"/>.
/// </summary>
internal interface IWeightFormat
{
    /// <summary>Bytes per stored weight.</summary>
    static abstract int Bytes { get; }

    /// <summary>Whether the sums must be multiplied by per-unit scales (int8) before the initial values are added.</summary>
    static abstract bool Scaled { get; }

    /// <summary>Sixteen weights starting at element <paramref name="element"/> of <paramref name="rows"/>, as floats.</summary>
    static abstract TP Load<TPanel, TP>(ref byte rows, int element)
        where TPanel : struct, IPanel<TP>
        where TP : struct;
}

internal readonly struct Float32Weights : IWeightFormat
{
    public static int Bytes => sizeof(float);

    public static bool Scaled => false;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TP Load<TPanel, TP>(ref byte rows, int element)
        where TPanel : struct, IPanel<TP>
        where TP : struct => TPanel.Load(ref Unsafe.Add(ref Unsafe.As<byte, float>(ref rows), element));
}

internal readonly struct BFloat16Weights : IWeightFormat
{
    public static int Bytes => sizeof(ushort);

    public static bool Scaled => false;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TP Load<TPanel, TP>(ref byte rows, int element)
        where TPanel : struct, IPanel<TP>
        where TP : struct => TPanel.LoadBFloat16(ref Unsafe.Add(ref Unsafe.As<byte, ushort>(ref rows), element));
}

internal readonly struct Int8Weights : IWeightFormat
{
    public static int Bytes => sizeof(sbyte);

    public static bool Scaled => true;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TP Load<TPanel, TP>(ref byte rows, int element)
        where TPanel : struct, IPanel<TP>
        where TP : struct => TPanel.LoadInt8(ref Unsafe.Add(ref Unsafe.As<byte, sbyte>(ref rows), element));
}
