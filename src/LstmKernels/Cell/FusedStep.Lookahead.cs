using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace LstmKernels.Internal;

/// <summary>
/// The sequence step with the next chunk's input projection folded into it (batch 1, one-vector panels).
/// </summary>
/// <remarks>
/// <para>
/// A batch-1 recurrent step is bound by reading Wₕₕ: each weight vector feeds one FMA, and the caches deliver well
/// under one vector a cycle, so the FMA pipes idle half the time. The input projection is the opposite: blocked over
/// several steps, each weight vector feeds many FMAs. Run back to back the two costs add; interleaved in one loop,
/// the projection's FMAs fill the recurrent loop's idle issue slots. The overlap is partial: measured, a step takes
/// 0.88–0.95x the time of the separate pass (about a third of the projection's cost hidden), and only while both
/// weight matrices stay in the cache (see LstmCell.UsesLookahead).
/// </para>
/// <para>
/// Steps go in chunks of <see cref="ChunkSteps"/>. While step j of chunk c runs, it also computes one slot of chunk
/// c + 1's projection: slot j covers gate pair j / 4 (i, f or g, o) over input rows of quarter j mod 4, for all
/// eight steps at once (16 accumulators; each loaded weight vector feeds eight FMAs). Across the eight slots every
/// (gate, row) is covered once, in row order from the bias, so the projection is bitwise the one
/// <see cref="Project(PackedWeights, int, ReadOnlySpan{float}, Span{float})"/> computes with its four-row tile.
/// </para>
/// </remarks>
internal static partial class FusedStep<TPanel, TP, TFormat>
{
    /// <summary>Steps per chunk of the lookahead projection; also its number of slots.</summary>
    public const int ChunkSteps = 8;

    /// <summary>Whether <see cref="Lookahead"/> runs for this panel and weight format.</summary>
    public static bool CanLookahead => TPanel.Vectors == 1 && !TFormat.Scaled && TFormat.Bytes == sizeof(float);

    /// <summary>
    /// One batch-1 recurrent step (as <see cref="Recurrent(PackedWeights, int, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float})"/>, from this step's <paramref name="projection"/>) that
    /// also computes slot <paramref name="slot"/> of the next chunk's projection into <paramref name="next"/>
    /// (<c>[8][panel][64]</c>) from that chunk's inputs <paramref name="xt"/>, transposed to <c>[I][8]</c>.
    /// </summary>
    [SkipLocalsInit]
    public static void Lookahead(
        PackedWeights w, int slot, ReadOnlySpan<float> projection, ReadOnlySpan<float> xt, Span<float> next,
        ReadOnlySpan<float> hPrev, ReadOnlySpan<float> cPrev, Span<float> hNext, Span<float> cNext)
    {
        int input = w.Input;
        int hidden = w.Hidden;
        int stride = w.ProjectionFloats;
        Debug.Assert(CanLookahead && (uint)slot < ChunkSteps);
        Debug.Assert(projection.Length == stride && xt.Length == input * ChunkSteps && next.Length == ChunkSteps * stride);
        Debug.Assert(hPrev.Length == hidden && !hNext.Overlaps(hPrev));
        int quarter = slot & 3;
        int gates = (slot >> 2) * 2 * W;
        int r0 = quarter * input / 4;
        int r1 = (quarter + 1) * input / 4;
        Span<float> z = stackalloc float[Row];
        ref float rz = ref MemoryMarshal.GetReference(z);
        ref float rp = ref MemoryMarshal.GetReference(projection);
        ref float rn = ref MemoryMarshal.GetReference(next);
        ref float rh = ref MemoryMarshal.GetReference(hPrev);
        ref float rx = ref Unsafe.Add(ref MemoryMarshal.GetReference(xt), r0 * ChunkSteps);
        for (int p = 0; p < w.Panels; p++)
        {
            ref float rows = ref Unsafe.As<byte, float>(ref w.Rows(p));
            ref float start = ref quarter == 0 ? ref Unsafe.Add(ref w.Bias(p), gates) : ref Unsafe.Add(ref rn, (p * Row) + gates);
            AccumulateLookahead(
                ref Unsafe.Add(ref rp, p * Row), ref Unsafe.Add(ref rows, input * Row), ref rh, hidden,
                ref Unsafe.Add(ref rows, (r0 * Row) + gates), ref rx, r1 - r0, ref start, quarter == 0 ? 0 : stride,
                ref Unsafe.Add(ref rn, (p * Row) + gates), stride, ref rz);
            int unit = p * W;
            Finish(ref rz, unit, Math.Min(W, hidden - unit), cPrev, hNext, cNext);
        }
    }

