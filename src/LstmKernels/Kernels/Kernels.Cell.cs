using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using LstmKernels.Internal;

namespace LstmKernels;

public static partial class Kernels
{
    /// <summary>Cell-state update: <c>c[k] = forgetGate[k]·cPrev[k] + inputGate[k]·candidate[k]</c>.</summary>
    /// <param name="forgetGate">f, the forget gate after its sigmoid.</param>
    /// <param name="cPrev">The previous cell state.</param>
    /// <param name="inputGate">i, the input gate after its sigmoid.</param>
    /// <param name="candidate">g, the candidate cell value after its tanh.</param>
    /// <param name="c">The new cell state; may be the same memory as any one input (in place).</param>
    /// <remarks>
    /// Computed as <c>fma(f, cPrev, i·g)</c>: at most 2·2⁻²⁴·(|f·cPrev| + |i·g|) + 1e-44 from the exact value (the
    /// absolute term covers results in the subnormal range, where a rounding step is 2⁻¹⁴⁹).
    /// </remarks>
    /// <exception cref="ArgumentException">The lengths differ, or <paramref name="c"/> partially overlaps an input.</exception>
    public static void CellUpdate(
        ReadOnlySpan<float> forgetGate, ReadOnlySpan<float> cPrev, ReadOnlySpan<float> inputGate, ReadOnlySpan<float> candidate, Span<float> c)
    {
        CheckCellUpdate(forgetGate, cPrev, inputGate, candidate, c);
        CellUpdateUnchecked(forgetGate, cPrev, inputGate, candidate, c);
    }

    /// <summary><see cref="CellUpdate"/> without its checks, for internal callers that checked their arguments once (the layers, the trainers).</summary>
    internal static void CellUpdateUnchecked(
        ReadOnlySpan<float> forgetGate, ReadOnlySpan<float> cPrev, ReadOnlySpan<float> inputGate, ReadOnlySpan<float> candidate, Span<float> c)
    {
        Debug.Assert(forgetGate.Length == c.Length && cPrev.Length == c.Length && inputGate.Length == c.Length && candidate.Length == c.Length);
        var action = new CellUpdateAction { F = forgetGate, CPrev = cPrev, I = inputGate, G = candidate, C = c };
        SimdDispatch.Run(ref action);
    }

    /// <summary>Hidden-state update: <c>h[k] = outputGate[k]·tanh(c[k])</c>.</summary>
    /// <param name="outputGate">o, the output gate after its sigmoid.</param>
    /// <param name="c">The new cell state.</param>
    /// <param name="h">The new hidden state; may be the same memory as either input (in place).</param>
    /// <remarks>tanh as in <see cref="Tanh"/>; at most 1e-38 + 6·2⁻²⁴·|o·tanh(c)| from the exact value.</remarks>
    /// <exception cref="ArgumentException">The lengths differ, or <paramref name="h"/> partially overlaps an input.</exception>
    public static void HiddenUpdate(ReadOnlySpan<float> outputGate, ReadOnlySpan<float> c, Span<float> h)
    {
        CheckHiddenUpdate(outputGate, c, h);
        HiddenUpdateUnchecked(outputGate, c, h);
    }

    /// <summary><see cref="HiddenUpdate"/> without its checks, for internal callers that checked their arguments once (the layers, the trainers).</summary>
    internal static void HiddenUpdateUnchecked(ReadOnlySpan<float> outputGate, ReadOnlySpan<float> c, Span<float> h)
    {
        Debug.Assert(outputGate.Length == h.Length && c.Length == h.Length);
        var action = new HiddenUpdateAction { O = outputGate, C = c, H = h };
        SimdDispatch.Run(ref action);
    }

