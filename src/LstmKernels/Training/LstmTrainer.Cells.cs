using System.Numerics.Tensors;

namespace LstmKernels.Training;

/// <summary>One layer and direction of <see cref="LstmTrainer"/>, forward and backward over every step.</summary>
public sealed partial class LstmTrainer
{
    /// <summary>One layer and direction forward over all steps; leaves its final state in hState, cState.</summary>
    private void ForwardCell(int layer, int d, int steps, ReadOnlySpan<float> layerInput, int inSize, Span<float> output)
    {
        LstmStackParameters p = Parameters;
        int batch = BatchSize, h = p.HiddenSize, s = p.StateSize, g4 = 4 * h, dirs = p.Directions, outStride = dirs * s;
        int k = (layer * dirs) + d;
        bool reverse = d == 1 || Options.Direction == LstmDirection.Reverse;
        ReadOnlySpan<float> wHh = p.WeightHh(layer, d);
        ReadOnlySpan<float> wHr = p.WeightHr(layer, d);
        bool projects = !wHr.IsEmpty;
        ReadOnlySpan<float> bias = default;
        if (p.BiasMode != LstmBiasMode.None)
        {
            p.SumBias(layer, d, biasSum);
            bias = biasSum;
        }

        int rows = steps * batch;
        Span<float> act = activations[k].AsSpan(0, rows * g4);
        if (rows > 0)
        {
            Kernels.LinearUnchecked(inSize, layerInput, p.WeightIh(layer, d), bias, act);
        }

        float[] cPrevAll = cellPrev[k], cAll = cellNew[k], hPrevAll = hiddenPrev[k], mAll = hiddenFull[k];
        int maxLength = MaxLength();
        bool uniform = Uniform(steps);
        if (!uniform)
        {
            // The steps below write h_{t−1} and m_t only at each row's valid positions; the rest would keep what an
            // earlier call left (perhaps NaN or ∞), which dW_hh += dZᵀ·H_prev and dW_hr += dHᵀ·M multiply by zero.
            ClearPastLengths(hPrevAll, steps, s);
            if (projects)
            {
                ClearPastLengths(mAll, steps, h);
            }
        }
        for (int step = 0; step < maxLength; step++)
        {
            Kernels.LinearUnchecked(s, hState, wHh, default, zStep);
            if (uniform)
            {
                int t = reverse ? steps - 1 - step : step;
                int r = t * batch;
                Span<float> a = act.Slice(r * g4, batch * g4);
                hState.CopyTo(hPrevAll.AsSpan(r * s, batch * s));
                cState.CopyTo(cPrevAll.AsSpan(r * h, batch * h));
                TensorPrimitives.Add(a, zStep, a);
                Span<float> hOut = projects ? mAll.AsSpan(r * h, batch * h) : hState;
                Kernels.LstmPointwiseTrainingUnchecked(h, a, cState, a, hOut, cState);
                cState.CopyTo(cAll.AsSpan(r * h, batch * h));
                if (projects)
                {
                    Kernels.LinearUnchecked(h, hOut, wHr, default, hState);
                }

                for (int b = 0; b < batch; b++)
                {
                    hState.AsSpan(b * s, s).CopyTo(output.Slice(((r + b) * outStride) + (d * s), s));
                }

                continue;
            }

            for (int b = 0; b < batch; b++)
            {
                int length = lengths[b];
                if (step >= length)
                {
                    continue;
                }

                int r = ((reverse ? length - 1 - step : step) * batch) + b;
                Span<float> a = act.Slice(r * g4, g4);
                Span<float> hb = hState.AsSpan(b * s, s);
                Span<float> cb = cState.AsSpan(b * h, h);
                hb.CopyTo(hPrevAll.AsSpan(r * s, s));
                cb.CopyTo(cPrevAll.AsSpan(r * h, h));
                TensorPrimitives.Add(a, zStep.AsSpan(b * g4, g4), a);
                Span<float> hOut = projects ? mAll.AsSpan(r * h, h) : hb;
                Kernels.LstmPointwiseTrainingUnchecked(h, a, cb, a, hOut, cb);
                cb.CopyTo(cAll.AsSpan(r * h, h));
                if (projects)
                {
                    Kernels.LinearUnchecked(h, hOut, wHr, default, hb);
                }

                hb.CopyTo(output.Slice((r * outStride) + (d * s), s));
            }
        }
    }

