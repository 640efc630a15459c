using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using LstmKernels.Internal;

namespace LstmKernels;

public static partial class Kernels
{
    /// <summary>
    /// The pointwise stage of a training forward step: as <see cref="LstmPointwise"/>, and also writes the gate
    /// activations that the backward pass needs: <c>activations = [σ(z_i), σ(z_f), tanh(z_g), σ(z_o)]</c> per row.
    /// </summary>
    /// <param name="hiddenSize">H, the number of hidden units (at least 1).</param>
    /// <param name="gates">Pre-activations <c>[B, 4H]</c>, each row in gate order i, f, g, o.</param>
    /// <param name="cPrev">The previous cell state <c>[B, H]</c>.</param>
    /// <param name="activations">The gate activations <c>[B, 4H]</c> (i, f, g, o); may be the same memory as <paramref name="gates"/>.</param>
    /// <param name="h">The new hidden state <c>[B, H]</c>; must not overlap any other argument.</param>
    /// <param name="c">The new cell state <c>[B, H]</c>; may be the same memory as <paramref name="cPrev"/>.</param>
    /// <remarks>
    /// <c>c = f⊙cPrev + i⊙g; h = o⊙tanh(c)</c> with the same operations as <see cref="LstmPointwise"/>, so h and c are
    /// bitwise those of <see cref="LstmPointwise"/> on the same path. The activations are those of
    /// <see cref="Sigmoid"/> and <see cref="Tanh"/>.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="hiddenSize"/> is less than 1.</exception>
    /// <exception cref="ArgumentException">A length does not fit <c>[B, 4H]</c> / <c>[B, H]</c>, or outputs overlap where not allowed.</exception>
    public static void LstmPointwiseTraining(
        int hiddenSize, ReadOnlySpan<float> gates, ReadOnlySpan<float> cPrev, Span<float> activations, Span<float> h, Span<float> c)
    {
        CheckPointwiseTraining(hiddenSize, gates, cPrev, activations, h, c);
        LstmPointwiseTrainingUnchecked(hiddenSize, gates, cPrev, activations, h, c);
    }

    /// <summary><see cref="LstmPointwiseTraining"/> without its checks, for internal callers that checked their arguments once (the layers, the trainers).</summary>
    internal static void LstmPointwiseTrainingUnchecked(
        int hiddenSize, ReadOnlySpan<float> gates, ReadOnlySpan<float> cPrev, Span<float> activations, Span<float> h, Span<float> c)
    {
        Debug.Assert(hiddenSize > 0 && gates.Length == 4 * c.Length && activations.Length == gates.Length && h.Length == c.Length && cPrev.Length == c.Length);
        var action = new PointwiseTrainingAction { HiddenSize = hiddenSize, Gates = gates, CPrev = cPrev, Activations = activations, H = h, C = c };
        SimdDispatch.Run(ref action);
    }

    /// <summary>
    /// The backward pass of the pointwise stage, one fused loop: from the gradients of the new state
    /// (<paramref name="dh"/>, <paramref name="dc"/>) and the cached activations, the gradients of the gate
    /// pre-activations and of the previous cell state.
    /// </summary>
    /// <param name="hiddenSize">H, the number of hidden units (at least 1).</param>
    /// <param name="activations">The gate activations <c>[B, 4H]</c> (i, f, g, o) of the forward step (<see cref="LstmPointwiseTraining"/>).</param>
    /// <param name="cPrev">The previous cell state <c>[B, H]</c> of the forward step.</param>
    /// <param name="c">The new cell state <c>[B, H]</c> of the forward step.</param>
    /// <param name="dh">∂L/∂h of the new hidden state <c>[B, H]</c>.</param>
    /// <param name="dc">∂L/∂c of the new cell state <c>[B, H]</c> (from later steps; zeros at the last step).</param>
    /// <param name="dGates">∂L/∂z, the gradients of the pre-activations <c>[B, 4H]</c> (i, f, g, o); must not overlap any other argument.</param>
    /// <param name="dcPrev">∂L/∂cPrev <c>[B, H]</c>; may be the same memory as <paramref name="dc"/>.</param>
    /// <remarks>
    /// <para>With <c>τ = tanh(c)</c> and <c>δc = dc + dh⊙o⊙(1 − τ²)</c>:
    /// <c>dz_o = dh⊙τ⊙o⊙(1 − o)</c>, <c>dz_i = δc⊙g⊙i⊙(1 − i)</c>, <c>dz_f = δc⊙cPrev⊙f⊙(1 − f)</c>,
    /// <c>dz_g = δc⊙i⊙(1 − g²)</c>, <c>dcPrev = δc⊙f</c>. (The seed took <c>C_t</c> where <c>cPrev</c> belongs in
    /// dz_f and did not return dcPrev.)</para>
    /// <para>Each output is within 32·2⁻²⁴·(|dc| + |dh|)·(1 + |cPrev|) + 1e-37 of the exact value of the same float
    /// inputs (docs/training.md).</para>
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="hiddenSize"/> is less than 1.</exception>
    /// <exception cref="ArgumentException">A length does not fit <c>[B, 4H]</c> / <c>[B, H]</c>, or outputs overlap where not allowed.</exception>
    public static void LstmPointwiseBackward(
        int hiddenSize,
        ReadOnlySpan<float> activations,
        ReadOnlySpan<float> cPrev,
        ReadOnlySpan<float> c,
        ReadOnlySpan<float> dh,
        ReadOnlySpan<float> dc,
        Span<float> dGates,
        Span<float> dcPrev)
    {
        CheckPointwiseBackward(hiddenSize, activations, cPrev, c, dh, dc, dGates, dcPrev);
        LstmPointwiseBackwardUnchecked(hiddenSize, activations, cPrev, c, dh, dc, dGates, dcPrev);
    }

