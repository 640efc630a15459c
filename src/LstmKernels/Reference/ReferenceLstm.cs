using LstmKernels.Internal;

namespace LstmKernels.Reference;

/// <summary>
/// Twin of <see cref="Lstm"/>: the same constructor, shapes and options, written as plain loops in
/// <see cref="double"/> straight from the ONNX LSTM equations (one row, one step, one unit at a time). Never
/// optimised; use it to verify <see cref="Lstm"/>.
/// </summary>
/// <remarks>
/// Per layer and direction, for each row b of length L (T when no lengths are given), steps k = 0..L−1 at time
/// t = k (reverse: L−1−k): <c>z = W_ih·x_t + W_hh·h + b</c>; <c>i = f(z_i + P_i·c)</c>; <c>f = f(z_f + P_f·c)</c> or
/// <c>1 − i</c>; <c>g = g(z_g)</c>; <c>c' = f·c + i·g</c>; <c>o = f(z_o + P_o·c')</c>; <c>h' = o·h(c')</c>, each activation's
/// argument clamped to ±clip when set. <c>y[t, b]</c> = h' in the direction's columns; zero for t ≥ L. With
/// projections (PyTorch's <c>proj_size</c>) h has P units: <c>h' = W_hr·(o·h(c'))</c>, and <c>z</c> uses <c>W_hh [4H, P]</c>.
/// </remarks>
public sealed class ReferenceLstm
{
    private readonly LayerSpec spec;

    /// <summary>Builds the twin; the arguments are checked as by <see cref="Lstm(IReadOnlyList{LstmParameters}, LstmOptions?)"/>.</summary>
    /// <param name="cells">Weights of each layer and direction, index <c>layer·D + direction</c>.</param>
    /// <param name="options">The options; null for <see cref="LstmOptions.Default"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="cells"/> is null.</exception>
    /// <exception cref="ArgumentException">As for <see cref="Lstm"/>.</exception>
    public ReferenceLstm(IReadOnlyList<LstmParameters> cells, LstmOptions? options = null)
    {
        // Checked and copied exactly as Lstm does; the twin keeps the plain arrays and no engine.
        spec = LayerSpec.Create(cells, options);
    }

    /// <summary>Builds the twin of an LSTM with projections; the arguments are checked as by <see cref="Lstm(IReadOnlyList{ProjectedLstmParameters}, LstmOptions?)"/>.</summary>
    /// <param name="cells">Weights of each layer and direction, index <c>layer·D + direction</c>.</param>
    /// <param name="options">The options; null for <see cref="LstmOptions.Default"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="cells"/> is null.</exception>
    /// <exception cref="ArgumentException">As for <see cref="Lstm"/>.</exception>
    public ReferenceLstm(IReadOnlyList<ProjectedLstmParameters> cells, LstmOptions? options = null)
    {
        spec = LayerSpec.CreateProjected(cells, options);
    }

    /// <summary>The options (<see cref="LstmOptions.Precision"/> and <see cref="LstmOptions.StepThreads"/> do not apply to the twin: it computes in double with the weights it was given).</summary>
    public LstmOptions Options => spec.Shape.Options;