    /// <summary>
    /// The whole pointwise stage of a step, from gate pre-activations to the new state, in one pass:
    /// <c>i, f, o = σ(z_i, z_f, z_o); g = tanh(z_g); c = f⊙cPrev + i⊙g; h = o⊙tanh(c)</c>.
    /// </summary>
    /// <param name="hiddenSize">H, the number of hidden units (at least 1).</param>
    /// <param name="gates">Pre-activations <c>[B, 4H]</c>, each row in gate order i, f, g, o.</param>
    /// <param name="cPrev">The previous cell state <c>[B, H]</c>.</param>
    /// <param name="h">The new hidden state <c>[B, H]</c>; must not overlap any other argument.</param>
    /// <param name="c">The new cell state <c>[B, H]</c>; may be the same memory as <paramref name="cPrev"/>.</param>
    /// <remarks>The activations are those of <see cref="Sigmoid"/> and <see cref="Tanh"/>; bounds in docs/kernels.md.</remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="hiddenSize"/> is less than 1.</exception>
    /// <exception cref="ArgumentException">A length does not fit <c>[B, 4H]</c> / <c>[B, H]</c>, or outputs overlap where not allowed.</exception>
    public static void LstmPointwise(int hiddenSize, ReadOnlySpan<float> gates, ReadOnlySpan<float> cPrev, Span<float> h, Span<float> c)
    {
        CheckPointwise(hiddenSize, gates, cPrev, h, c);
        var action = new PointwiseAction { HiddenSize = hiddenSize, Gates = gates, CPrev = cPrev, H = h, C = c };
        SimdDispatch.Run(ref action);
    }

    internal static void CheckCellUpdate(
        ReadOnlySpan<float> forgetGate, ReadOnlySpan<float> cPrev, ReadOnlySpan<float> inputGate, ReadOnlySpan<float> candidate, Span<float> c)
    {
        // When the inputs agree among themselves the output is the odd one out; otherwise the first input that
        // differs from the output is named.
        int n = c.Length;
        if (forgetGate.Length != n && cPrev.Length == forgetGate.Length && inputGate.Length == forgetGate.Length && candidate.Length == forgetGate.Length)
        {
            ThrowHelper.LengthMismatch(nameof(c), n, forgetGate.Length, "one per element of the inputs");
        }

        ThrowHelper.CheckLength(forgetGate.Length, n, nameof(forgetGate), "one per element of 'c'");
        ThrowHelper.CheckLength(cPrev.Length, n, nameof(cPrev), "one per element of 'c'");
        ThrowHelper.CheckLength(inputGate.Length, n, nameof(inputGate), "one per element of 'c'");
        ThrowHelper.CheckLength(candidate.Length, n, nameof(candidate), "one per element of 'c'");
        Aliasing.AllowExactOnly(c, forgetGate, nameof(c), nameof(forgetGate));
        Aliasing.AllowExactOnly(c, cPrev, nameof(c), nameof(cPrev));
        Aliasing.AllowExactOnly(c, inputGate, nameof(c), nameof(inputGate));
        Aliasing.AllowExactOnly(c, candidate, nameof(c), nameof(candidate));
    }

    internal static void CheckHiddenUpdate(ReadOnlySpan<float> outputGate, ReadOnlySpan<float> c, Span<float> h)
    {
        int n = h.Length;
        if (outputGate.Length != n && c.Length == outputGate.Length)
        {
            ThrowHelper.LengthMismatch(nameof(h), n, outputGate.Length, "one per element of the inputs");
        }

        ThrowHelper.CheckLength(outputGate.Length, n, nameof(outputGate), "one per element of 'h'");
        ThrowHelper.CheckLength(c.Length, n, nameof(c), "one per element of 'h'");
        Aliasing.AllowExactOnly(h, outputGate, nameof(h), nameof(outputGate));
        Aliasing.AllowExactOnly(h, c, nameof(h), nameof(c));
    }

