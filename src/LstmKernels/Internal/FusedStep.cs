using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace LstmKernels.Internal;

/// <summary>
/// The fused LSTM step over <see cref="PackedWeights"/>: for each panel of 16 units, stream its rows once,
/// broadcast each input value and accumulate the four gates in registers, then apply the pointwise stage and
/// write 16 values of h and c. No [B, 4H] pre-activation buffer, no horizontal sums.
/// </summary>
/// <remarks>
/// The accumulation loops are separate methods with no calls in or after them: their accumulators end in a
/// 64-float-per-row tile on the stack. Were the pointwise stage (which calls out for the last, partial panel)
/// in the same method, the accumulators would be live across a call, and the JIT spills such values at every
/// definition, inside the hot loop (measured: 12 of 16 accumulators stored and reloaded per input row).
/// </remarks>
internal static class FusedStep<TPanel, TP>
    where TPanel : struct, IPanel<TP>
    where TP : struct
{
    private const int W = PanelWidth.Value;
    private const int Row = PackedWeights.RowFloats;
    private const int Tile = 4;

    /// <summary>
    /// One step for <paramref name="batch"/> rows. <paramref name="v"/> holds each row's step input
    /// <c>concat(x, hPrev)</c> (K = I + H floats per row), so the outputs may alias the caller's hPrev.
    /// </summary>
    [SkipLocalsInit]
    public static void Run(PackedWeights w, int batch, ReadOnlySpan<float> v, ReadOnlySpan<float> cPrev, Span<float> hNext, Span<float> cNext)
    {
        int k = w.Input + w.Hidden;
        int hidden = w.Hidden;
        Debug.Assert(v.Length == batch * k && cPrev.Length == batch * hidden && hNext.Length == batch * hidden);
        Span<float> z = stackalloc float[Tile * Row];
        ref float rz = ref MemoryMarshal.GetReference(z);
        ref float packed = ref w.Start;
        ref float rv = ref MemoryMarshal.GetReference(v);
        for (int p = 0; p < w.Panels; p++)
        {
            ref float panel = ref Unsafe.Add(ref packed, p * w.PanelFloats);
            int unit = p * W;
            int units = Math.Min(W, hidden - unit);
            int b = 0;

            // With one vector per panel there are registers for four batch rows (16 accumulators): each loaded
            // weight vector then feeds four FMAs.
            if (TPanel.Vectors == 1)
            {
                for (; b <= batch - Tile; b += Tile)
                {
                    Accumulate4(ref panel, ref Unsafe.Add(ref rv, b * k), k, ref rz);
                    for (int r = 0; r < Tile; r++)
                    {
                        int at = (b + r) * hidden;
                        Finish(ref Unsafe.Add(ref rz, r * Row), unit, units, cPrev.Slice(at, hidden), hNext.Slice(at, hidden), cNext.Slice(at, hidden));
                    }
                }
            }

            for (; b < batch; b++)
            {
                Accumulate1(ref panel, ref Unsafe.Add(ref rv, b * k), k, ref rz);
                int at = b * hidden;
                Finish(ref rz, unit, units, cPrev.Slice(at, hidden), hNext.Slice(at, hidden), cNext.Slice(at, hidden));
            }
        }
    }

    /// <summary>The gate pre-activations of one panel for one row, into <c>z[0..64)</c> (i, f, g, o).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Accumulate1(ref float panel, ref float v, int k, ref float z)
    {
        TP ai = TPanel.Load(ref panel);
        TP af = TPanel.Load(ref Unsafe.Add(ref panel, W));
        TP ag = TPanel.Load(ref Unsafe.Add(ref panel, 2 * W));
        TP ao = TPanel.Load(ref Unsafe.Add(ref panel, 3 * W));
        ref float rows = ref Unsafe.Add(ref panel, Row);
        int j = 0;
        if (TPanel.Vectors == 1)
        {
            // Two input rows per iteration into two sets of accumulators: 8 independent FMA chains hide the
            // FMA latency on two FMA ports.
            TP bi = TPanel.Broadcast(0f), bf = bi, bg = bi, bo = bi;
            for (; j <= k - 2; j += 2)
            {
                ref float r0 = ref Unsafe.Add(ref rows, j * Row);
                TP s0 = TPanel.Broadcast(Unsafe.Add(ref v, j));
                TP s1 = TPanel.Broadcast(Unsafe.Add(ref v, j + 1));
                ai = TPanel.MultiplyAdd(s0, TPanel.Load(ref r0), ai);
                af = TPanel.MultiplyAdd(s0, TPanel.Load(ref Unsafe.Add(ref r0, W)), af);
                ag = TPanel.MultiplyAdd(s0, TPanel.Load(ref Unsafe.Add(ref r0, 2 * W)), ag);
                ao = TPanel.MultiplyAdd(s0, TPanel.Load(ref Unsafe.Add(ref r0, 3 * W)), ao);
                bi = TPanel.MultiplyAdd(s1, TPanel.Load(ref Unsafe.Add(ref r0, Row)), bi);
                bf = TPanel.MultiplyAdd(s1, TPanel.Load(ref Unsafe.Add(ref r0, Row + W)), bf);
                bg = TPanel.MultiplyAdd(s1, TPanel.Load(ref Unsafe.Add(ref r0, Row + (2 * W))), bg);
                bo = TPanel.MultiplyAdd(s1, TPanel.Load(ref Unsafe.Add(ref r0, Row + (3 * W))), bo);
            }

            ai = TPanel.Add(ai, bi);
            af = TPanel.Add(af, bf);
            ag = TPanel.Add(ag, bg);
            ao = TPanel.Add(ao, bo);
        }

        for (; j < k; j++)
        {
            ref float r0 = ref Unsafe.Add(ref rows, j * Row);
            TP s = TPanel.Broadcast(Unsafe.Add(ref v, j));
            ai = TPanel.MultiplyAdd(s, TPanel.Load(ref r0), ai);
            af = TPanel.MultiplyAdd(s, TPanel.Load(ref Unsafe.Add(ref r0, W)), af);
            ag = TPanel.MultiplyAdd(s, TPanel.Load(ref Unsafe.Add(ref r0, 2 * W)), ag);
            ao = TPanel.MultiplyAdd(s, TPanel.Load(ref Unsafe.Add(ref r0, 3 * W)), ao);
        }

        TPanel.Store(ai, ref z);
        TPanel.Store(af, ref Unsafe.Add(ref z, W));
        TPanel.Store(ag, ref Unsafe.Add(ref z, 2 * W));
        TPanel.Store(ao, ref Unsafe.Add(ref z, 3 * W));
    }

    /// <summary>The pre-activations of one panel for four rows (row stride K in v), into <c>z[r·64 ..]</c>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Accumulate4(ref float panel, ref float v, int k, ref float z)
    {
        TP i0 = TPanel.Load(ref panel), f0 = TPanel.Load(ref Unsafe.Add(ref panel, W));
        TP g0 = TPanel.Load(ref Unsafe.Add(ref panel, 2 * W)), o0 = TPanel.Load(ref Unsafe.Add(ref panel, 3 * W));
        TP i1 = i0, f1 = f0, g1 = g0, o1 = o0;
        TP i2 = i0, f2 = f0, g2 = g0, o2 = o0;
        TP i3 = i0, f3 = f0, g3 = g0, o3 = o0;
        ref float rows = ref Unsafe.Add(ref panel, Row);
        ref float v1 = ref Unsafe.Add(ref v, k);
        ref float v2 = ref Unsafe.Add(ref v, 2 * k);
        ref float v3 = ref Unsafe.Add(ref v, 3 * k);
        for (int j = 0; j < k; j++)
        {
            ref float r0 = ref Unsafe.Add(ref rows, j * Row);
            TP wi = TPanel.Load(ref r0);
            TP wf = TPanel.Load(ref Unsafe.Add(ref r0, W));
            TP wg = TPanel.Load(ref Unsafe.Add(ref r0, 2 * W));
            TP wo = TPanel.Load(ref Unsafe.Add(ref r0, 3 * W));
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

        Store4(i0, f0, g0, o0, ref z);
        Store4(i1, f1, g1, o1, ref Unsafe.Add(ref z, Row));
        Store4(i2, f2, g2, o2, ref Unsafe.Add(ref z, 2 * Row));
        Store4(i3, f3, g3, o3, ref Unsafe.Add(ref z, 3 * Row));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store4(TP i, TP f, TP g, TP o, ref float z)
    {
        TPanel.Store(i, ref z);
        TPanel.Store(f, ref Unsafe.Add(ref z, W));
        TPanel.Store(g, ref Unsafe.Add(ref z, 2 * W));
        TPanel.Store(o, ref Unsafe.Add(ref z, 3 * W));
    }

    /// <summary>The pointwise stage for one panel of one row from its pre-activations <c>z[0..64)</c>; <paramref name="units"/> &lt; 16 only in the last panel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish(ref float z, int unit, int units, ReadOnlySpan<float> cPrev, Span<float> hNext, Span<float> cNext)
    {
        TP zi = TPanel.Load(ref z);
        TP zf = TPanel.Load(ref Unsafe.Add(ref z, W));
        TP zg = TPanel.Load(ref Unsafe.Add(ref z, 2 * W));
        TP zo = TPanel.Load(ref Unsafe.Add(ref z, 3 * W));
        if (units == W)
        {
            TP c = Kernels.PointwisePanel<TPanel, TP>(zi, zf, zg, zo, TPanel.Load(ref Unsafe.Add(ref MemoryMarshal.GetReference(cPrev), unit)), out TP h);
            TPanel.Store(c, ref Unsafe.Add(ref MemoryMarshal.GetReference(cNext), unit));
            TPanel.Store(h, ref Unsafe.Add(ref MemoryMarshal.GetReference(hNext), unit));
        }
        else
        {
            FinishPartial(zi, zf, zg, zo, unit, units, cPrev, hNext, cNext);
        }
    }

    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void FinishPartial(TP zi, TP zf, TP zg, TP zo, int unit, int units, ReadOnlySpan<float> cPrev, Span<float> hNext, Span<float> cNext)
    {
        Span<float> t = stackalloc float[3 * W];
        t.Clear();
        cPrev.Slice(unit, units).CopyTo(t);
        ref float rt = ref MemoryMarshal.GetReference(t);
        TP c = Kernels.PointwisePanel<TPanel, TP>(zi, zf, zg, zo, TPanel.Load(ref rt), out TP h);
        TPanel.Store(c, ref Unsafe.Add(ref rt, W));
        TPanel.Store(h, ref Unsafe.Add(ref rt, 2 * W));
        t.Slice(W, units).CopyTo(cNext[unit..]);
        t.Slice(2 * W, units).CopyTo(hNext[unit..]);
    }
}
