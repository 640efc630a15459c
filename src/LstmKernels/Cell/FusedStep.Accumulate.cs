using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace LstmKernels.Internal;

/// <summary>The accumulation loops of the fused step: one row, four rows on one-vector panels, four rows gate by gate on two-vector (Vector256) panels.</summary>
internal static partial class FusedStep<TPanel, TP, TFormat>
    where TPanel : struct, IPanel<TP>
    where TP : struct
    where TFormat : struct, IWeightFormat
{
    /// <summary>
    /// <c>z[0..64) = init[0..64) + scale ⊙ Σⱼ v[j]·rows[j]</c> (no scale unless int8) for one batch row: the four
    /// gates (i, f, g, o) of one panel, over K weight rows of 64 weights.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Accumulate1(ref float init, ref float scale, ref byte rows, ref float v, int k, ref float z)
    {
        // Unscaled formats start from the initial values; int8 sums from zero and scales at the end.
        TP ai, af, ag, ao;
        if (TFormat.Scaled)
        {
            ai = af = ag = ao = TPanel.Broadcast(0f);
        }
        else
        {
            ai = TPanel.Load(ref init);
            af = TPanel.Load(ref Unsafe.Add(ref init, W));
            ag = TPanel.Load(ref Unsafe.Add(ref init, 2 * W));
            ao = TPanel.Load(ref Unsafe.Add(ref init, 3 * W));
        }

        // Rows are walked by moving references, not by index: each load then addresses memory directly and folds into
        // its FMA, and the loop carries no index arithmetic.
        int stride = Row * TFormat.Bytes;

        // One chain per gate, summed in input order: the same arithmetic as each row of Accumulate4, so a batch row
        // gets the bits it would get alone (the stream batcher relies on it). Splitting the rows over two accumulator
        // sets would give 8 chains, measured 10% faster only where the weights sit in L1 (32x32), not from 32x64 up.
        for (int j = 0; j < k; j++)
        {
            TP s = TPanel.Broadcast(v);
            TFormat.LoadRow<TPanel, TP>(ref rows, 0, out TP wi, out TP wf, out TP wg, out TP wo);
            ai = TPanel.MultiplyAdd(s, wi, ai);
            af = TPanel.MultiplyAdd(s, wf, af);
            ag = TPanel.MultiplyAdd(s, wg, ag);
            ao = TPanel.MultiplyAdd(s, wo, ao);
            v = ref Unsafe.Add(ref v, 1);
            rows = ref Unsafe.Add(ref rows, stride);
        }

        Store4(ai, af, ag, ao, ref init, ref scale, ref z);
    }

    /// <summary>
    /// <see cref="Accumulate1"/> for four batch rows at once (v rows K apart, init rows <paramref name="initStride"/>
    /// apart, z rows <paramref name="zStride"/> apart): each weight vector is loaded once for four rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe void Accumulate4<TAhead>(ref float init, int initStride, ref float scale, ref byte rows, ref float v, int vStride, int k, ref float z, int zStride, ref byte ahead)
        where TAhead : struct, IPrefetch
    {
        ref float init1 = ref Unsafe.Add(ref init, initStride);
        ref float init2 = ref Unsafe.Add(ref init, 2 * initStride);
        ref float init3 = ref Unsafe.Add(ref init, 3 * initStride);
        TP i0, f0, g0, o0, i1, f1, g1, o1, i2, f2, g2, o2, i3, f3, g3, o3;
        if (TFormat.Scaled)
        {
            i0 = f0 = g0 = o0 = i1 = f1 = g1 = o1 = i2 = f2 = g2 = o2 = i3 = f3 = g3 = o3 = TPanel.Broadcast(0f);
        }
        else
        {
            i0 = TPanel.Load(ref init);
            f0 = TPanel.Load(ref Unsafe.Add(ref init, W));
            g0 = TPanel.Load(ref Unsafe.Add(ref init, 2 * W));
            o0 = TPanel.Load(ref Unsafe.Add(ref init, 3 * W));
            i1 = TPanel.Load(ref init1);
            f1 = TPanel.Load(ref Unsafe.Add(ref init1, W));
            g1 = TPanel.Load(ref Unsafe.Add(ref init1, 2 * W));
            o1 = TPanel.Load(ref Unsafe.Add(ref init1, 3 * W));
            i2 = TPanel.Load(ref init2);
            f2 = TPanel.Load(ref Unsafe.Add(ref init2, W));
            g2 = TPanel.Load(ref Unsafe.Add(ref init2, 2 * W));
            o2 = TPanel.Load(ref Unsafe.Add(ref init2, 3 * W));
            i3 = TPanel.Load(ref init3);
            f3 = TPanel.Load(ref Unsafe.Add(ref init3, W));
            g3 = TPanel.Load(ref Unsafe.Add(ref init3, 2 * W));
            o3 = TPanel.Load(ref Unsafe.Add(ref init3, 3 * W));
        }

        ref float v1 = ref Unsafe.Add(ref v, vStride);
        ref float v2 = ref Unsafe.Add(ref v, 2 * vStride);
        ref float v3 = ref Unsafe.Add(ref v, 3 * vStride);
        for (int j = 0; j < k; j++)
        {
            Prefetch<TAhead>(ref ahead, j);

            TFormat.LoadRow<TPanel, TP>(ref rows, j * Row, out TP wi, out TP wf, out TP wg, out TP wo);
            TP s = TPanel.Broadcast(Unsafe.Add(ref v, j));
            i0 = TPanel.MultiplyAdd(s, wi, i0);
            f0 = TPanel.MultiplyAdd(s, wf, f0);
            g0 = TPanel.MultiplyAdd(s, wg, g0);
            o0 = TPanel.MultiplyAdd(s, wo, o0);
            s = TPanel.Broadcast(Unsafe.Add(ref v1, j));
            i1 = TPanel.MultiplyAdd(s, wi, i1);
            f1 = TPanel.MultiplyAdd(s, wf, f1);
            g1 = TPanel.MultiplyAdd(s, wg, g1);
            o1 = TPanel.MultiplyAdd(s, wo, o1);
            s = TPanel.Broadcast(Unsafe.Add(ref v2, j));
            i2 = TPanel.MultiplyAdd(s, wi, i2);
            f2 = TPanel.MultiplyAdd(s, wf, f2);
            g2 = TPanel.MultiplyAdd(s, wg, g2);
            o2 = TPanel.MultiplyAdd(s, wo, o2);
            s = TPanel.Broadcast(Unsafe.Add(ref v3, j));
            i3 = TPanel.MultiplyAdd(s, wi, i3);
            f3 = TPanel.MultiplyAdd(s, wf, f3);
            g3 = TPanel.MultiplyAdd(s, wg, g3);
            o3 = TPanel.MultiplyAdd(s, wo, o3);
        }

        Store4(i0, f0, g0, o0, ref init, ref scale, ref z);
        Store4(i1, f1, g1, o1, ref init1, ref scale, ref Unsafe.Add(ref z, zStride));
        Store4(i2, f2, g2, o2, ref init2, ref scale, ref Unsafe.Add(ref z, 2 * zStride));
        Store4(i3, f3, g3, o3, ref init3, ref scale, ref Unsafe.Add(ref z, 3 * zStride));
    }

    /// <summary>
    /// Iteration <paramref name="j"/>'s prefetch with <see cref="FetchLine"/>: line j from <paramref name="ahead"/> on
    /// into the L2 (a hint: it never faults; the weights it points into are pinned).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Prefetch<TAhead>(ref byte ahead, int j)
        where TAhead : struct, IPrefetch
    {
        if (TAhead.On && Sse.IsSupported)
        {
            Sse.Prefetch1(Unsafe.AsPointer(ref Unsafe.Add(ref ahead, j * 64)));
        }
    }

    /// <summary>Four batch rows at once: <see cref="Accumulate4{TAhead}"/> on one-vector panels, <see cref="Accumulate4Gates256"/> on two-vector ones.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Accumulate4Tile<TAhead>(ref float init, int initStride, ref float scale, ref byte rows, ref float v, int vStride, int k, ref float z, int zStride, ref byte ahead)
        where TAhead : struct, IPrefetch
    {
        Debug.Assert(TPanel.Vectors <= 2);
        if (TPanel.Vectors == 1)
        {
            Accumulate4<TAhead>(ref init, initStride, ref scale, ref rows, ref v, vStride, k, ref z, zStride, ref ahead);
        }
        else
        {
            Accumulate4Gates256(ref init, initStride, ref scale, ref rows, ref v, vStride, k, ref z, zStride);
        }
    }

    /// <summary>
    /// <see cref="Accumulate4{TAhead}"/> for the Vector256 path, where a panel is two vectors and 16 accumulators would be all
    /// of AVX2's 16 registers: the four batch rows go through the panel once per gate, 8 accumulators each time (four
    /// rows × the gate's two halves), so that each loaded weight vector still feeds four FMAs. Each pass reads one
    /// 64-byte line per float32 row; sums are taken in the same order as <see cref="Accumulate1"/>'s on this path.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Accumulate4Gates256(ref float init, int initStride, ref float scale, ref byte rows, ref float v, int vStride, int k, ref float z, int zStride)
    {
        // One call per gate with a constant gate: each inlined copy loads its own gate with no branch in the loop.
        AccumulateGate256(ref init, initStride, ref scale, ref rows, ref v, vStride, k, ref z, zStride, 0);
        AccumulateGate256(ref init, initStride, ref scale, ref rows, ref v, vStride, k, ref z, zStride, 1);
        AccumulateGate256(ref init, initStride, ref scale, ref rows, ref v, vStride, k, ref z, zStride, 2);
        AccumulateGate256(ref init, initStride, ref scale, ref rows, ref v, vStride, k, ref z, zStride, 3);
    }

    /// <summary>One gate of <see cref="Accumulate4Gates256"/>: <c>z[r][gate] = init[r][gate] + scale ⊙ Σⱼ v[r][j]·rows[j][gate]</c> for four rows r.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AccumulateGate256(ref float init, int initStride, ref float scale, ref byte rows, ref float v, int vStride, int k, ref float z, int zStride, int gate)
    {
        const int Half = 8;
        int lane = gate * W;
        ref float init0 = ref Unsafe.Add(ref init, lane);
        ref float init1 = ref Unsafe.Add(ref init0, initStride);
        ref float init2 = ref Unsafe.Add(ref init0, 2 * initStride);
        ref float init3 = ref Unsafe.Add(ref init0, 3 * initStride);
        Vector256<float> l0, h0, l1, h1, l2, h2, l3, h3;
        if (TFormat.Scaled)
        {
            l0 = h0 = l1 = h1 = l2 = h2 = l3 = h3 = Vector256<float>.Zero;
        }
        else
        {
            l0 = Vector256.LoadUnsafe(ref init0);
            h0 = Vector256.LoadUnsafe(ref Unsafe.Add(ref init0, Half));
            l1 = Vector256.LoadUnsafe(ref init1);
            h1 = Vector256.LoadUnsafe(ref Unsafe.Add(ref init1, Half));
            l2 = Vector256.LoadUnsafe(ref init2);
            h2 = Vector256.LoadUnsafe(ref Unsafe.Add(ref init2, Half));
            l3 = Vector256.LoadUnsafe(ref init3);
            h3 = Vector256.LoadUnsafe(ref Unsafe.Add(ref init3, Half));
        }

        int stride = Row * TFormat.Bytes;
        ref byte row = ref rows;
        ref float x = ref v;
        for (int j = 0; j < k; j++)
        {
            TFormat.LoadGate256(ref row, gate, out Vector256<float> lo, out Vector256<float> hi);
            Vector256<float> s = Vector256.Create(x);
            l0 = Vector256.MultiplyAddEstimate(s, lo, l0);
            h0 = Vector256.MultiplyAddEstimate(s, hi, h0);
            s = Vector256.Create(Unsafe.Add(ref x, vStride));
            l1 = Vector256.MultiplyAddEstimate(s, lo, l1);
            h1 = Vector256.MultiplyAddEstimate(s, hi, h1);
            s = Vector256.Create(Unsafe.Add(ref x, 2 * vStride));
            l2 = Vector256.MultiplyAddEstimate(s, lo, l2);
            h2 = Vector256.MultiplyAddEstimate(s, hi, h2);
            s = Vector256.Create(Unsafe.Add(ref x, 3 * vStride));
            l3 = Vector256.MultiplyAddEstimate(s, lo, l3);
            h3 = Vector256.MultiplyAddEstimate(s, hi, h3);
            row = ref Unsafe.Add(ref row, stride);
            x = ref Unsafe.Add(ref x, 1);
        }

        if (TFormat.Scaled)
        {
            ref float sc = ref Unsafe.Add(ref scale, lane);
            Vector256<float> sl = Vector256.LoadUnsafe(ref sc), sh = Vector256.LoadUnsafe(ref Unsafe.Add(ref sc, Half));
            l0 = Vector256.MultiplyAddEstimate(l0, sl, Vector256.LoadUnsafe(ref init0));
            h0 = Vector256.MultiplyAddEstimate(h0, sh, Vector256.LoadUnsafe(ref Unsafe.Add(ref init0, Half)));
            l1 = Vector256.MultiplyAddEstimate(l1, sl, Vector256.LoadUnsafe(ref init1));
            h1 = Vector256.MultiplyAddEstimate(h1, sh, Vector256.LoadUnsafe(ref Unsafe.Add(ref init1, Half)));
            l2 = Vector256.MultiplyAddEstimate(l2, sl, Vector256.LoadUnsafe(ref init2));
            h2 = Vector256.MultiplyAddEstimate(h2, sh, Vector256.LoadUnsafe(ref Unsafe.Add(ref init2, Half)));
            l3 = Vector256.MultiplyAddEstimate(l3, sl, Vector256.LoadUnsafe(ref init3));
            h3 = Vector256.MultiplyAddEstimate(h3, sh, Vector256.LoadUnsafe(ref Unsafe.Add(ref init3, Half)));
        }

        ref float z0 = ref Unsafe.Add(ref z, lane);
        l0.StoreUnsafe(ref z0);
        h0.StoreUnsafe(ref Unsafe.Add(ref z0, Half));
        ref float z1 = ref Unsafe.Add(ref z0, zStride);
        l1.StoreUnsafe(ref z1);
        h1.StoreUnsafe(ref Unsafe.Add(ref z1, Half));
        ref float z2 = ref Unsafe.Add(ref z0, 2 * zStride);
        l2.StoreUnsafe(ref z2);
        h2.StoreUnsafe(ref Unsafe.Add(ref z2, Half));
        ref float z3 = ref Unsafe.Add(ref z0, 3 * zStride);
        l3.StoreUnsafe(ref z3);
        h3.StoreUnsafe(ref Unsafe.Add(ref z3, Half));
    }
}

/// <summary>Whether the accumulation loops prefetch a line per weight row they take (a type, so that each choice compiles its own loop).</summary>
internal interface IPrefetch
{
    static abstract bool On { get; }
}

/// <summary>No prefetch: the weights are in the cache already, or the hardware prefetchers keep up.</summary>
internal readonly struct NoFetch : IPrefetch
{
    public static bool On => false;
}

/// <summary>One line per row: four tiles of a batch together cover the next panel's float32 rows (a 256-byte row is four lines).</summary>
internal readonly struct FetchLine : IPrefetch
{
    public static bool On => true;
}