    internal static void CheckPointwise(int hiddenSize, ReadOnlySpan<float> gates, ReadOnlySpan<float> cPrev, Span<float> h, Span<float> c)
    {
        _ = ThrowHelper.GateRows(hiddenSize, gates.Length, nameof(gates), "rows of 4·hiddenSize pre-activations");

        long batchTimesH = gates.Length / 4;
        ThrowHelper.CheckLength(cPrev.Length, batchTimesH, nameof(cPrev), "[B, H] with B from 'gates'");
        ThrowHelper.CheckLength(h.Length, batchTimesH, nameof(h), "[B, H] with B from 'gates'");
        ThrowHelper.CheckLength(c.Length, batchTimesH, nameof(c), "[B, H] with B from 'gates'");
        Aliasing.Disjoint(h, gates, nameof(h), nameof(gates));
        Aliasing.Disjoint(h, cPrev, nameof(h), nameof(cPrev));
        Aliasing.Disjoint(h, c, nameof(h), nameof(c));
        Aliasing.Disjoint(c, gates, nameof(c), nameof(gates));
        Aliasing.AllowExactOnly(c, cPrev, nameof(c), nameof(cPrev));
    }

    private ref struct CellUpdateAction : IPanelAction
    {
        public ReadOnlySpan<float> F;
        public ReadOnlySpan<float> CPrev;
        public ReadOnlySpan<float> I;
        public ReadOnlySpan<float> G;
        public Span<float> C;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Run<TPanel, TP>()
            where TPanel : struct, IPanel<TP>
            where TP : struct => CellUpdateCore<TPanel, TP>(F, CPrev, I, G, C);
    }

    private ref struct HiddenUpdateAction : IPanelAction
    {
        public ReadOnlySpan<float> O;
        public ReadOnlySpan<float> C;
        public Span<float> H;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Run<TPanel, TP>()
            where TPanel : struct, IPanel<TP>
            where TP : struct => HiddenUpdateCore<TPanel, TP>(O, C, H);
    }

    private ref struct PointwiseAction : IPanelAction
    {
        public int HiddenSize;
        public ReadOnlySpan<float> Gates;
        public ReadOnlySpan<float> CPrev;
        public Span<float> H;
        public Span<float> C;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Run<TPanel, TP>()
            where TPanel : struct, IPanel<TP>
            where TP : struct => PointwiseCore<TPanel, TP>(HiddenSize, Gates, CPrev, H, C);
    }

    [SkipLocalsInit]
    private static void CellUpdateCore<TPanel, TP>(
        ReadOnlySpan<float> f, ReadOnlySpan<float> cPrev, ReadOnlySpan<float> i, ReadOnlySpan<float> g, Span<float> c)
        where TPanel : struct, IPanel<TP>
        where TP : struct
    {
        const int W = PanelWidth.Value;
        ref float rf = ref MemoryMarshal.GetReference(f);
        ref float rp = ref MemoryMarshal.GetReference(cPrev);
        ref float ri = ref MemoryMarshal.GetReference(i);
        ref float rg = ref MemoryMarshal.GetReference(g);
        ref float rc = ref MemoryMarshal.GetReference(c);
        int n = c.Length;
        int k = 0;
        for (; k <= n - W; k += W)
        {
            TP product = TPanel.Multiply(TPanel.Load(ref Unsafe.Add(ref ri, k)), TPanel.Load(ref Unsafe.Add(ref rg, k)));
            TPanel.Store(TPanel.MultiplyAdd(TPanel.Load(ref Unsafe.Add(ref rf, k)), TPanel.Load(ref Unsafe.Add(ref rp, k)), product), ref Unsafe.Add(ref rc, k));
        }

        if (k < n)
        {
            var t = new PaddedTail(stackalloc float[4 * W]);
            t.Gather(0, f[k..]);
            t.Gather(1, cPrev[k..]);
            t.Gather(2, i[k..]);
            t.Gather(3, g[k..]);
            CellUpdateCore<TPanel, TP>(t.Slot(0), t.Slot(1), t.Slot(2), t.Slot(3), t.Slot(0));
            t.Scatter(0, c[k..]);
        }
    }