    /// <summary>One layer and direction backward from dhState, dcState (its dhT, dcT); leaves dh0, dc0 there and accumulates the products.</summary>
    private void BackwardCell(int layer, int d, int steps, ReadOnlySpan<float> layerInput, int inSize, ReadOnlySpan<float> dOut, LstmStackParameters gradient, Span<float> dIn)
    {
        LstmStackParameters p = Parameters;
        int batch = BatchSize, h = p.HiddenSize, s = p.StateSize, g4 = 4 * h, dirs = p.Directions, outStride = dirs * s;
        int proj = p.ProjectionSize;
        int k = (layer * dirs) + d;
        bool reverse = d == 1 || Options.Direction == LstmDirection.Reverse;
        ReadOnlySpan<float> wHh = p.WeightHh(layer, d);
        ReadOnlySpan<float> wHr = p.WeightHr(layer, d);
        bool projects = proj > 0;
        int rows = steps * batch;
        Span<float> dz = dGates.AsSpan(0, rows * g4);
        Span<float> dH = projects ? dHidden.AsSpan(0, rows * proj) : default;
        bool uniform = Uniform(steps);
        if (!uniform)
        {
            // Rows past their length take no gradient; with every row full, every row of dZ and dH is written below.
            dz.Clear();
            dH.Clear();
        }

        float[] act = activations[k], cPrevAll = cellPrev[k], cAll = cellNew[k];
        int maxLength = MaxLength();
        for (int step = maxLength - 1; step >= 0; step--)
        {
            if (uniform)
            {
                int t = reverse ? steps - 1 - step : step;
                int r = t * batch;
                for (int b = 0; b < batch; b++)
                {
                    Span<float> dhb = dhState.AsSpan(b * s, s);
                    TensorPrimitives.Add(dhb, dOut.Slice(((r + b) * outStride) + (d * s), s), dhb);
                }

                ReadOnlySpan<float> dhCell = dhState;
                if (projects)
                {
                    dhState.CopyTo(dH.Slice(r * proj, batch * proj));
                    dmStep.AsSpan().Clear();
                    Kernels.GemmAccumulateUnchecked(batch, h, proj, dhState, proj, 1, wHr, dmStep);
                    dhCell = dmStep;
                }

                Span<float> dzt = dz.Slice(r * g4, batch * g4);
                Kernels.LstmPointwiseBackwardUnchecked(
                    h, act.AsSpan(r * g4, batch * g4), cPrevAll.AsSpan(r * h, batch * h), cAll.AsSpan(r * h, batch * h), dhCell, dcState, dzt, dcState);
                dhState.AsSpan().Clear();
                Kernels.AccumulateInputGradientUnchecked(h, dzt, wHh, dhState);
                continue;
            }

            if (projects)
            {
                for (int b = 0; b < batch; b++)
                {
                    int length = lengths[b];
                    if (step < length)
                    {
                        int r = ((reverse ? length - 1 - step : step) * batch) + b;
                        Span<float> dhb = dhState.AsSpan(b * s, s);
                        TensorPrimitives.Add(dhb, dOut.Slice((r * outStride) + (d * s), s), dhb);
                        dhb.CopyTo(dH.Slice(r * proj, proj));
                    }
                }

                dmStep.AsSpan().Clear();
                Kernels.GemmAccumulateUnchecked(batch, h, proj, dhState, proj, 1, wHr, dmStep);
            }

            dzStep.AsSpan().Clear();
            for (int b = 0; b < batch; b++)
            {
                int length = lengths[b];
                if (step >= length)
                {
                    continue;
                }

                int r = ((reverse ? length - 1 - step : step) * batch) + b;
                Span<float> dhb = dhState.AsSpan(b * s, s);
                if (!projects)
                {
                    TensorPrimitives.Add(dhb, dOut.Slice((r * outStride) + (d * s), s), dhb);
                }

                ReadOnlySpan<float> dhCell = projects ? dmStep.AsSpan(b * h, h) : dhb;
                Span<float> dcb = dcState.AsSpan(b * h, h);
                Span<float> dzr = dz.Slice(r * g4, g4);
                Kernels.LstmPointwiseBackwardUnchecked(h, act.AsSpan(r * g4, g4), cPrevAll.AsSpan(r * h, h), cAll.AsSpan(r * h, h), dhCell, dcb, dzr, dcb);
                dzr.CopyTo(dzStep.AsSpan(b * g4, g4));
            }

            // ∂L/∂h_{t−1} for every row at once; rows that have not started (or have finished) keep their dh.
            dhNext.AsSpan().Clear();
            Kernels.AccumulateInputGradientUnchecked(h, dzStep, wHh, dhNext);
            for (int b = 0; b < batch; b++)
            {
                if (step < lengths[b])
                {
                    dhNext.AsSpan(b * s, s).CopyTo(dhState.AsSpan(b * s, s));
                }
            }
        }

        if (rows == 0)
        {
            return;
        }

        Kernels.AccumulateWeightGradientUnchecked(h, dz, layerInput, gradient.WeightIh(layer, d));
        Kernels.AccumulateWeightGradientUnchecked(h, dz, hiddenPrev[k].AsSpan(0, rows * s), gradient.WeightHh(layer, d));
        Span<float> gBiasIh = gradient.BiasIh(layer, d);
        if (!gBiasIh.IsEmpty)
        {
            Kernels.AccumulateBiasGradientUnchecked(dz, gBiasIh);
        }

        Span<float> gBiasHh = gradient.BiasHh(layer, d);
        if (!gBiasHh.IsEmpty)
        {
            Kernels.AccumulateBiasGradientUnchecked(dz, gBiasHh);
        }

        if (projects)
        {
            Kernels.GemmAccumulateUnchecked(proj, h, rows, dH, 1, proj, hiddenFull[k].AsSpan(0, rows * h), gradient.WeightHr(layer, d));
        }

        if (!dIn.IsEmpty)
        {
            Kernels.AccumulateInputGradientUnchecked(h, dz, p.WeightIh(layer, d), dIn);
        }
    }