    /// <summary><see cref="LstmPointwiseBackward"/> without its checks, for internal callers that checked their arguments once (the layers, the trainers).</summary>
    internal static void LstmPointwiseBackwardUnchecked(
        int hiddenSize,
        ReadOnlySpan<float> activations,
        ReadOnlySpan<float> cPrev,
        ReadOnlySpan<float> c,
        ReadOnlySpan<float> dh,
        ReadOnlySpan<float> dc,
        Span<float> dGates,
        Span<float> dcPrev)
    {
        Debug.Assert(hiddenSize > 0 && activations.Length == 4 * c.Length && dGates.Length == activations.Length && dcPrev.Length == c.Length);
        var action = new PointwiseBackwardAction
        {
            HiddenSize = hiddenSize, Activations = activations, CPrev = cPrev, C = c, Dh = dh, Dc = dc, DGates = dGates, DcPrev = dcPrev,
        };
        SimdDispatch.Run(ref action);
    }

    // ------------------------------------------------------------------ checks (shared with the twins)

    internal static void CheckPointwiseTraining(
        int hiddenSize, ReadOnlySpan<float> gates, ReadOnlySpan<float> cPrev, Span<float> activations, Span<float> h, Span<float> c)
    {
        _ = ThrowHelper.GateRows(hiddenSize, gates.Length, nameof(gates), "rows of 4·hiddenSize pre-activations");

        long batchTimesH = gates.Length / 4;
        ThrowHelper.CheckLength(activations.Length, gates.Length, nameof(activations), "[B, 4H], one per pre-activation");
        ThrowHelper.CheckLength(cPrev.Length, batchTimesH, nameof(cPrev), "[B, H] with B from 'gates'");
        ThrowHelper.CheckLength(h.Length, batchTimesH, nameof(h), "[B, H] with B from 'gates'");
        ThrowHelper.CheckLength(c.Length, batchTimesH, nameof(c), "[B, H] with B from 'gates'");
        Aliasing.AllowExactOnly(activations, gates, nameof(activations), nameof(gates));
        Aliasing.Disjoint(activations, cPrev, nameof(activations), nameof(cPrev));
        Aliasing.Disjoint(h, gates, nameof(h), nameof(gates));
        Aliasing.Disjoint(h, activations, nameof(h), nameof(activations));
        Aliasing.Disjoint(h, cPrev, nameof(h), nameof(cPrev));
        Aliasing.Disjoint(h, c, nameof(h), nameof(c));
        Aliasing.Disjoint(c, gates, nameof(c), nameof(gates));
        Aliasing.Disjoint(c, activations, nameof(c), nameof(activations));
        Aliasing.AllowExactOnly(c, cPrev, nameof(c), nameof(cPrev));
    }

