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

    /// <summary>
    /// Weight rows per block of the tiled loops: half the L1d (<see cref="CacheTopology.Machine"/>) in this format's
    /// rows, at least 16; int8 sums are scaled only once at the end, so its panels go in one block.
    /// </summary>
    private static readonly int L1BlockRows = (int)Math.Max(16, CacheTopology.Machine.L1Data / 2 / (Row * TFormat.Bytes));

    /// <summary>The rows per block for a panel of <paramref name="k"/> rows (all of them for int8).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int BlockRows(int k) => TFormat.Scaled ? Math.Max(k, 1) : L1BlockRows;

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
                // Whole tiles of four rows, block by block of the panel's rows as in Step (each block stays in the L1
                // while every tile takes it; after the first block each tile carries on from its own partial sums),
                // fetching the next panel's rows meanwhile.
                int tiled = rows - (rows % Tile);
                int block = BlockRows(input);
                ref byte next = ref Unsafe.Add(ref weights, p + 1 < endPanel ? w.PanelBytes : 0);
                int lines = input * Row * TFormat.Bytes / 64;
                int fetched = 0;
                for (int k0 = 0; k0 < input; k0 += block)
                {
                    int count = Math.Min(block, input - k0);
                    ref byte blockRows = ref Unsafe.Add(ref weights, k0 * Row * TFormat.Bytes);
                    for (r = 0; r < tiled; r += Tile)
                    {
                        ref byte ahead = ref fetched + count <= lines ? ref Unsafe.Add(ref next, fetched * 64) : ref blockRows;
                        fetched += count;
                        ref float tile = ref Unsafe.Add(ref out0, r * rowStride);
                        Accumulate4Tile(
                            ref k0 == 0 ? ref bias : ref tile, k0 == 0 ? 0 : rowStride, ref scale, ref blockRows,
                            ref Unsafe.Add(ref rx, (r * input) + k0), input, count, ref tile, rowStride, ref ahead);
                    }
                }

                r = tiled;
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
            // Meanwhile the tiles fetch the next panel's rows (the same part of it) into the L2, one line per row they
            // take, so that the next panel's first tile does not wait on memory.
            int tiled = batch - (batch % Tile);
            int block = BlockRows(k);
            ref byte next = ref Unsafe.Add(ref weights, p + 1 < w.Panels ? w.PanelBytes : 0);
            int lines = k * Row * TFormat.Bytes / 64;
            int fetched = 0;
            for (int group; b < tiled; b += group)
            {
                group = Math.Min(GroupRows, tiled - b);
                for (int k0 = 0; k0 < k; k0 += block)
                {
                    int count = Math.Min(block, k - k0);
                    ref byte blockRows = ref Unsafe.Add(ref weights, k0 * Row * TFormat.Bytes);
                    for (int r = 0; r < group; r += Tile)
                    {
                        // Past the next panel's end, the prefetches touch this block's own rows (already in the L1).
                        ref byte ahead = ref fetched + count <= lines ? ref Unsafe.Add(ref next, fetched * 64) : ref blockRows;
                        fetched += count;
                        ref float tile = ref Unsafe.Add(ref rz, r * Row);
                        Accumulate4Tile(
                            ref k0 == 0 ? ref Unsafe.Add(ref init, (b + r) * initStride) : ref tile, k0 == 0 ? initStride : Row, ref scale,
                            ref blockRows, ref Unsafe.Add(ref rv, ((b + r) * k) + k0), k, count, ref tile, Row, ref ahead);
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