    /// <summary>Copies <c>[T, B, F]</c> ↔ <c>[B, T, F]</c>: from batch-first to time-major when <paramref name="toTimeMajor"/>, the other way when <paramref name="fromTimeMajorToBatchFirst"/>, else a plain copy.</summary>
    private static void CopyLayout(ReadOnlySpan<float> source, Span<float> destination, int steps, int batch, int features, bool toTimeMajor, bool fromTimeMajorToBatchFirst = false)
    {
        if (!toTimeMajor && !fromTimeMajorToBatchFirst)
        {
            source.CopyTo(destination);
            return;
        }

        for (int b = 0; b < batch; b++)
        {
            for (int t = 0; t < steps; t++)
            {
                int timeMajor = ((t * batch) + b) * features, batchFirst = ((b * steps) + t) * features;
                if (toTimeMajor)
                {
                    source.Slice(batchFirst, features).CopyTo(destination.Slice(timeMajor, features));
                }
                else
                {
                    source.Slice(timeMajor, features).CopyTo(destination.Slice(batchFirst, features));
                }
            }
        }
    }

    /// <summary>Zeroes the rows <c>(t, b)</c> of a time-major <c>[T, B, features]</c> cache with <c>t ≥ L_b</c>, the positions past each row's length.</summary>
    private void ClearPastLengths(Span<float> cache, int steps, int features)
    {
        int batch = BatchSize;
        for (int b = 0; b < batch; b++)
        {
            for (int t = lengths[b]; t < steps; t++)
            {
                cache.Slice(((t * batch) + b) * features, features).Clear();
            }
        }
    }

    private int MaxLength()
    {
        int max = 0;
        foreach (int length in lengths)
        {
            max = Math.Max(max, length);
        }

        return max;
    }

    private bool Uniform(int steps)
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
}