    internal static void CheckPointwiseBackward(
        int hiddenSize,
        ReadOnlySpan<float> activations,
        ReadOnlySpan<float> cPrev,
        ReadOnlySpan<float> c,
        ReadOnlySpan<float> dh,
        ReadOnlySpan<float> dc,
        Span<float> dGates,
        Span<float> dcPrev)
    {
        _ = ThrowHelper.GateRows(hiddenSize, activations.Length, nameof(activations), "rows of 4·hiddenSize activations");

        long batchTimesH = activations.Length / 4;
        const string State = "[B, H] with B from 'activations'";
        ThrowHelper.CheckLength(cPrev.Length, batchTimesH, nameof(cPrev), State);
        ThrowHelper.CheckLength(c.Length, batchTimesH, nameof(c), State);
        ThrowHelper.CheckLength(dh.Length, batchTimesH, nameof(dh), State);
        ThrowHelper.CheckLength(dc.Length, batchTimesH, nameof(dc), State);
        ThrowHelper.CheckLength(dGates.Length, activations.Length, nameof(dGates), "[B, 4H], one per activation");
        ThrowHelper.CheckLength(dcPrev.Length, batchTimesH, nameof(dcPrev), State);
        Aliasing.Disjoint(dGates, activations, nameof(dGates), nameof(activations));
        Aliasing.Disjoint(dGates, cPrev, nameof(dGates), nameof(cPrev));
        Aliasing.Disjoint(dGates, c, nameof(dGates), nameof(c));
        Aliasing.Disjoint(dGates, dh, nameof(dGates), nameof(dh));
        Aliasing.Disjoint(dGates, dc, nameof(dGates), nameof(dc));
        Aliasing.Disjoint(dGates, dcPrev, nameof(dGates), nameof(dcPrev));
        Aliasing.Disjoint(dcPrev, activations, nameof(dcPrev), nameof(activations));
        Aliasing.Disjoint(dcPrev, cPrev, nameof(dcPrev), nameof(cPrev));
        Aliasing.Disjoint(dcPrev, c, nameof(dcPrev), nameof(c));
        Aliasing.Disjoint(dcPrev, dh, nameof(dcPrev), nameof(dh));
        Aliasing.AllowExactOnly(dcPrev, dc, nameof(dcPrev), nameof(dc));
    }

    // ------------------------------------------------------------------ pointwise forward with cache