    [SkipLocalsInit]
    private static void HiddenUpdateCore<TPanel, TP>(ReadOnlySpan<float> o, ReadOnlySpan<float> c, Span<float> h)
        where TPanel : struct, IPanel<TP>
        where TP : struct
    {
        const int W = PanelWidth.Value;
        ref float ro = ref MemoryMarshal.GetReference(o);
        ref float rc = ref MemoryMarshal.GetReference(c);
        ref float rh = ref MemoryMarshal.GetReference(h);
        int n = h.Length;
        int k = 0;
        for (; k <= n - W; k += W)
        {
            TP value = TPanel.Multiply(TPanel.Load(ref Unsafe.Add(ref ro, k)), TPanel.Tanh(TPanel.Load(ref Unsafe.Add(ref rc, k))));
            TPanel.Store(value, ref Unsafe.Add(ref rh, k));
        }

        if (k < n)
        {
            var t = new PaddedTail(stackalloc float[2 * W]);
            t.Gather(0, o[k..]);
            t.Gather(1, c[k..]);
            HiddenUpdateCore<TPanel, TP>(t.Slot(0), t.Slot(1), t.Slot(0));
            t.Scatter(0, h[k..]);
        }
    }

    [SkipLocalsInit]
    private static void PointwiseCore<TPanel, TP>(int hiddenSize, ReadOnlySpan<float> gates, ReadOnlySpan<float> cPrev, Span<float> h, Span<float> c)
        where TPanel : struct, IPanel<TP>
        where TP : struct
    {
        const int W = PanelWidth.Value;
        int batch = cPrev.Length / hiddenSize;
        int full = hiddenSize - (hiddenSize % W);
        var t = new PaddedTail(stackalloc float[7 * W]);
        for (int b = 0; b < batch; b++)
        {
            ReadOnlySpan<float> z = gates.Slice(b * 4 * hiddenSize, 4 * hiddenSize);
            ReadOnlySpan<float> cp = cPrev.Slice(b * hiddenSize, hiddenSize);
            Span<float> hb = h.Slice(b * hiddenSize, hiddenSize);
            Span<float> cb = c.Slice(b * hiddenSize, hiddenSize);
            ref float rz = ref MemoryMarshal.GetReference(z);
            ref float rp = ref MemoryMarshal.GetReference(cp);
            ref float rh = ref MemoryMarshal.GetReference(hb);
            ref float rc = ref MemoryMarshal.GetReference(cb);
            for (int j = 0; j < full; j += W)
            {
                TP cv = LstmPanel.Pointwise<TPanel, TP>(
                    TPanel.Load(ref Unsafe.Add(ref rz, j)),
                    TPanel.Load(ref Unsafe.Add(ref rz, hiddenSize + j)),
                    TPanel.Load(ref Unsafe.Add(ref rz, (2 * hiddenSize) + j)),
                    TPanel.Load(ref Unsafe.Add(ref rz, (3 * hiddenSize) + j)),
                    TPanel.Load(ref Unsafe.Add(ref rp, j)),
                    out TP hv);
                TPanel.Store(cv, ref Unsafe.Add(ref rc, j));
                TPanel.Store(hv, ref Unsafe.Add(ref rh, j));
            }

            int rest = hiddenSize - full;
            if (rest > 0)
            {
                // Slots: 4 gates and cPrev in, c and h out.
                t.Clear();
                for (int gate = 0; gate < 4; gate++)
                {
                    t.Gather(gate, z.Slice((gate * hiddenSize) + full, rest));
                }

                t.Gather(4, cp[full..]);
                TP cv = LstmPanel.Pointwise<TPanel, TP>(
                    TPanel.Load(ref t[0]), TPanel.Load(ref t[1]), TPanel.Load(ref t[2]), TPanel.Load(ref t[3]), TPanel.Load(ref t[4]), out TP hv);
                TPanel.Store(cv, ref t[5]);
                TPanel.Store(hv, ref t[6]);
                t.Scatter(5, cb[full..]);
                t.Scatter(6, hb[full..]);
            }
        }
    }
}
