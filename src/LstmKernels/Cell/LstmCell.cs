using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using LstmKernels.Internal;

namespace LstmKernels;

/// <summary>
/// One LSTM cell with its weights packed once for the fused step. Steps a batch of B rows at a time with zero
/// allocation; safe to step from many threads at once (each on its own state).
/// </summary>
/// <remarks>
/// <para>Equations (PyTorch's <c>nn.LSTMCell</c>), gate order i, f, g, o:
/// <c>z = x·Wᵢₕᵀ + hPrev·Wₕₕᵀ + b; i, f, o = σ(zᵢ, z_f, zₒ); g = tanh(z_g); c = f⊙cPrev + i⊙g; h = o⊙tanh(c)</c>.</para>
/// <para>The step walks the packed weights once (panels of 16 units × 4 gates, one sequential stream per panel),
/// accumulates the gates in registers and applies the pointwise stage there; see docs/kernels.md for the
/// layout and the error bound against <see cref="Reference.ReferenceLstmCell"/>.</para>
/// <para>Thread safety: the packed weights are read-only after construction, and the only scratch a step uses
/// (a copy of <c>concat(x, hPrev)</c>) is per thread, so concurrent <see cref="Forward"/> calls on different
/// states are safe and give bitwise the same results as running them one after another.</para>
/// </remarks>
public sealed class LstmCell
{
    /// <summary>Shape text for length errors; constant so that a valid call builds no string.</summary>
    internal const string StateShape = "[B, H] with B = x.Length / InputSize";

    /// <summary>A sequence projects at most this many floats ahead (4 MiB: stays in L2/L3 until the recurrent steps read it).</summary>
    private const int ProjectionBudget = 1 << 20;

    /// <summary>The packed size up to which a batch-1 sequence uses the lookahead route.</summary>
    private const long LookaheadBudget = 4L << 20;

    /// <summary>The longest chunk of steps whose projection a second thread computes ahead (<see cref="StepThreads"/> = 2).</summary>
    private const int PipelineChunk = 16;

    /// <summary>The packed size from which <see cref="StepThreads"/> = 2 splits a sequence's steps by panels.</summary>
    private const long SplitMinBytes = 2L << 20;

    /// <summary>The B·I·H from which <see cref="StepThreads"/> = 2 pipelines a sequence's projection.</summary>
    private const long PipelineMinWork = 8192;

    /// <summary>The input size from which a batch-1 sequence uses the lookahead route.</summary>
    private const int LookaheadMinInput = 64;

    [ThreadStatic]
    private static float[]? stepInput;

    [ThreadStatic]
    private static float[]? sequenceProjection;

    [ThreadStatic]
    private static float[]? sequenceState;

    [ThreadStatic]
    private static float[]? sequenceInputs;

    private readonly PackedWeights packed;
    private readonly int stepThreads = 1;

    /// <summary>Packs the weights of <paramref name="parameters"/> for the fused step, as float32.</summary>
    /// <param name="parameters">The weights; copied, later changes to them are not seen by this cell.</param>
    /// <exception cref="ArgumentNullException"><paramref name="parameters"/> is null.</exception>
    public LstmCell(LstmParameters parameters)
        : this(parameters, WeightPrecision.Float32)
    {
    }

    /// <summary>Packs the weights of <paramref name="parameters"/> for the fused step, stored in <paramref name="precision"/>.</summary>
    /// <param name="parameters">The weights; copied (and rounded), later changes to them are not seen by this cell.</param>
    /// <param name="precision">How the packed weights are stored; arithmetic is float32 either way.</param>
    /// <exception cref="ArgumentNullException"><paramref name="parameters"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="precision"/> is not a defined value.</exception>
    public LstmCell(LstmParameters parameters, WeightPrecision precision)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (precision is not (WeightPrecision.Float32 or WeightPrecision.BFloat16 or WeightPrecision.Int8))
        {
            ThrowHelper.OutOfRange(nameof(precision), precision, "is not a defined WeightPrecision");
        }