    private ref struct PointwiseTrainingAction : IPanelAction
    {
        public int HiddenSize;
        public ReadOnlySpan<float> Gates;
        public ReadOnlySpan<float> CPrev;
        public Span<float> Activations;
        public Span<float> H;
        public Span<float> C;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Run<TPanel, TP>()
            where TPanel : struct, IPanel<TP>
            where TP : struct => PointwiseTrainingCore<TPanel, TP>(HiddenSize, Gates, CPrev, Activations, H, C);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PointwiseTrainingPanel<TPanel, TP>(ref float z, int gateStride, ref float cPrev, ref float act, ref float h, ref float c)
        where TPanel : struct, IPanel<TP>
        where TP : struct
    {
        // The same operations, in the same order, as LstmPanel.Pointwise: h and c get the bits of LstmPointwise.
        TP i = TPanel.Sigmoid(TPanel.Load(ref z));
        TP f = TPanel.Sigmoid(TPanel.Load(ref Unsafe.Add(ref z, gateStride)));
        TP g = TPanel.Tanh(TPanel.Load(ref Unsafe.Add(ref z, 2 * gateStride)));
        TP o = TPanel.Sigmoid(TPanel.Load(ref Unsafe.Add(ref z, 3 * gateStride)));
        TP cv = TPanel.MultiplyAdd(f, TPanel.Load(ref cPrev), TPanel.Multiply(i, g));
        TPanel.Store(i, ref act);
        TPanel.Store(f, ref Unsafe.Add(ref act, gateStride));
        TPanel.Store(g, ref Unsafe.Add(ref act, 2 * gateStride));
        TPanel.Store(o, ref Unsafe.Add(ref act, 3 * gateStride));
        TPanel.Store(cv, ref c);
        TPanel.Store(TPanel.Multiply(o, TPanel.Tanh(cv)), ref h);
    }

    [SkipLocalsInit]
    private static void PointwiseTrainingCore<TPanel, TP>(
        int hiddenSize, ReadOnlySpan<float> gates, ReadOnlySpan<float> cPrev, Span<float> activations, Span<float> h, Span<float> c)
        where TPanel : struct, IPanel<TP>
        where TP : struct
    {
        const int W = PanelWidth.Value;
        int batch = cPrev.Length / hiddenSize;
        int full = hiddenSize - (hiddenSize % W);
        int rest = hiddenSize - full;

        // Tail slots: 4 gates and cPrev in (0..4); 4 activations, c and h out (5..10).
        var t = new PaddedTail(stackalloc float[11 * W]);
        for (int b = 0; b < batch; b++)
        {
            ref float rz = ref Unsafe.Add(ref MemoryMarshal.GetReference(gates), b * 4 * hiddenSize);
            ref float ra = ref Unsafe.Add(ref MemoryMarshal.GetReference(activations), b * 4 * hiddenSize);
            ref float rp = ref Unsafe.Add(ref MemoryMarshal.GetReference(cPrev), b * hiddenSize);
            ref float rh = ref Unsafe.Add(ref MemoryMarshal.GetReference(h), b * hiddenSize);
            ref float rc = ref Unsafe.Add(ref MemoryMarshal.GetReference(c), b * hiddenSize);
            for (int j = 0; j < full; j += W)
            {
                PointwiseTrainingPanel<TPanel, TP>(
                    ref Unsafe.Add(ref rz, j), hiddenSize, ref Unsafe.Add(ref rp, j), ref Unsafe.Add(ref ra, j), ref Unsafe.Add(ref rh, j), ref Unsafe.Add(ref rc, j));
            }

            if (rest > 0)
            {
                t.Clear();
                ReadOnlySpan<float> z = gates.Slice(b * 4 * hiddenSize, 4 * hiddenSize);
                for (int gate = 0; gate < 4; gate++)
                {
                    t.Gather(gate, z.Slice((gate * hiddenSize) + full, rest));
                }

                t.Gather(4, cPrev.Slice((b * hiddenSize) + full, rest));
                PointwiseTrainingPanel<TPanel, TP>(ref t[0], W, ref t[4], ref t[5], ref t[10], ref t[9]);
                Span<float> a = activations.Slice(b * 4 * hiddenSize, 4 * hiddenSize);
                for (int gate = 0; gate < 4; gate++)
                {
                    t.Scatter(5 + gate, a.Slice((gate * hiddenSize) + full, rest));
                }

                t.Scatter(9, c.Slice((b * hiddenSize) + full, rest));
                t.Scatter(10, h.Slice((b * hiddenSize) + full, rest));
            }
        }
    }

    // ------------------------------------------------------------------ pointwise backward

    private ref struct PointwiseBackwardAction : IPanelAction
    {
        public int HiddenSize;
        public ReadOnlySpan<float> Activations;
        public ReadOnlySpan<float> CPrev;
        public ReadOnlySpan<float> C;
        public ReadOnlySpan<float> Dh;
        public ReadOnlySpan<float> Dc;
        public Span<float> DGates;
        public Span<float> DcPrev;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Run<TPanel, TP>()
            where TPanel : struct, IPanel<TP>
            where TP : struct => PointwiseBackwardCore<TPanel, TP>(HiddenSize, Activations, CPrev, C, Dh, Dc, DGates, DcPrev);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PointwiseBackwardPanel<TPanel, TP>(
        ref float act, int gateStride, ref float cPrev, ref float c, ref float dh, ref float dc, ref float dz, ref float dcPrev)
        where TPanel : struct, IPanel<TP>
        where TP : struct
    {
        TP one = TPanel.Broadcast(1f);
        TP minusOne = TPanel.Broadcast(-1f);
        TP i = TPanel.Load(ref act);
        TP f = TPanel.Load(ref Unsafe.Add(ref act, gateStride));
        TP g = TPanel.Load(ref Unsafe.Add(ref act, 2 * gateStride));
        TP o = TPanel.Load(ref Unsafe.Add(ref act, 3 * gateStride));
        TP cp = TPanel.Load(ref cPrev);
        TP dhv = TPanel.Load(ref dh);
        TP tc = TPanel.Tanh(TPanel.Load(ref c));

        // 1 − x as fma(x, −1, 1): exact for x in [0.5, 1] (Sterbenz), one rounding otherwise.
        TP oneMinusO = TPanel.MultiplyAdd(o, minusOne, one);
        TP oneMinusTc2 = TPanel.MultiplyAdd(TPanel.Multiply(tc, minusOne), tc, one);
        TP dct = TPanel.MultiplyAdd(TPanel.Multiply(dhv, o), oneMinusTc2, TPanel.Load(ref dc));
        TP dzo = TPanel.Multiply(TPanel.Multiply(dhv, tc), TPanel.Multiply(o, oneMinusO));
        TP dzi = TPanel.Multiply(TPanel.Multiply(dct, g), TPanel.Multiply(i, TPanel.MultiplyAdd(i, minusOne, one)));
        TP dzf = TPanel.Multiply(TPanel.Multiply(dct, cp), TPanel.Multiply(f, TPanel.MultiplyAdd(f, minusOne, one)));
        TP dzg = TPanel.Multiply(TPanel.Multiply(dct, i), TPanel.MultiplyAdd(TPanel.Multiply(g, minusOne), g, one));
        TPanel.Store(dzi, ref dz);
        TPanel.Store(dzf, ref Unsafe.Add(ref dz, gateStride));
        TPanel.Store(dzg, ref Unsafe.Add(ref dz, 2 * gateStride));
        TPanel.Store(dzo, ref Unsafe.Add(ref dz, 3 * gateStride));
        TPanel.Store(TPanel.Multiply(dct, f), ref dcPrev);
    }

    [SkipLocalsInit]
    private static void PointwiseBackwardCore<TPanel, TP>(
        int hiddenSize,
        ReadOnlySpan<float> activations,
        ReadOnlySpan<float> cPrev,
        ReadOnlySpan<float> c,
        ReadOnlySpan<float> dh,
        ReadOnlySpan<float> dc,
        Span<float> dGates,
        Span<float> dcPrev)
        where TPanel : struct, IPanel<TP>
        where TP : struct
    {
        const int W = PanelWidth.Value;
        int batch = cPrev.Length / hiddenSize;
        int full = hiddenSize - (hiddenSize % W);
        int rest = hiddenSize - full;

        // Tail slots: 4 activations, cPrev, c, dh, dc in (0..7); 4 dz and dcPrev out (8..12).
        var t = new PaddedTail(stackalloc float[13 * W]);
        for (int b = 0; b < batch; b++)
        {
            int g4 = b * 4 * hiddenSize;
            int s = b * hiddenSize;
            ref float ra = ref Unsafe.Add(ref MemoryMarshal.GetReference(activations), g4);
            ref float rz = ref Unsafe.Add(ref MemoryMarshal.GetReference(dGates), g4);
            ref float rp = ref Unsafe.Add(ref MemoryMarshal.GetReference(cPrev), s);
            ref float rc = ref Unsafe.Add(ref MemoryMarshal.GetReference(c), s);
            ref float rdh = ref Unsafe.Add(ref MemoryMarshal.GetReference(dh), s);
            ref float rdc = ref Unsafe.Add(ref MemoryMarshal.GetReference(dc), s);
            ref float rdp = ref Unsafe.Add(ref MemoryMarshal.GetReference(dcPrev), s);
            for (int j = 0; j < full; j += W)
            {
                PointwiseBackwardPanel<TPanel, TP>(
                    ref Unsafe.Add(ref ra, j),
                    hiddenSize,
                    ref Unsafe.Add(ref rp, j),
                    ref Unsafe.Add(ref rc, j),
                    ref Unsafe.Add(ref rdh, j),
                    ref Unsafe.Add(ref rdc, j),
                    ref Unsafe.Add(ref rz, j),
                    ref Unsafe.Add(ref rdp, j));
            }

            if (rest > 0)
            {
                t.Clear();
                ReadOnlySpan<float> a = activations.Slice(g4, 4 * hiddenSize);
                for (int gate = 0; gate < 4; gate++)
                {
                    t.Gather(gate, a.Slice((gate * hiddenSize) + full, rest));
                }

                t.Gather(4, cPrev.Slice(s + full, rest));
                t.Gather(5, c.Slice(s + full, rest));
                t.Gather(6, dh.Slice(s + full, rest));
                t.Gather(7, dc.Slice(s + full, rest));
                PointwiseBackwardPanel<TPanel, TP>(ref t[0], W, ref t[4], ref t[5], ref t[6], ref t[7], ref t[8], ref t[12]);
                Span<float> z = dGates.Slice(g4, 4 * hiddenSize);
                for (int gate = 0; gate < 4; gate++)
                {
                    t.Scatter(8 + gate, z.Slice((gate * hiddenSize) + full, rest));
                }

                t.Scatter(12, dcPrev.Slice(s + full, rest));
            }
        }
    }
}
