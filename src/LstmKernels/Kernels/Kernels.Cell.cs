using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
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
        switch (ActivePath)
        {
            case SimdPath.Vector512: CellUpdateCore<Panel512, Vector512<float>>(forgetGate, cPrev, inputGate, candidate, c); break;
            case SimdPath.Vector256: CellUpdateCore<Panel256, Pair256>(forgetGate, cPrev, inputGate, candidate, c); break;
            case SimdPath.Vector128: CellUpdateCore<Panel128, Quad128>(forgetGate, cPrev, inputGate, candidate, c); break;
            default: CellUpdateCore<PanelScalar, Scalar16>(forgetGate, cPrev, inputGate, candidate, c); break;
        }
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
        switch (ActivePath)
        {
            case SimdPath.Vector512: HiddenUpdateCore<Panel512, Vector512<float>>(outputGate, c, h); break;
            case SimdPath.Vector256: HiddenUpdateCore<Panel256, Pair256>(outputGate, c, h); break;
            case SimdPath.Vector128: HiddenUpdateCore<Panel128, Quad128>(outputGate, c, h); break;
            default: HiddenUpdateCore<PanelScalar, Scalar16>(outputGate, c, h); break;
        }
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
        switch (ActivePath)
        {
            case SimdPath.Vector512: PointwiseCore<Panel512, Vector512<float>>(hiddenSize, gates, cPrev, h, c); break;
            case SimdPath.Vector256: PointwiseCore<Panel256, Pair256>(hiddenSize, gates, cPrev, h, c); break;
            case SimdPath.Vector128: PointwiseCore<Panel128, Quad128>(hiddenSize, gates, cPrev, h, c); break;
            default: PointwiseCore<PanelScalar, Scalar16>(hiddenSize, gates, cPrev, h, c); break;
        }
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
            Span<float> t = stackalloc float[4 * W];
            t.Clear();
            f[k..].CopyTo(t);
            cPrev[k..].CopyTo(t[W..]);
            i[k..].CopyTo(t[(2 * W)..]);
            g[k..].CopyTo(t[(3 * W)..]);
            CellUpdateCore<TPanel, TP>(t[..W], t.Slice(W, W), t.Slice(2 * W, W), t.Slice(3 * W, W), t[..W]);
            t[..(n - k)].CopyTo(c[k..]);
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
            Span<float> t = stackalloc float[2 * W];
            t.Clear();
            o[k..].CopyTo(t);
            c[k..].CopyTo(t[W..]);
            HiddenUpdateCore<TPanel, TP>(t[..W], t[W..], t[..W]);
            t[..(n - k)].CopyTo(h[k..]);
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
        Span<float> t = stackalloc float[7 * W];
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
                t.Clear();
                for (int gate = 0; gate < 4; gate++)
                {
                    z.Slice((gate * hiddenSize) + full, rest).CopyTo(t[(gate * W)..]);
                }

                cp[full..].CopyTo(t[(4 * W)..]);
                ref float rt = ref MemoryMarshal.GetReference(t);
                TP cv = LstmPanel.Pointwise<TPanel, TP>(
                    TPanel.Load(ref rt),
                    TPanel.Load(ref Unsafe.Add(ref rt, W)),
                    TPanel.Load(ref Unsafe.Add(ref rt, 2 * W)),
                    TPanel.Load(ref Unsafe.Add(ref rt, 3 * W)),
                    TPanel.Load(ref Unsafe.Add(ref rt, 4 * W)),
                    out TP hv);
                TPanel.Store(cv, ref Unsafe.Add(ref rt, 5 * W));
                TPanel.Store(hv, ref Unsafe.Add(ref rt, 6 * W));
                t.Slice(5 * W, rest).CopyTo(cb[full..]);
                t.Slice(6 * W, rest).CopyTo(hb[full..]);
            }
        }
    }
}