    /// <summary>Twin of <see cref="Lstm.Forward"/>, in double, rounding each output once.</summary>
    /// <param name="batchSize">B.</param>
    /// <param name="x">Inputs <c>[T, B, I]</c> (batch-first <c>[B, T, I]</c>).</param>
    /// <param name="h0">Initial hidden states <c>[L·D, B, H]</c> (<c>[L·D, B, P]</c> with projections), or empty for zeros.</param>
    /// <param name="c0">Initial cell states <c>[L·D, B, H]</c>, or empty.</param>
    /// <param name="y">Outputs <c>[T, B, D·H]</c> (batch-first <c>[B, T, D·H]</c>; P for H with projections), or empty.</param>
    /// <param name="hT">Final hidden states <c>[L·D, B, H]</c> (<c>[L·D, B, P]</c> with projections), or empty.</param>
    /// <param name="cT">Final cell states <c>[L·D, B, H]</c>, or empty.</param>
    /// <param name="sequenceLengths">Lengths <c>[B]</c> in 0..T, or empty for all T.</param>
    /// <exception cref="ArgumentException">A length does not fit.</exception>
    public void Forward(
        int batchSize,
        ReadOnlySpan<float> x,
        ReadOnlySpan<float> h0,
        ReadOnlySpan<float> c0,
        Span<float> y,
        Span<float> hT,
        Span<float> cT,
        ReadOnlySpan<int> sequenceLengths = default)
    {
        // Shapes and errors exactly as the optimised Lstm: the same checks.
        LayerShape shape = spec.Shape;
        int steps = shape.CheckForward(batchSize, x, h0, c0, y, hT, cT, sequenceLengths);
        int input = shape.InputSize, hidden = shape.HiddenSize, dirs = shape.Directions, layers = shape.Layers;
        int stateSize = shape.StateSize;
        int batch = batchSize;
        int[] lengths = new int[batch];
        for (int b = 0; b < batch; b++)
        {
            lengths[b] = sequenceLengths.IsEmpty ? steps : sequenceLengths[b];
        }

        LstmOptions o = shape.Options;

        // layerIn[t][b][k], time-major, in double.
        double[,,] layerIn = new double[steps, batch, input];
        for (int t = 0; t < steps; t++)
        {
            for (int b = 0; b < batch; b++)
            {
                for (int k = 0; k < input; k++)
                {
                    layerIn[t, b, k] = o.BatchFirst ? x[(((b * steps) + t) * input) + k] : x[(((t * batch) + b) * input) + k];
                }
            }
        }

        double[,,] layerOut = new double[0, 0, 0];
        for (int layer = 0; layer < layers; layer++)
        {
            int inSize = layer == 0 ? input : dirs * stateSize;
            layerOut = new double[steps, batch, dirs * stateSize];
            for (int d = 0; d < dirs; d++)
            {
                int index = (layer * dirs) + d;
                float[] weightIh, weightHh, bias;
                float[]? weightHr = null;
                if (spec.Projected?[index] is { } q)
                {
                    (weightIh, weightHh, bias, weightHr) = (q.WeightIh.ToArray(), q.WeightHh.ToArray(), q.Bias.ToArray(), q.WeightHr.ToArray());
                }
                else
                {
                    LstmParameters p = spec.Cells![index];
                    (weightIh, weightHh, bias) = (p.WeightIh.ToArray(), p.WeightHh.ToArray(), p.Bias.ToArray());
                }

                float[]? peep = spec.Peepholes[index];
                bool reverse = d == 1 || o.Direction == LstmDirection.Reverse;
                for (int b = 0; b < batch; b++)
                {
                    double[] h = new double[stateSize], c = new double[hidden];
                    for (int j = 0; j < stateSize; j++)
                    {
                        h[j] = h0.IsEmpty ? 0 : h0[(((index * batch) + b) * stateSize) + j];
                    }

                    for (int j = 0; j < hidden; j++)
                    {
                        c[j] = c0.IsEmpty ? 0 : c0[(((index * batch) + b) * hidden) + j];
                    }

                    for (int k = 0; k < lengths[b]; k++)
                    {
                        int t = reverse ? lengths[b] - 1 - k : k;
                        double[] hFull = new double[hidden], cNew = new double[hidden];
                        for (int j = 0; j < hidden; j++)
                        {
                            double[] z = new double[4];
                            for (int gate = 0; gate < 4; gate++)
                            {
                                int r = (gate * hidden) + j;
                                double sum = bias[r];
                                for (int m = 0; m < inSize; m++)
                                {
                                    sum += weightIh[(r * inSize) + m] * layerIn[t, b, m];
                                }

                                for (int m = 0; m < stateSize; m++)
                                {
                                    sum += weightHh[(r * stateSize) + m] * h[m];
                                }

                                z[gate] = sum;
                            }

                            double pi = peep is null ? 0 : peep[j], pf = peep is null ? 0 : peep[hidden + j], po = peep is null ? 0 : peep[(2 * hidden) + j];
                            double ig = Act(o.GateActivation, z[0] + (pi * c[j]), o.Clip);
                            double fg = o.InputForget ? 1 - ig : Act(o.GateActivation, z[1] + (pf * c[j]), o.Clip);
                            double gg = Act(o.CellActivation, z[2], o.Clip);
                            double cell = (fg * c[j]) + (ig * gg);
                            double og = Act(o.GateActivation, z[3] + (po * cell), o.Clip);
                            cNew[j] = cell;
                            hFull[j] = og * Act(o.HiddenActivation, cell, null);
                        }

                        // Projection: h'[q] = Σ_j W_hr[q, j]·hFull[j]; without one, h' = hFull.
                        double[] hNew = hFull;
                        if (weightHr is not null)
                        {
                            hNew = new double[stateSize];
                            for (int r = 0; r < stateSize; r++)
                            {
                                double sum = 0;
                                for (int j = 0; j < hidden; j++)
                                {
                                    sum += weightHr[(r * hidden) + j] * hFull[j];
                                }

                                hNew[r] = sum;
                            }
                        }

                        h = hNew;
                        c = cNew;
                        for (int j = 0; j < stateSize; j++)
                        {
                            layerOut[t, b, (d * stateSize) + j] = h[j];
                        }
                    }

                    for (int j = 0; j < stateSize; j++)
                    {
                        if (!hT.IsEmpty)
                        {
                            hT[(((index * batch) + b) * stateSize) + j] = (float)h[j];
                        }
                    }

                    for (int j = 0; j < hidden; j++)
                    {
                        if (!cT.IsEmpty)
                        {
                            cT[(((index * batch) + b) * hidden) + j] = (float)c[j];
                        }
                    }
                }
            }

            layerIn = layerOut;
        }

        if (!y.IsEmpty)
        {
            int dh = dirs * stateSize;
            for (int t = 0; t < steps; t++)
            {
                for (int b = 0; b < batch; b++)
                {
                    for (int k = 0; k < dh; k++)
                    {
                        y[o.BatchFirst ? (((b * steps) + t) * dh) + k : (((t * batch) + b) * dh) + k] = (float)layerOut[t, b, k];
                    }
                }
            }
        }
    }

    private static double Act(LstmActivation activation, double v, float? clip)
    {
        if (clip is float bound)
        {
            v = Math.Clamp(v, -bound, bound);
        }

        return activation switch
        {
            LstmActivation.Sigmoid => ReferenceKernels.Logistic(v),
            LstmActivation.Tanh => Math.Tanh(v),
            _ => Math.Max(0, v),
        };
    }
}
