using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using LstmKernels.Internal;

namespace LstmKernels;

/// <summary>The sequence core: a sequence read through a <see cref="SequenceInput"/> view and written through a <see cref="SequenceOutput"/> view, on each route.</summary>
public sealed partial class LstmCell
{
    /// <summary>
    /// <see cref="ForwardSequence"/> after its checks, for any layout: the inputs are read through <paramref name="x"/>
    /// (time-major or batch-first, forward or reversed, one row or all) and every h is written once through
    /// <paramref name="y"/>, straight into its place. Internal callers (the layers) check their own arguments once and
    /// come here.
    /// </summary>
    internal void SequenceCore(int batch, scoped in SequenceInput x, ReadOnlySpan<float> h0, ReadOnlySpan<float> c0, scoped in SequenceOutput y, Span<float> hT, Span<float> cT)
    {
        int steps = x.Steps;

        // Overflow guard: after step 1, |h| ≤ 1 (or h is NaN), so the inputs and h0 bound every step. If a float sum could
        // overflow, step one at a time: Forward's guard then computes the affected rows in double.
        float safe = packed.SafeInput;
        if (steps > 0 && (OverflowGuard.MaxMagnitude(x.All) > safe || OverflowGuard.MaxMagnitude(h0) > safe || safe < 1f))
        {
            StepSequence(batch, x, h0, c0, y, hT, cT);
            return;
        }

        var run = new SequenceAction(this, batch, x, h0, c0, y, hT, cT);
        FormatDispatch.Run(packed.Precision, ref run);
    }

    /// <summary>The sequence as guarded single steps, for inputs that could overflow the fused route.</summary>
    private void StepSequence(int batch, scoped in SequenceInput x, ReadOnlySpan<float> h0, ReadOnlySpan<float> c0, scoped in SequenceOutput y, Span<float> hT, Span<float> cT)
    {
        int input = packed.Input;
        h0.CopyTo(hT);
        c0.CopyTo(cT);
        Span<float> rows = Scratch(ref sequenceInputs, batch * input);
        for (int t = 0; t < x.Steps; t++)
        {
            for (int b = 0; b < batch; b++)
            {
                x.Row(t, b).CopyTo(rows.Slice(b * input, input));
            }

            StepCore(batch, rows, hT, cT, hT, cT);
            y.Write(t, hT);
        }
    }

    private void RunSequence<TPanel, TP, TFormat>(
        int batch, scoped in SequenceInput x, ReadOnlySpan<float> h0, ReadOnlySpan<float> c0, scoped in SequenceOutput y, Span<float> hT, Span<float> cT)
        where TPanel : struct, IPanel<TP>
        where TP : struct
        where TFormat : struct, IWeightFormat
    {
        int steps = x.Steps;
        bool split = UsesSplit(steps);
        if (split || UsesPipeline(steps, batch))
        {
            // The second thread reads the inputs through a pointer as one forward block; other layouts are gathered
            // into one first (a copy these routes pay only for reversed or batch-first inputs).
            ReadOnlySpan<float> xs = x.IsForwardBlock
                ? x.Block(0, steps, default)
                : x.ToForwardBlock(Scratch(ref sequenceInputs, steps * batch * packed.Input)).Block(0, steps, default);
            if (split)
            {
                RunSplit<TPanel, TP, TFormat>(steps, batch, xs, h0, c0, y, hT, cT);
            }
            else
            {
                RunPipelined<TPanel, TP, TFormat>(steps, batch, xs, h0, c0, y, hT, cT);
            }

            return;
        }

        if (UsesLookahead<TPanel, TP, TFormat>(steps, batch))
        {
            RunLookahead<TPanel, TP, TFormat>(x, h0, c0, y, hT, cT);
            return;
        }

        int states = batch * packed.Hidden;
        int stepInputs = batch * packed.Input;
        int stepProjection = batch * packed.ProjectionFloats;

        // Project a chunk of steps ahead, not the whole sequence: the buffer stays small and cache-resident.
        int chunk = Routes.ProjectionChunk(stepProjection, steps);
        Span<float> projection = Scratch(ref sequenceProjection, chunk * stepProjection);
        Span<float> gather = x.IsBlock ? default : Scratch(ref sequenceInputs, chunk * stepInputs);

        StartState(states, h0, c0, cT, out Span<float> hPrev, out Span<float> hNext);

        for (int t0 = 0; t0 < steps; t0 += chunk)
        {
            // A reversed sequence projects its chunk in time order and steps through it backwards.
            int count = Math.Min(chunk, steps - t0);
            Span<float> chunkProjection = projection[..(count * stepProjection)];
            FusedStep<TPanel, TP, TFormat>.Project(packed, count * batch, x.Block(t0, count, gather), chunkProjection);
            RecurrentSteps<TPanel, TP, TFormat>(batch, chunkProjection, x.Reverse, t0, count, ref hPrev, ref hNext, cT, y);
        }

        hPrev.CopyTo(hT);
    }

    /// <summary>
    /// A batch-1 sequence with each chunk's input projection computed inside the previous chunk's recurrent steps
    /// (<see cref="FusedStep{TPanel, TP, TFormat}.Lookahead"/>); the first chunk is projected on its own.
    /// </summary>
    private void RunLookahead<TPanel, TP, TFormat>(
        scoped in SequenceInput x, ReadOnlySpan<float> h0, ReadOnlySpan<float> c0, scoped in SequenceOutput y, Span<float> hT, Span<float> cT)
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