        packed = new PackedWeights(parameters, precision, nameof(parameters));
    }

    /// <summary>I, the number of input features.</summary>
    public int InputSize => packed.Input;

    /// <summary>H, the number of hidden units.</summary>
    public int HiddenSize => packed.Hidden;

    /// <summary>
    /// Threads one <see cref="Forward"/> call may use: 1 (the default) or 2. With 2, the panels of a step are split
    /// between the calling thread and one thread-pool thread, and the call returns when both halves are done.
    /// This pays off only when a step is long enough to amortise handing work to another core (a few µs), so steps
    /// that stream less than 512 KiB of weights (B × <see cref="PackedBytes"/>) stay on the calling thread;
    /// docs/benchmarks.md has the measurements. Results are bitwise the same as with 1 thread.
    /// <see cref="ForwardSequence"/> with 2 splits every step's panels the same way when the packed weights take at
    /// least 2 MiB (bitwise the one-thread result). For smaller cells with B·I·H ≥ 8192 it instead projects the inputs
    /// of the next chunk of steps on a thread-pool thread while the caller runs the recurrent steps of this chunk; those
    /// results are deterministic and within the same bounds, but not bitwise those of 1 thread (the projection is
    /// tiled by chunk).
    /// Steady-state calls allocate nothing themselves (one reusable work item per calling thread); under heavy load
    /// from elsewhere, the thread pool's own queue may grow its storage. A call never waits long for a pool thread
    /// that has not started its half: after 200 µs the caller runs that half itself, so a busy or saturated pool
    /// makes a call as slow as one thread (plus that wait), never blocked.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not 1 or 2.</exception>
    public int StepThreads
    {
        get => stepThreads;
        init
        {
            if (value is not (1 or 2))
            {
                ThrowHelper.OutOfRange(nameof(StepThreads), value, "must be 1 or 2");
            }

            stepThreads = value;
        }
    }

    /// <summary>How the packed weights are stored.</summary>
    public WeightPrecision Precision => packed.Precision;

    /// <summary>Bytes of packed weights one step streams (each weight once, plus padding of the last panel).</summary>
    public long PackedBytes => packed.Bytes;

    /// <summary>
    /// The weights this cell computes with, in PyTorch layout: the parameters it was built from, rounded to its
    /// <see cref="Precision"/> (unchanged for float32). A <see cref="Reference.ReferenceLstmCell"/> built from them
    /// checks a reduced-precision cell to float32 bounds; the difference from the original parameters is the cost of
    /// the precision.
    /// </summary>
    /// <returns>New parameters; the bias is the cell's, unrounded.</returns>
    public LstmParameters GetEffectiveParameters()
    {
        int input = packed.Input, hidden = packed.Hidden;
        var p = new LstmParameters(input, hidden);
        Span<float> wIh = p.WeightIh, wHh = p.WeightHh, bias = p.Bias;
        for (int gate = 0; gate < 4; gate++)
        {
            for (int unit = 0; unit < hidden; unit++)
            {
                int row = (gate * hidden) + unit;
                bias[row] = Unsafe.Add(ref packed.Bias(unit / PackedWeights.Width), (gate * PackedWeights.Width) + (unit % PackedWeights.Width));
                for (int j = 0; j < input; j++)
                {
                    wIh[(row * input) + j] = packed.Effective(gate, unit, j);
                }

                for (int j = 0; j < hidden; j++)
                {
                    wHh[(row * hidden) + j] = packed.Effective(gate, unit, input + j);
                }
            }
        }

        return p;
    }

    /// <summary>One step for a batch of B = <c>x.Length / InputSize</c> rows.</summary>
    /// <param name="x">Inputs <c>[B, I]</c>.</param>
    /// <param name="hPrev">Previous hidden state <c>[B, H]</c>.</param>
    /// <param name="cPrev">Previous cell state <c>[B, H]</c>.</param>
    /// <param name="hNext">New hidden state <c>[B, H]</c>; may be the same memory as <paramref name="hPrev"/>.</param>
    /// <param name="cNext">New cell state <c>[B, H]</c>; may be the same memory as <paramref name="cPrev"/>.</param>
    /// <remarks>
    /// In place (<c>Forward(x, h, c, h, c)</c>) gives the same result as separate buffers. NaN or ∞ in an input
    /// propagates to the units that depend on it; finite inputs never give NaN.
    /// </remarks>
    /// <exception cref="ArgumentException">
    /// <paramref name="x"/> is not a whole number of rows of I, a state does not hold B·H values, or an output
    /// overlaps an input other than by the exact aliasing above (or the other output).
    /// </exception>
    public void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> hPrev, ReadOnlySpan<float> cPrev, Span<float> hNext, Span<float> cNext)
    {
        int input = packed.Input;
        int hidden = packed.Hidden;
        if (x.Length % input != 0)
        {
            ThrowHelper.NotMultiple(nameof(x), x.Length, input, $"rows of InputSize = {input}");
        }

        int batch = x.Length / input;
        long states = (long)batch * hidden;
        ThrowHelper.CheckLength(hPrev.Length, states, nameof(hPrev), StateShape);
        ThrowHelper.CheckLength(cPrev.Length, states, nameof(cPrev), StateShape);
        ThrowHelper.CheckLength(hNext.Length, states, nameof(hNext), StateShape);
        ThrowHelper.CheckLength(cNext.Length, states, nameof(cNext), StateShape);
        Aliasing.AllowExactOnly(hNext, hPrev, nameof(hNext), nameof(hPrev));
        Aliasing.Disjoint(hNext, x, nameof(hNext), nameof(x));
        Aliasing.Disjoint(hNext, cPrev, nameof(hNext), nameof(cPrev));
        Aliasing.Disjoint(hNext, cNext, nameof(hNext), nameof(cNext));
        Aliasing.AllowExactOnly(cNext, cPrev, nameof(cNext), nameof(cPrev));
        Aliasing.Disjoint(cNext, x, nameof(cNext), nameof(x));
        Aliasing.Disjoint(cNext, hPrev, nameof(cNext), nameof(hPrev));
        Step(batch, x, hPrev, cPrev, hNext, cNext);
    }

    /// <summary><see cref="Forward"/> after its checks.</summary>
    private void Step(int batch, ReadOnlySpan<float> x, ReadOnlySpan<float> hPrev, ReadOnlySpan<float> cPrev, Span<float> hNext, Span<float> cNext)
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
        bool guarded = (OverflowGuard.MaxMagnitude(x) > safe || OverflowGuard.MaxMagnitude(hPrev) > safe) && OverflowGuard.Prepare(packed, batch, v, cPrev);
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
            OverflowGuard.Apply(packed, batch, v, hNext, cNext);
        }
    }

    /// <summary>
    /// Runs a whole sequence through the cell: T steps of B rows, time-major. The input projection
    /// <c>x·Wᵢₕᵀ + b</c> does not depend on h, so it is computed for many steps at once, as a matrix-matrix pass over
    /// Wᵢₕ, and each step only streams Wₕₕ. At batch 1 (float32, AVX-512, I ≥ 64, weights up to 4 MiB) the projection
    /// of the next 8 steps is folded into the current steps' loops instead, where the FMA units would otherwise wait
    /// for Wₕₕ. With <see cref="StepThreads"/> = 2, each step is split by panels between two threads (weights of 2 MiB
    /// and more), or the projection runs on the second thread, a chunk ahead.
    /// </summary>
    /// <param name="xs">Inputs <c>[T, B, I]</c>; T = <c>xs.Length / (B·I)</c>.</param>
    /// <param name="h0">Initial hidden state <c>[B, H]</c>; its length sets B.</param>
    /// <param name="c0">Initial cell state <c>[B, H]</c>.</param>
    /// <param name="ys">Every hidden state <c>[T, B, H]</c> (<c>ys[t]</c> = h after step t), or empty to keep only the last.</param>
    /// <param name="hT">Final hidden state <c>[B, H]</c>; may be the same memory as <paramref name="h0"/>.</param>
    /// <param name="cT">Final cell state <c>[B, H]</c>; may be the same memory as <paramref name="c0"/>.</param>
    /// <remarks>
    /// Gives the same values as T calls of <see cref="Forward"/> up to the order of the float additions: the
    /// input half and the recurrent half are summed separately (bound in docs/kernels.md). Zero allocation after the
    /// first call on a thread with the largest shape; thread-safe like <see cref="Forward"/>.
    /// </remarks>
    /// <exception cref="ArgumentException">
    /// <paramref name="h0"/> is not a whole number of rows of H, <paramref name="xs"/> not a whole number of steps
    /// of <c>[B, I]</c>, another length does not fit, or an output overlaps an input other than by the exact aliasing
    /// above.
    /// </exception>
    public void ForwardSequence(ReadOnlySpan<float> xs, ReadOnlySpan<float> h0, ReadOnlySpan<float> c0, Span<float> ys, Span<float> hT, Span<float> cT)
    {
        int input = packed.Input;
        int hidden = packed.Hidden;
        if (h0.Length % hidden != 0)
        {
            ThrowHelper.NotMultiple(nameof(h0), h0.Length, hidden, "rows of HiddenSize");
        }

        int batch = h0.Length / hidden;
        long step = (long)batch * input;
        if (batch == 0 ? xs.Length != 0 : xs.Length % step != 0)
        {
            ThrowHelper.NotMultiple(nameof(xs), xs.Length, step, "steps of [B, I] with B = h0.Length / HiddenSize");
        }

        int steps = batch == 0 ? 0 : (int)(xs.Length / step);
        int states = batch * hidden;
        ThrowHelper.CheckLength(c0.Length, states, nameof(c0), "[B, H] with B = h0.Length / HiddenSize");
        ThrowHelper.CheckLength(hT.Length, states, nameof(hT), "[B, H] with B = h0.Length / HiddenSize");
        ThrowHelper.CheckLength(cT.Length, states, nameof(cT), "[B, H] with B = h0.Length / HiddenSize");
        if (!ys.IsEmpty)
        {
            ThrowHelper.CheckLength(ys.Length, (long)steps * states, nameof(ys), "[T, B, H], or empty");
        }

        Aliasing.Disjoint(ys, xs, nameof(ys), nameof(xs));
        Aliasing.Disjoint(ys, h0, nameof(ys), nameof(h0));
        Aliasing.Disjoint(ys, c0, nameof(ys), nameof(c0));
        Aliasing.Disjoint(ys, hT, nameof(ys), nameof(hT));
        Aliasing.Disjoint(ys, cT, nameof(ys), nameof(cT));
        Aliasing.AllowExactOnly(hT, h0, nameof(hT), nameof(h0));
        Aliasing.Disjoint(hT, xs, nameof(hT), nameof(xs));
        Aliasing.Disjoint(hT, c0, nameof(hT), nameof(c0));
        Aliasing.Disjoint(hT, cT, nameof(hT), nameof(cT));
        Aliasing.AllowExactOnly(cT, c0, nameof(cT), nameof(c0));
        Aliasing.Disjoint(cT, xs, nameof(cT), nameof(xs));
        Aliasing.Disjoint(cT, h0, nameof(cT), nameof(h0));

        // Overflow guard: after step 1, |h| ≤ 1 (or h is NaN), so the inputs and h0 bound every step. If a float sum could
        // overflow, step one at a time: Forward's guard then computes the affected rows in double.
        float safe = packed.SafeInput;
        if (steps > 0 && (OverflowGuard.MaxMagnitude(xs) > safe || OverflowGuard.MaxMagnitude(h0) > safe || safe < 1f))
        {
            StepSequence(steps, batch, xs, h0, c0, ys, hT, cT);
            return;
        }

        switch (Kernels.ActivePath)
        {
            case SimdPath.Vector512: RunSequence<Panel512, Vector512<float>>(steps, batch, xs, h0, c0, ys, hT, cT); break;
            case SimdPath.Vector256: RunSequence<Panel256, Pair256>(steps, batch, xs, h0, c0, ys, hT, cT); break;
            case SimdPath.Vector128: RunSequence<Panel128, Quad128>(steps, batch, xs, h0, c0, ys, hT, cT); break;
            default: RunSequence<PanelScalar, Scalar16>(steps, batch, xs, h0, c0, ys, hT, cT); break;
        }
    }

    /// <summary>The sequence as <paramref name="steps"/> guarded single steps, for inputs that could overflow the fused route.</summary>
    private void StepSequence(int steps, int batch, ReadOnlySpan<float> xs, ReadOnlySpan<float> h0, ReadOnlySpan<float> c0, Span<float> ys, Span<float> hT, Span<float> cT)
    {
        int states = batch * packed.Hidden;
        int stepInputs = batch * packed.Input;
        h0.CopyTo(hT);
        c0.CopyTo(cT);
        for (int t = 0; t < steps; t++)
        {
            Step(batch, xs.Slice(t * stepInputs, stepInputs), hT, cT, hT, cT);
            if (!ys.IsEmpty)
            {
                hT.CopyTo(ys.Slice(t * states, states));
            }
        }
    }

    private void RunSequence<TPanel, TP>(
        int steps, int batch, ReadOnlySpan<float> xs, ReadOnlySpan<float> h0, ReadOnlySpan<float> c0, Span<float> ys, Span<float> hT, Span<float> cT)
        where TPanel : struct, IPanel<TP>
        where TP : struct
    {
        switch (packed.Precision)
        {
            case WeightPrecision.Float32: RunSequence<TPanel, TP, Float32Weights>(steps, batch, xs, h0, c0, ys, hT, cT); break;
            case WeightPrecision.BFloat16: RunSequence<TPanel, TP, BFloat16Weights>(steps, batch, xs, h0, c0, ys, hT, cT); break;
            default: RunSequence<TPanel, TP, Int8Weights>(steps, batch, xs, h0, c0, ys, hT, cT); break;
        }
    }

    private void RunSequence<TPanel, TP, TFormat>(
        int steps, int batch, ReadOnlySpan<float> xs, ReadOnlySpan<float> h0, ReadOnlySpan<float> c0, Span<float> ys, Span<float> hT, Span<float> cT)
        where TPanel : struct, IPanel<TP>
        where TP : struct
        where TFormat : struct, IWeightFormat
    {
        if (UsesSplit(steps))
        {
            RunSplit<TPanel, TP, TFormat>(steps, batch, xs, h0, c0, ys, hT, cT);
            return;
        }

        if (UsesPipeline(steps, batch))
        {
            RunPipelined<TPanel, TP, TFormat>(steps, batch, xs, h0, c0, ys, hT, cT);
            return;
        }

        if (UsesLookahead<TPanel, TP, TFormat>(steps, batch))
        {
            RunLookahead<TPanel, TP, TFormat>(steps, xs, h0, c0, ys, hT, cT);
            return;
        }

        int states = batch * packed.Hidden;
        int stepInputs = batch * packed.Input;
        int stepProjection = batch * packed.ProjectionFloats;

        // Project a chunk of steps ahead, not the whole sequence: the buffer stays small and cache-resident.
        int chunk = Math.Clamp(ProjectionBudget / Math.Max(stepProjection, 1), 1, Math.Max(steps, 1));
        Span<float> projection = Scratch(ref sequenceProjection, chunk * stepProjection);

        StartState(states, h0, c0, cT, out Span<float> hPrev, out Span<float> hNext);

        for (int t0 = 0; t0 < steps; t0 += chunk)
        {
            int count = Math.Min(chunk, steps - t0);
            Span<float> chunkProjection = projection[..(count * stepProjection)];
            FusedStep<TPanel, TP, TFormat>.Project(packed, count * batch, xs.Slice(t0 * stepInputs, count * stepInputs), chunkProjection);
            RecurrentSteps<TPanel, TP, TFormat>(batch, chunkProjection, t0, count, ref hPrev, ref hNext, cT, ys);
        }

        hPrev.CopyTo(hT);
    }

    /// <summary>
    /// The B × packed bytes from which <see cref="StepThreads"/> = 2 splits a <see cref="Forward"/> step; smaller steps
    /// run on the caller alone. Settable (tests set 0) only to exercise the split on small cells.
    /// </summary>
    internal long ParallelStepMinBytes { get; init; } = 512 << 10;

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
    /// more than one step, B·I·H ≥ <see cref="PipelineMinWork"/>, and weights too small for <see cref="UsesSplit"/>.
    /// Below that work, handing each chunk over costs more than it saves (measured at batch 1: 0.82x the speed of one
    /// thread at 32x64, 1.1–1.2x faster at 96x96, 128x64, 128x128 and 192x192).
    /// </summary>
    internal bool UsesPipeline(int steps, int batch) =>
        stepThreads > 1 && steps > 1 && (long)batch * packed.Input * packed.Hidden >= PipelineMinWork && !UsesSplit(steps);

    /// <summary>
    /// Whether <see cref="ForwardSequence"/> splits every step by panels between two threads: with
    /// <see cref="StepThreads"/> = 2, more than one step, and packed weights of at least <see cref="SplitMinBytes"/>.
    /// Measured at batch 1, T = 64, per step: 11.4 µs at 256x256 (pipeline 13.0, one thread 16.5), 46 µs at 512x512
    /// (62, 82) and 196 µs at 1024x1024 (323, 360); below 2 MiB the per-step hand-over costs more (192x192: 8.5 µs
    /// against the pipeline's 7.4).
    /// </summary>
    internal bool UsesSplit(int steps) => stepThreads > 1 && steps > 1 && packed.Panels > 1 && packed.Bytes >= SplitMinBytes;

    /// <summary>Whether <see cref="ForwardSequence"/> takes the lookahead route on the active SIMD path for this shape.</summary>
    internal bool UsesLookahead(int steps, int batch) => Kernels.ActivePath switch
    {
        SimdPath.Vector512 => UsesLookahead<Panel512, Vector512<float>, Float32Weights>(steps, batch),
        SimdPath.Vector256 => UsesLookahead<Panel256, Pair256, Float32Weights>(steps, batch),
        SimdPath.Vector128 => UsesLookahead<Panel128, Quad128, Float32Weights>(steps, batch),
        _ => UsesLookahead<PanelScalar, Scalar16, Float32Weights>(steps, batch),
    };

    /// <summary>
    /// The lookahead route needs one-vector panels (its 24 accumulators take most of AVX-512's 32 registers), float32
    /// weights, batch 1 and more than one chunk of steps. It pays when the projection is a real share of the step
    /// (I ≥ <see cref="LookaheadMinInput"/>: measured 0.88–0.91x the time of the separate pass at 64x64, 128x128,
    /// 512x128 and 384x384, but 1.02–1.05x at 32x64 and 32x128) and while all the weights stay in the cache: it
    /// touches Wᵢₕ and Wₕₕ every step, where the separate pass reads Wₕₕ alone for a whole chunk. Once both no longer
    /// fit in this core's share of L3, Wₕₕ falls out between steps: 1.46x slower at 640x640 and 1.66x at 1024x1024.
    /// At 512x512 (8 MiB) it was 0.88–0.95x in a quiet probe but 1.2x slower in two BenchmarkDotNet runs, so the
    /// edge moves with the load on the shared L3; <see cref="LookaheadBudget"/> (4 MiB) keeps a margin below it.
    /// </summary>
    private bool UsesLookahead<TPanel, TP, TFormat>(int steps, int batch)
        where TPanel : struct, IPanel<TP>
        where TP : struct
        where TFormat : struct, IWeightFormat =>
        batch == 1 && steps > FusedStep<TPanel, TP, TFormat>.ChunkSteps && FusedStep<TPanel, TP, TFormat>.CanLookahead
        && packed.Precision == WeightPrecision.Float32 && packed.Input >= LookaheadMinInput && packed.Bytes <= LookaheadBudget
        && LookaheadEnabled && !UsesPipeline(steps, batch);

    /// <summary>
    /// A batch-1 sequence with each chunk's input projection computed inside the previous chunk's recurrent steps
    /// (<see cref="FusedStep{TPanel, TP, TFormat}.Lookahead"/>); the first chunk is projected on its own.
    /// </summary>
    private void RunLookahead<TPanel, TP, TFormat>(
        int steps, ReadOnlySpan<float> xs, ReadOnlySpan<float> h0, ReadOnlySpan<float> c0, Span<float> ys, Span<float> hT, Span<float> cT)
        where TPanel : struct, IPanel<TP>
        where TP : struct
        where TFormat : struct, IWeightFormat
    {
        const int Chunk = FusedStep<TPanel, TP, TFormat>.ChunkSteps;
        int input = packed.Input;
        int hidden = packed.Hidden;
        int stride = packed.ProjectionFloats;
        Span<float> projections = Scratch(ref sequenceProjection, 2 * Chunk * stride);
        Span<float> current = projections[..(Chunk * stride)];
        Span<float> next = projections[(Chunk * stride)..];
        Span<float> xt = Scratch(ref sequenceInputs, Chunk * input);
        StartState(hidden, h0, c0, cT, out Span<float> hPrev, out Span<float> hNext);

        FusedStep<TPanel, TP, TFormat>.Project(packed, Chunk, xs[..(Chunk * input)], current);
        for (int t0 = 0; t0 < steps; t0 += Chunk)
        {
            int count = Math.Min(Chunk, steps - t0);
            int ahead = Math.Min(Chunk, steps - t0 - Chunk);
            if (ahead > 0)
            {
                // The next chunk's inputs, transposed so that each row's eight values sit together; missing steps are 0.
                ReadOnlySpan<float> x = xs.Slice((t0 + Chunk) * input, ahead * input);
                xt.Clear();
                for (int s = 0; s < ahead; s++)
                {
                    for (int r = 0; r < input; r++)
                    {
                        xt[(r * Chunk) + s] = x[(s * input) + r];
                    }
                }
            }

            for (int t = 0; t < count; t++)
            {
                ReadOnlySpan<float> projection = current.Slice(t * stride, stride);
                if (ahead > 0)
                {
                    FusedStep<TPanel, TP, TFormat>.Lookahead(packed, t, projection, xt, next, hPrev, cT, hNext, cT);
                }
                else
                {
                    FusedStep<TPanel, TP, TFormat>.Recurrent(packed, 1, projection, hPrev, cT, hNext, cT);
                }

                Advance(t0 + t, ref hPrev, ref hNext, ys);
            }

            Span<float> done = current;
            current = next;
            next = done;
        }

        hPrev.CopyTo(hT);
    }

    /// <summary>
    /// A sequence on two threads (<see cref="StepThreads"/> = 2): while the caller runs the recurrent steps of one
    /// chunk, a thread-pool thread projects the next chunk's inputs. Chunks double from 2 steps up to
    /// <see cref="PipelineChunk"/>, so that only the first, short one is projected before any step can start.
    /// </summary>
    private unsafe void RunPipelined<TPanel, TP, TFormat>(
        int steps, int batch, ReadOnlySpan<float> xs, ReadOnlySpan<float> h0, ReadOnlySpan<float> c0, Span<float> ys, Span<float> hT, Span<float> cT)
        where TPanel : struct, IPanel<TP>
        where TP : struct
        where TFormat : struct, IWeightFormat
    {
        int states = batch * packed.Hidden;
        int stepInputs = batch * packed.Input;
        int stepProjection = batch * packed.ProjectionFloats;
        int chunk = Math.Clamp(ProjectionBudget / 2 / Math.Max(stepProjection, 1), 1, PipelineChunk);
        Span<float> projections = Scratch(ref sequenceProjection, 2 * chunk * stepProjection);
        StartState(states, h0, c0, cT, out Span<float> hPrev, out Span<float> hNext);

        ParallelSequence<TPanel, TP, TFormat> work = ParallelSequence<TPanel, TP, TFormat>.ForThread();
        fixed (float* inputs = xs, buffers = projections)
        {
            // The worker reads xs and writes one half of the buffer while the steps read the other half.
            float* current = buffers;
            float* next = buffers + (chunk * stepProjection);
            int count = Math.Min(Math.Min(2, chunk), steps);
            FusedStep<TPanel, TP, TFormat>.Project(packed, count * batch, xs[..(count * stepInputs)], new Span<float>(current, count * stepProjection));
            for (int t0 = 0; t0 < steps;)
            {
                int start = t0 + count;
                int ahead = Math.Min(Math.Min(2 * count, chunk), steps - start);
                if (ahead > 0)
                {
                    work.BeginProject(packed, 0, packed.Panels, ahead * batch, inputs + ((long)start * stepInputs), next);
                }

                try
                {
                    RecurrentSteps<TPanel, TP, TFormat>(batch, new ReadOnlySpan<float>(current, count * stepProjection), t0, count, ref hPrev, ref hNext, cT, ys);
                }
                finally
                {
                    // The worker reads the pinned inputs and writes the pinned buffer: never unpin before it is done.
                    if (ahead > 0)
                    {
                        work.End();
                    }
                }

                work.ThrowIfFailed();

                float* done = current;
                current = next;
                next = done;
                t0 = start;
                count = ahead;
            }
        }

        hPrev.CopyTo(hT);
    }

    /// <summary>
    /// A sequence on two threads (<see cref="StepThreads"/> = 2) for large cells: every chunk's projection and every
    /// recurrent step is split by panels, the caller taking [0, P/2) and a thread-pool thread the rest, as
    /// <see cref="Forward"/> does. Each thread streams half the weights, so the two cores' caches and memory bandwidth
    /// add up; the hand-over per step is small against a step of this size.
    /// </summary>
    private unsafe void RunSplit<TPanel, TP, TFormat>(
        int steps, int batch, ReadOnlySpan<float> xs, ReadOnlySpan<float> h0, ReadOnlySpan<float> c0, Span<float> ys, Span<float> hT, Span<float> cT)
        where TPanel : struct, IPanel<TP>
        where TP : struct
        where TFormat : struct, IWeightFormat
    {
        int states = batch * packed.Hidden;
        int stepInputs = batch * packed.Input;
        int stepProjection = batch * packed.ProjectionFloats;
        int chunk = Math.Clamp(ProjectionBudget / Math.Max(stepProjection, 1), 1, Math.Max(steps, 1));
        Span<float> projection = Scratch(ref sequenceProjection, chunk * stepProjection);
        StartState(states, h0, c0, cT, out Span<float> hPrev, out Span<float> hNext);
        int split = packed.Panels / 2;
        int end = packed.Panels;
        ParallelSequence<TPanel, TP, TFormat> work = ParallelSequence<TPanel, TP, TFormat>.ForThread();
        fixed (float* inputs = xs, buffer = projection, c = cT)
        {
            for (int t0 = 0; t0 < steps; t0 += chunk)
            {
                int count = Math.Min(chunk, steps - t0);
                int rows = count * batch;
                work.BeginProject(packed, split, end, rows, inputs + ((long)t0 * stepInputs), buffer);
                try
                {
                    FusedStep<TPanel, TP, TFormat>.Project(packed, 0, split, rows, xs.Slice(t0 * stepInputs, rows * packed.Input), projection[..(count * stepProjection)]);
                }
                finally
                {
                    work.End();
                }

                work.ThrowIfFailed();
                for (int t = 0; t < count; t++)
                {
                    fixed (float* hp = hPrev, hn = hNext)
                    {
                        ReadOnlySpan<float> stepRows = projection.Slice(t * stepProjection, stepProjection);
                        work.BeginRecurrent(packed, split, end, batch, buffer + ((long)t * stepProjection), hp, c, hn);
                        try
                        {
                            FusedStep<TPanel, TP, TFormat>.Recurrent(packed, 0, split, batch, stepRows, hPrev, cT, hNext, cT);
                        }
                        finally
                        {
                            work.End();
                        }
                    }

                    work.ThrowIfFailed();

                    Advance(t0 + t, ref hPrev, ref hNext, ys);
                }
            }
        }

        hPrev.CopyTo(hT);
    }

    /// <summary>
    /// Starts a sequence's state: h ping-pongs between the two halves of a per-thread buffer, because every panel of a
    /// recurrent step reads all of hPrev; c is updated in place in <paramref name="cT"/> (each unit reads only its own
    /// previous value), starting from <paramref name="c0"/> unless that is the same memory.
    /// </summary>
    private static void StartState(int states, ReadOnlySpan<float> h0, ReadOnlySpan<float> c0, Span<float> cT, out Span<float> hPrev, out Span<float> hNext)
    {
        Span<float> state = Scratch(ref sequenceState, 2 * states);
        hPrev = state[..states];
        hNext = state[states..];
        h0.CopyTo(hPrev);
        if (!Unsafe.AreSame(ref MemoryMarshal.GetReference(cT), ref MemoryMarshal.GetReference(c0)))
        {
            c0.CopyTo(cT);
        }
    }

    /// <summary>Steps t0 … t0 + count − 1, each from its rows of <paramref name="projection"/>.</summary>
    private void RecurrentSteps<TPanel, TP, TFormat>(
        int batch, ReadOnlySpan<float> projection, int t0, int count, ref Span<float> hPrev, ref Span<float> hNext, Span<float> cT, Span<float> ys)
        where TPanel : struct, IPanel<TP>
        where TP : struct
        where TFormat : struct, IWeightFormat
    {
        int stepProjection = batch * packed.ProjectionFloats;
        for (int t = 0; t < count; t++)
        {
            FusedStep<TPanel, TP, TFormat>.Recurrent(packed, batch, projection.Slice(t * stepProjection, stepProjection), hPrev, cT, hNext, cT);
            Advance(t0 + t, ref hPrev, ref hNext, ys);
        }
    }

    /// <summary>After step <paramref name="t"/>: its h into <c>ys[t]</c> (unless ys is empty), and hNext becomes hPrev.</summary>
    private static void Advance(int t, ref Span<float> hPrev, ref Span<float> hNext, Span<float> ys)
    {
        if (!ys.IsEmpty)
        {
            hNext.CopyTo(ys.Slice(t * hNext.Length, hNext.Length));
        }

        Span<float> swap = hPrev;
        hPrev = hNext;
        hNext = swap;
    }

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
}
