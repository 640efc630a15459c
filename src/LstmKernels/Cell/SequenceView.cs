using System.Diagnostics;

namespace LstmKernels.Internal;

/// <summary>
/// Where a sequence's inputs are read: row b of time t starts at <c>offset + t·stepStride + b·rowStride</c>, so one
/// view describes time-major <c>[T, B, I]</c>, batch-first <c>[B, T, I]</c> and one row of either; with
/// <see cref="Reverse"/> the sequence runs from time T − 1 down to 0 (run step s reads time T − 1 − s).
/// </summary>
/// <remarks>The cell's sequence core reads its inputs through this view, so reverse and batch-first layers cost no copy of x.</remarks>
internal readonly ref struct SequenceInput
{
    private readonly ReadOnlySpan<float> data;

    public SequenceInput(ReadOnlySpan<float> data, int offset, int steps, int batch, int features, int stepStride, int rowStride, bool reverse)
    {
        Debug.Assert(steps == 0 || batch == 0 || offset + ((long)(steps - 1) * stepStride) + ((long)(batch - 1) * rowStride) + features <= data.Length);
        this.data = data;
        Offset = offset;
        Steps = steps;
        Batch = batch;
        Features = features;
        StepStride = stepStride;
        RowStride = rowStride;
        Reverse = reverse;
    }

    /// <summary>Time-major <c>[T, B, I]</c>, run forward: the layout of <see cref="LstmCell.ForwardSequence"/>.</summary>
    public static SequenceInput TimeMajor(ReadOnlySpan<float> x, int steps, int batch, int features) =>
        new(x, 0, steps, batch, features, batch * features, features, reverse: false);

    public int Offset { get; }

    public int Steps { get; }

    public int Batch { get; }

    public int Features { get; }

    public int StepStride { get; }

    public int RowStride { get; }

    public bool Reverse { get; }

    /// <summary>Every element the view may read (the overflow guard scans it: a superset errs on the safe side).</summary>
    public ReadOnlySpan<float> All => data;

    /// <summary>Whether the rows of consecutive times are one contiguous block <c>[T, B, I]</c> (in time order).</summary>
    public bool IsBlock => (RowStride == Features || Batch == 1) && StepStride == Batch * Features;

    /// <summary>Whether the whole sequence is one contiguous block run forward, as the two-thread routes read it.</summary>
    public bool IsForwardBlock => IsBlock && !Reverse;

    /// <summary>The time of run step <paramref name="step"/>.</summary>
    public int Time(int step) => Reverse ? Steps - 1 - step : step;

    /// <summary>Row <paramref name="b"/> of run step <paramref name="step"/>.</summary>
    public ReadOnlySpan<float> Row(int step, int b) => data.Slice(Offset + (Time(step) * StepStride) + (b * RowStride), Features);

    /// <summary>
    /// The rows of run steps [<paramref name="first"/>, <paramref name="first"/> + <paramref name="count"/>) as
    /// <c>[count, B, I]</c> in ascending time (so reversed against run order when <see cref="Reverse"/>): a slice of the
    /// input when it is a block, else gathered into <paramref name="scratch"/> (a chunk, cache-resident).
    /// </summary>
    public ReadOnlySpan<float> Block(int first, int count, Span<float> scratch)
    {
        int low = Reverse ? Steps - first - count : first;
        int rows = Batch * Features;
        if (IsBlock)
        {
            return data.Slice(Offset + (low * StepStride), count * rows);
        }

        Span<float> block = scratch[..(count * rows)];
        for (int t = 0; t < count; t++)
        {
            for (int b = 0; b < Batch; b++)
            {
                data.Slice(Offset + ((low + t) * StepStride) + (b * RowStride), Features).CopyTo(block.Slice((t * rows) + (b * Features), Features));
            }
        }

        return block;
    }

    /// <summary>Index into a <see cref="Block"/> of <paramref name="count"/> steps of run step <paramref name="step"/> (0-based within the block).</summary>
    public int BlockIndex(int step, int count) => Reverse ? count - 1 - step : step;

    /// <summary>The whole sequence gathered into <paramref name="scratch"/> as a forward block <c>[T, B, I]</c> in run order.</summary>
    public SequenceInput ToForwardBlock(Span<float> scratch)
    {
        int rows = Batch * Features;
        for (int s = 0; s < Steps; s++)
        {
            for (int b = 0; b < Batch; b++)
            {
                Row(s, b).CopyTo(scratch.Slice((s * rows) + (b * Features), Features));
            }
        }

        return TimeMajor(scratch[..(Steps * rows)], Steps, Batch, Features);
    }
}

/// <summary>
/// Where a sequence's outputs go: h of row b at run step s lands at <c>offset + t·stepStride + b·rowStride</c> with
/// t the time of s (T − 1 − s when <see cref="Reverse"/>), <see cref="Features"/> floats; empty data writes nothing.
/// One view describes <c>y [T, B, D·H]</c> or <c>[B, T, D·H]</c> with a direction's columns, so the cell writes each
/// output once, where it belongs.
/// </summary>
internal readonly ref struct SequenceOutput
{
    private readonly Span<float> data;

    public SequenceOutput(Span<float> data, int offset, int steps, int features, int stepStride, int rowStride, bool reverse)
    {
        this.data = data;
        Offset = offset;
        Steps = steps;
        Features = features;
        StepStride = stepStride;
        RowStride = rowStride;
        Reverse = reverse;
    }

    /// <summary>Time-major <c>[T, B, H]</c>, forward, or none when <paramref name="y"/> is empty.</summary>
    public static SequenceOutput TimeMajor(Span<float> y, int steps, int batch, int features) =>
        new(y, 0, steps, features, batch * features, features, reverse: false);

    public int Offset { get; }

    public int Steps { get; }

    public int Features { get; }

    public int StepStride { get; }

    public int RowStride { get; }

    public bool Reverse { get; }

    public bool IsEmpty => data.IsEmpty;

    /// <summary>The memory the view writes (for overlap checks).</summary>
    public Span<float> All => data;

    /// <summary>Row <paramref name="b"/> of run step <paramref name="step"/>.</summary>
    public Span<float> Row(int step, int b) =>
        data.Slice(Offset + ((Reverse ? Steps - 1 - step : step) * StepStride) + (b * RowStride), Features);

    /// <summary>Writes the <c>[B, H]</c> state <paramref name="h"/> of run step <paramref name="step"/>; nothing when empty.</summary>
    public void Write(int step, ReadOnlySpan<float> h)
    {
        if (data.IsEmpty)
        {
            return;
        }

        int n = Features;
        int batch = h.Length / n;
        for (int b = 0; b < batch; b++)
        {
            h.Slice(b * n, n).CopyTo(Row(step, b));
        }
    }
}