    /// <summary>
    /// <c>z = init + Σⱼ h[j]·hh[j]</c> over <paramref name="hidden"/> rows, interleaved with
    /// <c>next[s] = start[s] + Σᵣ xt[r][s]·ih[r]</c> for the eight steps s and one gate pair (two vectors per row) over
    /// <paramref name="inputs"/> rows. <paramref name="startStride"/> is 0 when every step starts from the bias.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void AccumulateLookahead(
        ref float init, ref float hh, ref float h, int hidden, ref float ih, ref float xt, int inputs,
        ref float start, int startStride, ref float next, int nextStride, ref float z)
    {
        TP ai = TPanel.Load(ref init);
        TP af = TPanel.Load(ref Unsafe.Add(ref init, W));
        TP ag = TPanel.Load(ref Unsafe.Add(ref init, 2 * W));
        TP ao = TPanel.Load(ref Unsafe.Add(ref init, 3 * W));
        TP bi = TPanel.Broadcast(0f), bf = bi, bg = bi, bo = bi;

        ref float s1 = ref Unsafe.Add(ref start, startStride);
        ref float s2 = ref Unsafe.Add(ref start, 2 * startStride);
        ref float s3 = ref Unsafe.Add(ref start, 3 * startStride);
        ref float s4 = ref Unsafe.Add(ref start, 4 * startStride);
        ref float s5 = ref Unsafe.Add(ref start, 5 * startStride);
        ref float s6 = ref Unsafe.Add(ref start, 6 * startStride);
        ref float s7 = ref Unsafe.Add(ref start, 7 * startStride);
        TP l0 = TPanel.Load(ref start), u0 = TPanel.Load(ref Unsafe.Add(ref start, W));
        TP l1 = TPanel.Load(ref s1), u1 = TPanel.Load(ref Unsafe.Add(ref s1, W));
        TP l2 = TPanel.Load(ref s2), u2 = TPanel.Load(ref Unsafe.Add(ref s2, W));
        TP l3 = TPanel.Load(ref s3), u3 = TPanel.Load(ref Unsafe.Add(ref s3, W));
        TP l4 = TPanel.Load(ref s4), u4 = TPanel.Load(ref Unsafe.Add(ref s4, W));
        TP l5 = TPanel.Load(ref s5), u5 = TPanel.Load(ref Unsafe.Add(ref s5, W));
        TP l6 = TPanel.Load(ref s6), u6 = TPanel.Load(ref Unsafe.Add(ref s6, W));
        TP l7 = TPanel.Load(ref s7), u7 = TPanel.Load(ref Unsafe.Add(ref s7, W));

        // Spread the recurrent rows evenly between the projection rows: `per` before each of them, and the rest
        // (fewer than `inputs`, or all of them when this slot has no input rows) in a last pass without one. Rows are
        // walked by moving references, so that every load and broadcast addresses memory directly.
        int per = inputs == 0 ? 0 : hidden / inputs;
        for (int r = 0; ; r++)
        {
            int count = r < inputs ? per : hidden - (per * inputs);
            for (int q = count >> 1; q > 0; q--)
            {
                TP s = TPanel.Broadcast(h);
                ai = TPanel.MultiplyAdd(s, TPanel.Load(ref hh), ai);
                af = TPanel.MultiplyAdd(s, TPanel.Load(ref Unsafe.Add(ref hh, W)), af);
                ag = TPanel.MultiplyAdd(s, TPanel.Load(ref Unsafe.Add(ref hh, 2 * W)), ag);
                ao = TPanel.MultiplyAdd(s, TPanel.Load(ref Unsafe.Add(ref hh, 3 * W)), ao);
                s = TPanel.Broadcast(Unsafe.Add(ref h, 1));
                bi = TPanel.MultiplyAdd(s, TPanel.Load(ref Unsafe.Add(ref hh, Row)), bi);
                bf = TPanel.MultiplyAdd(s, TPanel.Load(ref Unsafe.Add(ref hh, Row + W)), bf);
                bg = TPanel.MultiplyAdd(s, TPanel.Load(ref Unsafe.Add(ref hh, Row + (2 * W))), bg);
                bo = TPanel.MultiplyAdd(s, TPanel.Load(ref Unsafe.Add(ref hh, Row + (3 * W))), bo);
                h = ref Unsafe.Add(ref h, 2);
                hh = ref Unsafe.Add(ref hh, 2 * Row);
            }

            if ((count & 1) != 0)
            {
                TP s = TPanel.Broadcast(h);
                ai = TPanel.MultiplyAdd(s, TPanel.Load(ref hh), ai);
                af = TPanel.MultiplyAdd(s, TPanel.Load(ref Unsafe.Add(ref hh, W)), af);
                ag = TPanel.MultiplyAdd(s, TPanel.Load(ref Unsafe.Add(ref hh, 2 * W)), ag);
                ao = TPanel.MultiplyAdd(s, TPanel.Load(ref Unsafe.Add(ref hh, 3 * W)), ao);
                h = ref Unsafe.Add(ref h, 1);
                hh = ref Unsafe.Add(ref hh, Row);
            }

            if (r == inputs)
            {
                break;
            }

            TP lo = TPanel.Load(ref ih);
            TP hi = TPanel.Load(ref Unsafe.Add(ref ih, W));
            TP b = TPanel.Broadcast(xt);
            l0 = TPanel.MultiplyAdd(b, lo, l0);
            u0 = TPanel.MultiplyAdd(b, hi, u0);
            b = TPanel.Broadcast(Unsafe.Add(ref xt, 1));
            l1 = TPanel.MultiplyAdd(b, lo, l1);
            u1 = TPanel.MultiplyAdd(b, hi, u1);
            b = TPanel.Broadcast(Unsafe.Add(ref xt, 2));
            l2 = TPanel.MultiplyAdd(b, lo, l2);
            u2 = TPanel.MultiplyAdd(b, hi, u2);
            b = TPanel.Broadcast(Unsafe.Add(ref xt, 3));
            l3 = TPanel.MultiplyAdd(b, lo, l3);
            u3 = TPanel.MultiplyAdd(b, hi, u3);
            b = TPanel.Broadcast(Unsafe.Add(ref xt, 4));
            l4 = TPanel.MultiplyAdd(b, lo, l4);
            u4 = TPanel.MultiplyAdd(b, hi, u4);
            b = TPanel.Broadcast(Unsafe.Add(ref xt, 5));
            l5 = TPanel.MultiplyAdd(b, lo, l5);
            u5 = TPanel.MultiplyAdd(b, hi, u5);
            b = TPanel.Broadcast(Unsafe.Add(ref xt, 6));
            l6 = TPanel.MultiplyAdd(b, lo, l6);
            u6 = TPanel.MultiplyAdd(b, hi, u6);
            b = TPanel.Broadcast(Unsafe.Add(ref xt, 7));
            l7 = TPanel.MultiplyAdd(b, lo, l7);
            u7 = TPanel.MultiplyAdd(b, hi, u7);
            ih = ref Unsafe.Add(ref ih, Row);
            xt = ref Unsafe.Add(ref xt, ChunkSteps);
        }

        TPanel.Store(l0, ref next);
        TPanel.Store(u0, ref Unsafe.Add(ref next, W));
        ref float n1 = ref Unsafe.Add(ref next, nextStride);
        TPanel.Store(l1, ref n1);
        TPanel.Store(u1, ref Unsafe.Add(ref n1, W));
        ref float n2 = ref Unsafe.Add(ref next, 2 * nextStride);
        TPanel.Store(l2, ref n2);
        TPanel.Store(u2, ref Unsafe.Add(ref n2, W));
        ref float n3 = ref Unsafe.Add(ref next, 3 * nextStride);
        TPanel.Store(l3, ref n3);
        TPanel.Store(u3, ref Unsafe.Add(ref n3, W));
        ref float n4 = ref Unsafe.Add(ref next, 4 * nextStride);
        TPanel.Store(l4, ref n4);
        TPanel.Store(u4, ref Unsafe.Add(ref n4, W));
        ref float n5 = ref Unsafe.Add(ref next, 5 * nextStride);
        TPanel.Store(l5, ref n5);
        TPanel.Store(u5, ref Unsafe.Add(ref n5, W));
        ref float n6 = ref Unsafe.Add(ref next, 6 * nextStride);
        TPanel.Store(l6, ref n6);
        TPanel.Store(u6, ref Unsafe.Add(ref n6, W));
        ref float n7 = ref Unsafe.Add(ref next, 7 * nextStride);
        TPanel.Store(l7, ref n7);
        TPanel.Store(u7, ref Unsafe.Add(ref n7, W));

        TPanel.Store(TPanel.Add(ai, bi), ref z);
        TPanel.Store(TPanel.Add(af, bf), ref Unsafe.Add(ref z, W));
        TPanel.Store(TPanel.Add(ag, bg), ref Unsafe.Add(ref z, 2 * W));
        TPanel.Store(TPanel.Add(ao, bo), ref Unsafe.Add(ref z, 3 * W));
    }
}
