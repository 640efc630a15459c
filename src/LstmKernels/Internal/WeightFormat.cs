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

    /// <summary>
    /// Where weight (<paramref name="gate"/>, <paramref name="lane"/>) sits among a row's 64 elements: gate-major
    /// for float32 and int8; for bfloat16 the gates i, f and g, o share 32-bit lanes (see <see cref="IPanel{TP}.LoadBFloat16Pair"/>).
    /// </summary>
    static abstract int Lane(int gate, int lane);

    /// <summary>The four gates' sixteen weights of the row starting at element <paramref name="element"/>, as floats.</summary>
    static abstract void LoadRow<TPanel, TP>(ref byte rows, int element, out TP i, out TP f, out TP g, out TP o)
        where TPanel : struct, IPanel<TP>
        where TP : struct;
}

internal readonly struct Float32Weights : IWeightFormat
{
    public static int Bytes => sizeof(float);

    public static bool Scaled => false;

    public static int Lane(int gate, int lane) => (gate * PanelWidth.Value) + lane;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadRow<TPanel, TP>(ref byte rows, int element, out TP i, out TP f, out TP g, out TP o)
        where TPanel : struct, IPanel<TP>
        where TP : struct
    {
        ref float row = ref Unsafe.Add(ref Unsafe.As<byte, float>(ref rows), element);
        i = TPanel.Load(ref row);
        f = TPanel.Load(ref Unsafe.Add(ref row, PanelWidth.Value));
        g = TPanel.Load(ref Unsafe.Add(ref row, 2 * PanelWidth.Value));
        o = TPanel.Load(ref Unsafe.Add(ref row, 3 * PanelWidth.Value));
    }
}

internal readonly struct BFloat16Weights : IWeightFormat
{
    public static int Bytes => sizeof(ushort);

    public static bool Scaled => false;

    public static int Lane(int gate, int lane) => ((gate >> 1) * 2 * PanelWidth.Value) + (2 * lane) + (gate & 1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadRow<TPanel, TP>(ref byte rows, int element, out TP i, out TP f, out TP g, out TP o)
        where TPanel : struct, IPanel<TP>
        where TP : struct
    {
        ref ushort row = ref Unsafe.Add(ref Unsafe.As<byte, ushort>(ref rows), element);
        TPanel.LoadBFloat16Pair(ref row, out i, out f);
        TPanel.LoadBFloat16Pair(ref Unsafe.Add(ref row, 2 * PanelWidth.Value), out g, out o);
    }
}

internal readonly struct Int8Weights : IWeightFormat
{
    public static int Bytes => sizeof(sbyte);

    public static bool Scaled => true;

    public static int Lane(int gate, int lane) => (gate * PanelWidth.Value) + lane;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadRow<TPanel, TP>(ref byte rows, int element, out TP i, out TP f, out TP g, out TP o)
        where TPanel : struct, IPanel<TP>
        where TP : struct
    {
        ref sbyte row = ref Unsafe.Add(ref Unsafe.As<byte, sbyte>(ref rows), element);
        i = TPanel.LoadInt8(ref row);
        f = TPanel.LoadInt8(ref Unsafe.Add(ref row, PanelWidth.Value));
        g = TPanel.LoadInt8(ref Unsafe.Add(ref row, 2 * PanelWidth.Value));
        o = TPanel.LoadInt8(ref Unsafe.Add(ref row, 3 * PanelWidth.Value));
    }
}
