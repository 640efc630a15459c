using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using LstmKernels.Internal;

namespace LstmKernels;

/// <summary>The routes of a step and of a sequence, chosen per call from the shape, the weights and <see cref="StepThreads"/>; the per-thread scratch.</summary>
public sealed partial class LstmCell
{
    private long? parallelStepMinBytes;

    [ThreadStatic]
    private static float[]? stepInput;

    [ThreadStatic]
    private static float[]? sequenceProjection;

    [ThreadStatic]
    private static float[]? sequenceState;

    [ThreadStatic]
    private static float[]? sequenceInputs;

    /// <summary><see cref="Forward"/> after its checks; internal callers (the layers' sessions) that checked their own arguments come here.</summary>
    internal void StepCore(int batch, ReadOnlySpan<float> x, ReadOnlySpan<float> hPrev, ReadOnlySpan<float> cPrev, Span<float> hNext, Span<float> cNext)
    {
        int input = packed.Input;
        int hidden = packed.Hidden;

        // The step reads all of hPrev for every panel, so it works from a per-thread copy of concat(x, hPrev):
        // hNext may then overwrite hPrev, and x and h are one contiguous input per row.
        int k = input + hidden;
        Span<float> v = StepInput(batch * k);
        for (int b = 0; b < batch; b++)
        {
            x.Slice(b * input, input).CopyTo(v.Slice(b * k, input));
            hPrev.Slice(b * hidden, hidden).CopyTo(v.Slice((b * k) + input, hidden));
        }

        // Overflow guard (docs/numerics.md): rows whose inputs are large enough for a float sum to overflow are computed
        // in double first (cNext may overwrite cPrev) and written over the fast path's results. NaN does not count.
        float safe = packed.SafeInput;
        bool guarded = (OverflowGuard.MaxMagnitude(x) > safe || OverflowGuard.MaxMagnitude(hPrev) > safe) && CellOverflowGuard.Prepare(packed, batch, v, cPrev);
        if (UsesParallelStep(batch))
        {
            ParallelStep.Run(packed, packed.Panels / 2, batch, v, cPrev, hNext, cNext);
        }
        else
        {
            ParallelStep.Dispatch(packed, 0, packed.Panels, batch, v, cPrev, hNext, cNext);
        }

        if (guarded)
        {
            CellOverflowGuard.Apply(packed, batch, v, hNext, cNext);
        }
    }

    /// <summary>
    /// The route thresholds of this cell: <see cref="RoutePolicy.Machine"/> (from this machine's caches) unless a test or
    /// the route probe sets another (a synthetic cache table, or one threshold forced).
    /// </summary>
    internal RoutePolicy Routes { get; init; } = RoutePolicy.Machine;

    /// <summary>
    /// The B × packed bytes from which <see cref="StepThreads"/> = 2 splits a <see cref="Forward"/> step; smaller steps
    /// run on the caller alone. <see cref="RoutePolicy.ParallelStepMinBytes"/> of <see cref="Routes"/> unless set (tests
    /// set 0 to exercise the split on small cells).
    /// </summary>
    internal long ParallelStepMinBytes
    {
        get => parallelStepMinBytes ?? Routes.ParallelStepMinBytes;
        init => parallelStepMinBytes = value;
    }

    /// <summary>
    /// Whether <see cref="Forward"/> splits a step of <paramref name="batch"/> rows between two threads. Below
    /// <see cref="ParallelStepMinBytes"/> of weights streamed per call the hand-over costs more than it saves
    /// (BenchmarkDotNet at batch 1: 1.45x slower at 32x64 with 96 KiB, 1.04–1.14x faster at 128x128 with 512 KiB).
    /// </summary>
    internal bool UsesParallelStep(int batch) => stepThreads > 1 && packed.Panels > 1 && (long)batch * packed.Bytes >= ParallelStepMinBytes;

    /// <summary>Whether a batch-1 sequence may fold its input projection into the recurrent steps; off only to measure the difference.</summary>
    internal bool LookaheadEnabled { get; init; } = true;

    /// <summary>
    /// Whether <see cref="ForwardSequence"/> projects the next chunk on a second thread: with <see cref="StepThreads"/> = 2,
    /// more than one step, B·I·H ≥ <see cref="RoutePolicy.PipelineMinWork"/>, and weights too small for <see cref="UsesSplit"/>.
    /// Below that work, handing each chunk over costs more than it saves (measured at batch 1: 0.82x the speed of one
    /// thread at 32x64, 1.1–1.2x faster at 96x96, 128x64, 128x128 and 192x192).
    /// </summary>
    internal bool UsesPipeline(int steps, int batch) =>
        stepThreads > 1 && steps > 1 && Routes.PipelineSequence((long)batch * packed.Input * packed.Hidden) && !UsesSplit(steps);

