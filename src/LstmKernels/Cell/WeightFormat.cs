using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

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

    /// <summary>
    /// One gate's sixteen weights of the row at <paramref name="rows"/>, as float in two <see cref="Vector256{T}"/>
    /// halves (units 0–7 and 8–15): the load of the Vector256 batch tile, which takes the gates one at a time.
    /// </summary>
    static abstract void LoadGate256(ref byte rows, int gate, out Vector256<float> lo, out Vector256<float> hi);
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadGate256(ref byte rows, int gate, out Vector256<float> lo, out Vector256<float> hi)
    {
        ref float row = ref Unsafe.Add(ref Unsafe.As<byte, float>(ref rows), gate * PanelWidth.Value);
        lo = Vector256.LoadUnsafe(ref row);
        hi = Vector256.LoadUnsafe(ref Unsafe.Add(ref row, 8));
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadGate256(ref byte rows, int gate, out Vector256<float> lo, out Vector256<float> hi)
    {
        // The gate shares 32-bit lanes with its pair partner: the even gate (i, g) in the low halves, the odd in the high.
        ref uint lanes = ref Unsafe.Add(ref Unsafe.As<byte, uint>(ref rows), (gate >> 1) * PanelWidth.Value);
        Vector256<uint> a = Vector256.LoadUnsafe(ref lanes), b = Vector256.LoadUnsafe(ref Unsafe.Add(ref lanes, 8));
        if ((gate & 1) == 0)
        {
            lo = Vector256.ShiftLeft(a, 16).AsSingle();
            hi = Vector256.ShiftLeft(b, 16).AsSingle();
        }
        else
        {
            Vector256<uint> mask = Vector256.Create(0xFFFF0000u);
            lo = (a & mask).AsSingle();
            hi = (b & mask).AsSingle();
        }
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadGate256(ref byte rows, int gate, out Vector256<float> lo, out Vector256<float> hi)
    {
        Vector256<short> words = Vector256.WidenLower(Vector128.LoadUnsafe(ref Unsafe.Add(ref Unsafe.As<byte, sbyte>(ref rows), gate * PanelWidth.Value)).ToVector256Unsafe());
        (Vector256<int> a, Vector256<int> b) = Vector256.Widen(words);
        lo = Vector256.ConvertToSingle(a);
        hi = Vector256.ConvertToSingle(b);
    }
}
