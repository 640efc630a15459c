using System.Buffers;
using LstmKernels.Internal;

namespace LstmKernels;

/// <summary>Whole sequences through every layer and direction, each output written once, where it belongs.</summary>
internal sealed partial class LayerEngine
{
    /// <summary>
    /// <see cref="Lstm.Forward"/> after its checks (<paramref name="steps"/> = T). Layer 0 reads <paramref name="x"/>
    /// in place (time-major or batch-first, forward or reversed); the last layer writes <paramref name="y"/> in place
    /// (its direction's columns, its layout); layers in between use one time-major buffer each.
    /// </summary>
    public void Forward(
        int batch,
        int steps,
        ReadOnlySpan<float> x,
        ReadOnlySpan<float> h0,
        ReadOnlySpan<float> c0,
        Span<float> y,
        Span<float> hT,
        Span<float> cT,
        ReadOnlySpan<int> lengths)
    {
        LayerShape shape = Shape;
        int hidden = shape.HiddenSize;
        int sh = shape.StateSize;
        int dh = shape.OutputSize;
        bool batchFirst = shape.Options.BatchFirst;
        long stepRows = (long)steps * batch;
        bool unfused = fused is null;
        int buffers = Math.Min(shape.Layers - 1, 2);
        long total =
            (buffers * stepRows * dh)
            + (unfused ? (stepRows * 4 * hidden) + (10L * batch * hidden) + (2L * hidden) : 0)
            + (3L * batch * hidden);
        if (total > Array.MaxLength)
        {
            ThrowHelper.Argument(nameof(x), SequenceThrow.TooLarge(total));
        }

        float[] rented = ArrayPool<float>.Shared.Rent((int)Math.Max(total, 1));
        try
        {
            var pool = new ScratchCursor(rented);
            Span<float> bufferA = pool.Take(buffers > 0 ? stepRows * dh : 0);
            Span<float> bufferB = pool.Take(buffers > 1 ? stepRows * dh : 0);
            Span<float> projection = pool.Take(unfused ? stepRows * 4 * hidden : 0);
            Span<float> step = pool.Take(unfused ? (10L * batch * hidden) + (2L * hidden) : 0);
            Span<float> zeros = pool.Take((long)batch * hidden);
            zeros.Clear();
            Span<float> hScratch = pool.Take((long)batch * hidden);
            Span<float> cScratch = pool.Take((long)batch * hidden);
            int hStates = batch * sh;
            int cStates = batch * hidden;
            ReadOnlySpan<float> layerInput = x;
            int inSize = shape.InputSize;
            for (int layer = 0; layer < shape.Layers; layer++)
            {
                bool last = layer == shape.Layers - 1;
                Span<float> output = last ? y : (layer % 2 == 0 ? bufferA : bufferB);
                bool outBatchFirst = last && batchFirst;
                bool inBatchFirst = layer == 0 && batchFirst;
                for (int d = 0; d < shape.Directions; d++)
                {
                    int index = (layer * shape.Directions) + d;
                    bool reverse = d == 1 || shape.Options.Direction == LstmDirection.Reverse;
                    var input = new SequenceInput(
                        layerInput, 0, steps, batch, inSize, inBatchFirst ? inSize : batch * inSize, inBatchFirst ? steps * inSize : inSize, reverse);
                    var result = new SequenceOutput(
                        output, d * sh, steps, sh, outBatchFirst ? dh : batch * dh, outBatchFirst ? steps * dh : dh, reverse);
                    ReadOnlySpan<float> h0d = h0.IsEmpty ? zeros[..hStates] : h0.Slice(index * hStates, hStates);
                    ReadOnlySpan<float> c0d = c0.IsEmpty ? zeros : c0.Slice(index * cStates, cStates);
                    Span<float> hTd = hT.IsEmpty ? hScratch[..hStates] : hT.Slice(index * hStates, hStates);
                    Span<float> cTd = cT.IsEmpty ? cScratch : cT.Slice(index * cStates, cStates);
                    if (unfused)
                    {
                        RunUnfused(index, batch, input, h0d, c0d, result, hTd, cTd, lengths, projection, step);
                    }
                    else
                    {
                        RunFused(fused![index], batch, input, h0d, c0d, result, hTd, cTd, lengths);
                    }
                }

                layerInput = output;
                inSize = dh;
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(rented);
        }
    }

    private static void RunFused(
        LstmCell cell, int batch, scoped in SequenceInput input, ReadOnlySpan<float> h0, ReadOnlySpan<float> c0,
        scoped in SequenceOutput output, Span<float> hT, Span<float> cT, ReadOnlySpan<int> lengths)
    {
        if (AllFull(lengths, input.Steps))
        {
            cell.SequenceCore(batch, input, h0, c0, output, hT, cT);
            return;
        }

        // Rows of different lengths: each row is its own sequence of its own length (so a reverse direction starts at
        // its last step), read and written in place through views of that row; its outputs past its length are zero.
        int h = cell.HiddenSize;
        for (int b = 0; b < batch; b++)
        {
            int length = lengths[b];
            var row = new SequenceInput(input.All, input.Offset + (b * input.RowStride), length, 1, input.Features, input.StepStride, input.RowStride, input.Reverse);
            var rowOut = new SequenceOutput(output.All, output.Offset + (b * output.RowStride), length, output.Features, output.StepStride, output.RowStride, output.Reverse);
            cell.SequenceCore(1, row, h0.Slice(b * h, h), c0.Slice(b * h, h), rowOut, hT.Slice(b * h, h), cT.Slice(b * h, h));
            ClearTail(output, b, length);
        }
    }

    private void RunUnfused(
        int index, int batch, scoped in SequenceInput input, ReadOnlySpan<float> h0, ReadOnlySpan<float> c0,
        scoped in SequenceOutput output, Span<float> hT, Span<float> cT, ReadOnlySpan<int> lengths, Span<float> projectionScratch, Span<float> scratch)
    {
        UnfusedWeights w = Weights(index);
        int steps = input.Steps;
        int hidden = Shape.HiddenSize;
        int sh = Shape.StateSize;
        int g4 = 4 * hidden;
        int inSize = input.Features;

        // The input half of every step at once: one matrix-matrix pass over W_ih for all T·B rows, in the input's own
        // row order (time-major or batch-first); row (t, b) of it is at the input row's index.
        int rows = steps * batch;
        Span<float> projection = projectionScratch[..(rows * g4)];
        Kernels.LinearUnchecked(inSize, input.All[..(rows * inSize)], w.WeightIh, w.Bias, projection);
        Span<float> z = scratch[..(batch * g4)];
        var s = new UnfusedScratch(
            scratch.Slice(batch * g4, batch * g4),
            scratch.Slice(2 * batch * g4, batch * hidden),
            scratch.Slice((2 * batch * g4) + (batch * hidden), batch * hidden),
            scratch.Slice((2 * batch * g4) + (2 * batch * hidden), hidden),
            scratch.Slice((2 * batch * g4) + (2 * batch * hidden) + hidden, hidden));
        s.HFull.Clear();
        h0.CopyTo(hT);
        c0.CopyTo(cT);
        int maxLength = 0;
        for (int b = 0; b < batch; b++)
        {
            int length = lengths.IsEmpty ? steps : lengths[b];
            maxLength = Math.Max(maxLength, length);
            ClearTail(output, b, length);
        }

        for (int k = 0; k < maxLength; k++)
        {
            // Each running row's input half at its own time (a reverse row of length L is at time L − 1 − k).
            for (int b = 0; b < batch; b++)
            {
                int length = lengths.IsEmpty ? steps : lengths[b];
                if (k < length)
                {
                    int t = input.Reverse ? length - 1 - k : k;
                    int at = ((t * input.StepStride) + (b * input.RowStride)) / inSize;
                    projection.Slice(at * g4, g4).CopyTo(z.Slice(b * g4, g4));
                }
            }

            UnfusedStep.Step(w, Shape.Options, hidden, z, hT, cT, s, lengths, k);
            if (output.IsEmpty)
            {
                continue;
            }

            for (int b = 0; b < batch; b++)
            {
                int length = lengths.IsEmpty ? steps : lengths[b];
                if (k < length)
                {
                    int t = output.Reverse ? length - 1 - k : k;
                    hT.Slice(b * sh, sh).CopyTo(output.All.Slice(output.Offset + (t * output.StepStride) + (b * output.RowStride), sh));
                }
            }
        }
    }

    /// <summary>Zeros row <paramref name="b"/>'s outputs at times <paramref name="length"/> … T − 1.</summary>
    private static void ClearTail(scoped in SequenceOutput output, int b, int length)
    {
        if (output.IsEmpty)
        {
            return;
        }

        for (int t = length; t < output.Steps; t++)
        {
            output.All.Slice(output.Offset + (t * output.StepStride) + (b * output.RowStride), output.Features).Clear();
        }
    }

    private static bool AllFull(ReadOnlySpan<int> lengths, int steps)
    {
        foreach (int length in lengths)
        {
            if (length != steps)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Carves spans out of one rented array.</summary>
    private ref struct ScratchCursor(float[] array)
    {
        private int used;

        public Span<float> Take(long length)
        {
            Span<float> span = array.AsSpan(used, (int)length);
            used += (int)length;
            return span;
        }
    }
}