        int steps = x.Steps;

        // The first chunk's rows in run order (a reversed sequence's last rows, gathered into xt before xt's real use).
        ReadOnlySpan<float> first = x.IsForwardBlock ? x.Block(0, Chunk, default) : Gather(x, Chunk, xt);
        FusedStep<TPanel, TP, TFormat>.Project(packed, Chunk, first, current);
        for (int t0 = 0; t0 < steps; t0 += Chunk)
        {
            int count = Math.Min(Chunk, steps - t0);
            int ahead = Math.Min(Chunk, steps - t0 - Chunk);
            if (ahead > 0)
            {
                // The next chunk's inputs, transposed so that each row's eight values sit together; missing steps are 0.
                xt.Clear();
                for (int s = 0; s < ahead; s++)
                {
                    ReadOnlySpan<float> row = x.Row(t0 + Chunk + s, 0);
                    for (int r = 0; r < input; r++)
                    {
                        xt[(r * Chunk) + s] = row[r];
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

                Advance(t0 + t, ref hPrev, ref hNext, y);
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
    /// <see cref="RoutePolicy.PipelineChunk"/>, so that only the first, short one is projected before any step can start.
    /// </summary>
    private unsafe void RunPipelined<TPanel, TP, TFormat>(
        int steps, int batch, ReadOnlySpan<float> xs, ReadOnlySpan<float> h0, ReadOnlySpan<float> c0, scoped in SequenceOutput y, Span<float> hT, Span<float> cT)
        where TPanel : struct, IPanel<TP>
        where TP : struct
        where TFormat : struct, IWeightFormat
    {
        int states = batch * packed.Hidden;
        int stepInputs = batch * packed.Input;
        int stepProjection = batch * packed.ProjectionFloats;
        int chunk = Routes.PipelinedChunk(stepProjection);
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
                    RecurrentSteps<TPanel, TP, TFormat>(batch, new ReadOnlySpan<float>(current, count * stepProjection), reverse: false, t0, count, ref hPrev, ref hNext, cT, y);
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
        int steps, int batch, ReadOnlySpan<float> xs, ReadOnlySpan<float> h0, ReadOnlySpan<float> c0, scoped in SequenceOutput y, Span<float> hT, Span<float> cT)
        where TPanel : struct, IPanel<TP>
        where TP : struct
        where TFormat : struct, IWeightFormat
    {
        int states = batch * packed.Hidden;
        int stepInputs = batch * packed.Input;
        int stepProjection = batch * packed.ProjectionFloats;
        int chunk = Routes.ProjectionChunk(stepProjection, steps);
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

                    Advance(t0 + t, ref hPrev, ref hNext, y);
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

    /// <summary>Run steps t0 … t0 + count − 1, each from its rows of <paramref name="projection"/> (in time order: read backwards when <paramref name="reverse"/>).</summary>
    private void RecurrentSteps<TPanel, TP, TFormat>(
        int batch, ReadOnlySpan<float> projection, bool reverse, int t0, int count, ref Span<float> hPrev, ref Span<float> hNext, Span<float> cT, scoped in SequenceOutput y)
        where TPanel : struct, IPanel<TP>
        where TP : struct
        where TFormat : struct, IWeightFormat
    {
        int stepProjection = batch * packed.ProjectionFloats;
        for (int t = 0; t < count; t++)
        {
            int row = reverse ? count - 1 - t : t;
            FusedStep<TPanel, TP, TFormat>.Recurrent(packed, batch, projection.Slice(row * stepProjection, stepProjection), hPrev, cT, hNext, cT);
            Advance(t0 + t, ref hPrev, ref hNext, y);
        }
    }

    /// <summary>After run step <paramref name="t"/>: its h into its place in <paramref name="y"/> (if any), and hNext becomes hPrev.</summary>
    private static void Advance(int t, ref Span<float> hPrev, ref Span<float> hNext, scoped in SequenceOutput y)
    {
        y.Write(t, hNext);

        Span<float> swap = hPrev;
        hPrev = hNext;
        hNext = swap;
    }


    /// <summary>The rows of run steps 0 … <paramref name="count"/> − 1 of a one-row sequence, in run order, into <paramref name="scratch"/>.</summary>
    private static ReadOnlySpan<float> Gather(scoped in SequenceInput x, int count, Span<float> scratch)
    {
        int n = x.Features;
        for (int s = 0; s < count; s++)
        {
            x.Row(s, 0).CopyTo(scratch.Slice(s * n, n));
        }

        return scratch[..(count * n)];
    }

    /// <summary>A sequence on the path and weight format that <see cref="FormatDispatch"/> picks.</summary>
    private readonly ref struct SequenceAction(
        LstmCell cell, int batch, SequenceInput x, ReadOnlySpan<float> h0, ReadOnlySpan<float> c0, SequenceOutput y, Span<float> hT, Span<float> cT)
        : IPanelFormatAction
    {
        private readonly SequenceInput x = x;
        private readonly ReadOnlySpan<float> h0 = h0;
        private readonly ReadOnlySpan<float> c0 = c0;
        private readonly SequenceOutput y = y;
        private readonly Span<float> hT = hT;
        private readonly Span<float> cT = cT;

        public void Run<TPanel, TP, TFormat>()
            where TPanel : struct, IPanel<TP>
            where TP : struct
            where TFormat : struct, IWeightFormat =>
            cell.RunSequence<TPanel, TP, TFormat>(batch, x, h0, c0, y, hT, cT);
    }
}