    /// <summary>
    /// Whether <see cref="ForwardSequence"/> splits every step by panels between two threads: with
    /// <see cref="StepThreads"/> = 2, more than one step, and packed weights of at least <see cref="RoutePolicy.SplitMinBytes"/>.
    /// Measured at batch 1, T = 64, per step: 11.4 µs at 256x256 (pipeline 13.0, one thread 16.5), 46 µs at 512x512
    /// (62, 82) and 196 µs at 1024x1024 (323, 360); below 2 MiB the per-step hand-over costs more (192x192: 8.5 µs
    /// against the pipeline's 7.4).
    /// </summary>
    internal bool UsesSplit(int steps) => stepThreads > 1 && steps > 1 && packed.Panels > 1 && Routes.SplitSequence(packed.Bytes);

    /// <summary>Whether <see cref="ForwardSequence"/> takes the lookahead route on the active SIMD path for this shape.</summary>
    internal bool UsesLookahead(int steps, int batch)
    {
        var query = new LookaheadQuery(this, steps, batch);
        SimdDispatch.Run(ref query);
        return query.Result;
    }

    /// <summary>
    /// The lookahead route needs one-vector panels (its 24 accumulators take most of AVX-512's 32 registers), float32
    /// weights, batch 1 and more than one chunk of steps. It pays when the projection is a real share of the step
    /// (I ≥ <see cref="RoutePolicy.LookaheadMinInput"/>: measured 0.88–0.91x the time of the separate pass at 64x64, 128x128,
    /// 512x128 and 384x384, but 1.02–1.05x at 32x64 and 32x128) and while all the weights stay in the cache: it
    /// touches Wᵢₕ and Wₕₕ every step, where the separate pass reads Wₕₕ alone for a whole chunk. Once both no longer
    /// fit in this core's share of L3, Wₕₕ falls out between steps: 1.46x slower at 640x640 and 1.66x at 1024x1024.
    /// At 512x512 (8 MiB) it was 0.88–0.95x in a quiet probe but 1.2x slower in two BenchmarkDotNet runs, so the
    /// edge moves with the load on the shared L3; <see cref="RoutePolicy.LookaheadBudget"/> (4 MiB there) keeps a margin below it.
    /// Those are Zen 4 numbers (1 MiB L2, a fast L3). On the Intel guest (2 MiB L2, an L3 a quarter as fast for one core)
    /// it is 0.96–0.99x up to 1.25 MiB but 1.05–1.18x slower from 1.5 MiB (224x224, 240x240, 256x256: Wₕₕ would fit the
    /// L2 alone, both do not), so the budget there is half the L2 (<c>bench -- --routes</c>, docs/benchmarks.md).
    /// </summary>
    private bool UsesLookahead<TPanel, TP, TFormat>(int steps, int batch)
        where TPanel : struct, IPanel<TP>
        where TP : struct
        where TFormat : struct, IWeightFormat =>
        batch == 1 && steps > FusedStep<TPanel, TP, TFormat>.ChunkSteps && FusedStep<TPanel, TP, TFormat>.CanLookahead
        && packed.Precision == WeightPrecision.Float32 && Routes.Lookahead(packed.Bytes, packed.Input)
        && LookaheadEnabled && !UsesPipeline(steps, batch);

    private static Span<float> StepInput(int length) => Scratch(ref stepInput, length);

    /// <summary>A per-thread buffer of at least <paramref name="length"/> floats; grows, never shrinks.</summary>
    private static Span<float> Scratch(ref float[]? field, int length)
    {
        float[]? buffer = field;
        if (buffer is null || buffer.Length < length)
        {
            // Grows once per thread to the largest step seen; steady-state steps allocate nothing.
            field = buffer = new float[Math.Max(length, 256)];
        }

        return buffer.AsSpan(0, length);
    }

    /// <summary>Asks <see cref="UsesLookahead{TPanel, TP, TFormat}"/> on the active path (float32 weights).</summary>
    private ref struct LookaheadQuery(LstmCell cell, int steps, int batch) : IPanelAction
    {
        public bool Result { get; private set; }

        public void Run<TPanel, TP>()
            where TPanel : struct, IPanel<TP>
            where TP : struct =>
            Result = cell.UsesLookahead<TPanel, TP, Float32Weights>(steps, batch);
    }
}
