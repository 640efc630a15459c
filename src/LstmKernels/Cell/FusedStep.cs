using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace LstmKernels.Internal;

/// <summary>
/// The fused LSTM step over <see cref="PackedWeights"/> stored as <typeparamref name="TFormat"/>: for each panel of 16 units, stream its rows once,
/// broadcast each input value and accumulate the four gates in registers, then apply the pointwise stage and
/// write 16 values of h and c. No [B, 4H] pre-activation buffer, no horizontal sums.
/// </summary>
/// <remarks>
/// The accumulation loops are separate methods with no calls in or after them: their accumulators end in a
/// 64-float-per-row tile on the stack. Were the pointwise stage (which calls out for the last, partial panel)
/// in the same method, the accumulators would be live across a call, and the JIT spills such values at every
/// definition, inside the hot loop (measured: 12 of 16 accumulators stored and reloaded per input row).
/// </remarks>
internal static partial class FusedStep<TPanel, TP, TFormat>
    where TPanel : struct, IPanel<TP>
    where TP : struct
    where TFormat : struct, IWeightFormat
{
    private const int W = PanelWidth.Value;
    private const int Row = PackedWeights.RowFloats;
    private const int Tile = 4;

    /// <summary>Batch rows whose partial sums a step keeps on the stack while they share each block of a panel's rows.</summary>
    private const int GroupRows = 16;

    /// <summary>The L1d of this machine (<see cref="CacheTopology.Machine"/>) in weight rows of this format.</summary>
    private static readonly int L1Rows = (int)Math.Max(32, CacheTopology.Machine.L1Data / (Row * TFormat.Bytes));

    /// <summary>
    /// Weight rows per block of the tiled loops for a panel part of <paramref name="k"/> rows: all of them when they fit
    /// the L1d (or for int8, whose sums are scaled only once at the end), else half the L1d's worth, so that the block
    /// stays there while every tile of a group takes it (measured: one block is faster while the part fits).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int BlockRows(int k) => TFormat.Scaled || k <= L1Rows ? Math.Max(k, 1) : L1Rows / 2;

    /// <summary>The packed bytes above which the step prefetches each next panel (<see cref="RoutePolicy.PrefetchMinBytes"/> of this machine).</summary>
    private static readonly long PrefetchMinBytes = RoutePolicy.Machine.PrefetchMinBytes;

    /// <summary>
    /// One step for <paramref name="batch"/> rows. <paramref name="v"/> holds each row's step input
    /// <c>concat(x, hPrev)</c> (K = I + H floats per row), so the outputs may alias the caller's hPrev.
    /// </summary>
    [SkipLocalsInit]
    public static void Run(PackedWeights w, int batch, ReadOnlySpan<float> v, ReadOnlySpan<float> cPrev, Span<float> hNext, Span<float> cNext) =>
        Run(w, 0, w.Panels, batch, v, cPrev, hNext, cNext);

    /// <summary>
    /// <see cref="Run(PackedWeights, int, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float})"/> for
    /// panels [<paramref name="firstPanel"/>, <paramref name="endPanel"/>) only: the units of those panels are the only
    /// ones written, so disjoint panel ranges can run on different threads.
    /// </summary>
    [SkipLocalsInit]
    public static void Run(PackedWeights w, int firstPanel, int endPanel, int batch, ReadOnlySpan<float> v, ReadOnlySpan<float> cPrev, Span<float> hNext, Span<float> cNext)
    {
        int k = w.Input + w.Hidden;
        Debug.Assert(v.Length == batch * k && cPrev.Length == batch * w.Hidden && hNext.Length == batch * w.Hidden);
        Span<float> z = stackalloc float[GroupRows * Row];
        for (int p = firstPanel; p < endPanel; p++)
        {
            Step(w, p, batch, ref w.Bias(p), 0, ref w.Rows(p), k, v, cPrev, hNext, cNext, z);
        }
    }

    /// <summary>
    /// The input half of a sequence: for each of <paramref name="rows"/> input rows of <paramref name="xs"/> (I floats
    /// each), the 4·16 pre-activations <c>bias + x·Wᵢₕᵀ</c> of every panel, into <paramref name="projection"/> laid out
    /// <c>[row][panel][64]</c>. Four rows share each loaded weight vector on the one-vector path.
    /// </summary>
    public static void Project(PackedWeights w, int rows, ReadOnlySpan<float> xs, Span<float> projection) =>
        Project(w, 0, w.Panels, rows, xs, projection);

    /// <summary><see cref="Project(PackedWeights, int, ReadOnlySpan{float}, Span{float})"/> for panels [<paramref name="firstPanel"/>, <paramref name="endPanel"/>) only.</summary>
    public static void Project(PackedWeights w, int firstPanel, int endPanel, int rows, ReadOnlySpan<float> xs, Span<float> projection)
    {
        int input = w.Input;
        int rowStride = w.ProjectionFloats;
        Debug.Assert(xs.Length == rows * input && projection.Length == rows * rowStride);
        ref float rx = ref MemoryMarshal.GetReference(xs);
        ref float rp = ref MemoryMarshal.GetReference(projection);
        for (int p = firstPanel; p < endPanel; p++)
        {
            ref float bias = ref w.Bias(p);
            ref float scale = ref Scale(w, p);
            ref byte weights = ref w.Rows(p);
            ref float out0 = ref Unsafe.Add(ref rp, p * Row);
            int r = 0;
            if (TPanel.Vectors <= 2)
            {
                // The panel's rows stay in the cache while every tile of four rows takes them.
                for (; r <= rows - Tile; r += Tile)
                {
                    Accumulate4Tile<NoFetch>(
                        ref bias, 0, ref scale, ref weights, ref Unsafe.Add(ref rx, r * input), input, input, ref Unsafe.Add(ref out0, r * rowStride), rowStride, ref weights);
                }
            }

            for (; r < rows; r++)
            {
                Accumulate1(ref bias, ref scale, ref weights, ref Unsafe.Add(ref rx, r * input), input, ref Unsafe.Add(ref out0, r * rowStride));
            }
        }
    }

    /// <summary>
    /// The recurrent half of a sequence step: pre-activations start from <paramref name="projection"/> (this step's
    /// rows of <see cref="Project(PackedWeights, int, ReadOnlySpan{float}, Span{float})"/>) and add <c>hPrev·Wₕₕᵀ</c>; then the pointwise stage. <paramref name="hNext"/>
    /// must not overlap <paramref name="hPrev"/>, which every panel reads whole.
    /// </summary>
    public static void Recurrent(
        PackedWeights w, int batch, ReadOnlySpan<float> projection, ReadOnlySpan<float> hPrev, ReadOnlySpan<float> cPrev, Span<float> hNext, Span<float> cNext) =>
        Recurrent(w, 0, w.Panels, batch, projection, hPrev, cPrev, hNext, cNext);

    /// <summary>
    /// <see cref="Recurrent(PackedWeights, int, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float})"/>
    /// for panels [<paramref name="firstPanel"/>, <paramref name="endPanel"/>) only: disjoint ranges write disjoint units.
    /// </summary>
    [SkipLocalsInit]
    public static void Recurrent(
        PackedWeights w, int firstPanel, int endPanel, int batch, ReadOnlySpan<float> projection, ReadOnlySpan<float> hPrev,
        ReadOnlySpan<float> cPrev, Span<float> hNext, Span<float> cNext)
    {
        Debug.Assert(projection.Length == batch * w.ProjectionFloats && hPrev.Length == batch * w.Hidden && !hNext.Overlaps(hPrev));
        Span<float> z = stackalloc float[GroupRows * Row];
        ref float rp = ref MemoryMarshal.GetReference(projection);
        int skip = w.Input * Row * TFormat.Bytes;
        for (int p = firstPanel; p < endPanel; p++)
        {
            Step(w, p, batch, ref Unsafe.Add(ref rp, p * Row), w.ProjectionFloats, ref Unsafe.Add(ref w.Rows(p), skip), w.Hidden, hPrev, cPrev, hNext, cNext, z);
        }
    }

    /// <summary>The panel's int8 scales, or any reference when the format has none (then it is never read).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref float Scale(PackedWeights w, int p) => ref TFormat.Scaled ? ref w.Scale(p) : ref w.Bias(p);

    /// <summary>
    /// One panel of a step for every row: accumulate K weight rows onto the initial values (the bias row when
    /// <paramref name="initStride"/> is 0, else one 64-float row per batch row), then the pointwise stage.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Step(
        PackedWeights w, int p, int batch, ref float init, int initStride, ref byte weights, int k,
        ReadOnlySpan<float> v, ReadOnlySpan<float> cPrev, Span<float> hNext, Span<float> cNext, Span<float> z)
    {
        int hidden = w.Hidden;
        int unit = p * W;
        int units = Math.Min(W, hidden - unit);
        ref float scale = ref Scale(w, p);
        ref float rv = ref MemoryMarshal.GetReference(v);
        ref float rz = ref MemoryMarshal.GetReference(z);
        int b = 0;

        // With one vector per panel there are registers for four batch rows (16 accumulators): each loaded weight
        // vector then feeds four FMAs. With two (Vector256), the four rows take the gates one at a time.
        if (TPanel.Vectors <= 2)
        {
            // Groups of up to GroupRows rows: every tile of a group takes one block of the panel's rows while it is in
            // the L1, carrying on from its partial sums in z after the first block; then the group's pointwise stage.
            int tiled = batch - (batch % Tile);
            int block = BlockRows(k);

            // Weights larger than one core's L2 come from farther out: with four tiles or more, each tile call also
            // prefetches a line of the next panel's rows (the same part of it) per row it takes, so that the four
            // together bring that part into the L2 and the next panel does not start with a wait on memory. Fewer
            // tiles, or one row, would need four prefetches per row: measured slower than the hardware prefetchers
            // (batch 1 and 4 at 512x512 and 1024x1024, 2026-12-03). Float32 only; see RoutePolicy.PrefetchMinBytes.
            ref byte next = ref Unsafe.Add(ref weights, p + 1 < w.Panels ? w.PanelBytes : 0);
            int lines = k * Row * TFormat.Bytes / 64;
            int fetched = tiled >= 4 * Tile && Prefetching(w) ? 0 : lines;
            for (int group; b < tiled; b += group)
            {
                group = Math.Min(GroupRows, tiled - b);
                for (int k0 = 0; k0 < k; k0 += block)
                {
                    int count = Math.Min(block, k - k0);
                    ref byte blockRows = ref Unsafe.Add(ref weights, k0 * Row * TFormat.Bytes);
                    for (int r = 0; r < group; r += Tile)
                    {
                        ref float tile = ref Unsafe.Add(ref rz, r * Row);
                        ref float start = ref k0 == 0 ? ref Unsafe.Add(ref init, (b + r) * initStride) : ref tile;
                        int startStride = k0 == 0 ? initStride : Row;
                        ref float rows = ref Unsafe.Add(ref rv, ((b + r) * k) + k0);

                        if (fetched < lines)
                        {
                            ref byte ahead = ref Ahead(ref next, ref fetched, count, lines);
                            Accumulate4Tile<FetchLine>(ref start, startStride, ref scale, ref blockRows, ref rows, k, count, ref tile, Row, ref ahead);
                        }
                        else
                        {
                            Accumulate4Tile<NoFetch>(ref start, startStride, ref scale, ref blockRows, ref rows, k, count, ref tile, Row, ref blockRows);
                        }
                    }
                }

                for (int r = 0; r < group; r++)
                {
                    int at = (b + r) * hidden;
                    Finish(ref Unsafe.Add(ref rz, r * Row), unit, units, cPrev.Slice(at, hidden), hNext.Slice(at, hidden), cNext.Slice(at, hidden));
                }
            }
        }

        for (; b < batch; b++)
        {
            Accumulate1(ref Unsafe.Add(ref init, b * initStride), ref scale, ref weights, ref Unsafe.Add(ref rv, b * k), k, ref rz);
            int at = b * hidden;
            Finish(ref rz, unit, units, cPrev.Slice(at, hidden), hNext.Slice(at, hidden), cNext.Slice(at, hidden));
        }
    }

    /// <summary>Whether a step over <paramref name="w"/> prefetches the next panel: float32 weights larger than <see cref="RoutePolicy.PrefetchMinBytes"/>, on x86.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Prefetching(PackedWeights w) =>
        TFormat.Bytes == sizeof(float) && !TFormat.Scaled && System.Runtime.Intrinsics.X86.Sse.IsSupported && w.Bytes > PrefetchMinBytes;

    /// <summary>
    /// Where the next call's prefetches start (line <paramref name="fetched"/> of the next panel's part), counting the
    /// <paramref name="taken"/> lines it will fetch; past the part's <paramref name="lines"/>, the part's start (lines
    /// already fetched: a cheap hint).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref byte Ahead(ref byte next, ref int fetched, int taken, int lines)
    {
        int at = fetched;
        fetched += taken;
        return ref fetched <= lines ? ref Unsafe.Add(ref next, at * 64) : ref next;
    }

    /// <summary>Writes one row's four gate sums; for int8, first <c>init + scale ⊙ sum</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store4(TP i, TP f, TP g, TP o, ref float init, ref float scale, ref float z)
    {
        if (TFormat.Scaled)
        {
            i = TPanel.MultiplyAdd(i, TPanel.Load(ref scale), TPanel.Load(ref init));
            f = TPanel.MultiplyAdd(f, TPanel.Load(ref Unsafe.Add(ref scale, W)), TPanel.Load(ref Unsafe.Add(ref init, W)));
            g = TPanel.MultiplyAdd(g, TPanel.Load(ref Unsafe.Add(ref scale, 2 * W)), TPanel.Load(ref Unsafe.Add(ref init, 2 * W)));
            o = TPanel.MultiplyAdd(o, TPanel.Load(ref Unsafe.Add(ref scale, 3 * W)), TPanel.Load(ref Unsafe.Add(ref init, 3 * W)));
        }

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
            TP c = LstmPanel.Pointwise<TPanel, TP>(zi, zf, zg, zo, TPanel.Load(ref Unsafe.Add(ref MemoryMarshal.GetReference(cPrev), unit)), out TP h);
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
        var tail = new PaddedTail(stackalloc float[3 * W]);
        tail.Gather(0, cPrev.Slice(unit, units));
        TP c = LstmPanel.Pointwise<TPanel, TP>(zi, zf, zg, zo, TPanel.Load(ref tail[0]), out TP h);
        TPanel.Store(c, ref tail[1]);
        TPanel.Store(h, ref tail[2]);
        tail.Scatter(1, cNext.Slice(unit, units));
        tail.Scatter(2, hNext.Slice(unit, units));
    }
}
