using LstmKernels.Internal;

namespace LstmKernels.Reference;

/// <summary>
/// The seed's numpy <c>LSTMCell.forward</c>, ported faithfully: four gate matrices <c>W_f, W_i, W_C, W_o</c> of shape
/// <c>(H + I, H)</c> applied to <c>concat(h_prev, x)</c>, plus biases, in <see cref="double"/> with plain loops.
/// A reference to verify optimised cells against; never optimised.
/// </summary>
/// <remarks>
/// Unlike the seed, the state is passed in and out rather than kept in the object, so one reference cell can
/// check any number of sequences, and a batch of B rows is B independent rows (the seed's <c>(1, H)</c> shapes are
/// B = 1). Equations: <c>f = σ([h, x]·W_f + b_f)</c>, <c>i = σ([h, x]·W_i + b_i)</c>, <c>C̃ = tanh([h, x]·W_C + b_C)</c>,
/// <c>C = f⊙C_prev + i⊙C̃</c>, <c>o = σ([h, x]·W_o + b_o)</c>, <c>h = o⊙tanh(C)</c>.
/// </remarks>
public sealed partial class ReferenceLstmCell
{
    private readonly double[][] w;
    private readonly double[][] b;

    /// <summary>Builds the reference from parameters in PyTorch layout (converted exactly to the seed's layout).</summary>
    /// <param name="parameters">The weights.</param>
    /// <exception cref="ArgumentNullException"><paramref name="parameters"/> is null.</exception>
    public ReferenceLstmCell(LstmParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        InputSize = parameters.InputSize;
        HiddenSize = parameters.HiddenSize;
        int hs = HiddenSize;
        int input = InputSize;
        w = new double[4][];
        b = new double[4][];
        ReadOnlySpan<float> wIh = parameters.WeightIh;
        ReadOnlySpan<float> wHh = parameters.WeightHh;
        ReadOnlySpan<float> bias = parameters.Bias;

        // Seed gate g (f, i, C, o) is our block ours[g] (order i, f, g, o).
        ReadOnlySpan<int> ours = [1, 0, 2, 3];
        for (int g = 0; g < 4; g++)
        {
            w[g] = new double[(hs + input) * hs];
            b[g] = new double[hs];
            for (int j = 0; j < hs; j++)
            {
                int row = (ours[g] * hs) + j;
                for (int k = 0; k < hs; k++)
                {
                    w[g][(k * hs) + j] = wHh[(row * hs) + k];
                }

                for (int m = 0; m < input; m++)
                {
                    w[g][((hs + m) * hs) + j] = wIh[(row * input) + m];
                }

                b[g][j] = bias[row];
            }
        }
    }

    /// <summary>I.</summary>
    public int InputSize { get; }

    /// <summary>H.</summary>
    public int HiddenSize { get; }

    /// <summary>One step in double for B = <c>x.Length / InputSize</c> rows; rounds the results to float.</summary>
    /// <param name="x">Inputs <c>[B, I]</c>.</param>
    /// <param name="hPrev">Previous hidden state <c>[B, H]</c>.</param>
    /// <param name="cPrev">Previous cell state <c>[B, H]</c>.</param>
    /// <param name="hNext">New hidden state <c>[B, H]</c>; may be the same memory as <paramref name="hPrev"/>.</param>
    /// <param name="cNext">New cell state <c>[B, H]</c>; may be the same memory as <paramref name="cPrev"/>.</param>
    /// <exception cref="ArgumentException">A length does not fit <c>[B, I]</c> / <c>[B, H]</c>.</exception>
    public void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> hPrev, ReadOnlySpan<float> cPrev, Span<float> hNext, Span<float> cNext)
    {
        int batch = CheckShapes(x.Length, hPrev.Length, cPrev.Length, hNext.Length, cNext.Length);
        double[] xd = new double[x.Length];
        double[] hd = new double[hPrev.Length];
        double[] cd = new double[cPrev.Length];
        for (int k = 0; k < x.Length; k++)
        {
            xd[k] = x[k];
        }

        for (int k = 0; k < hd.Length; k++)
        {
            hd[k] = hPrev[k];
            cd[k] = cPrev[k];
        }

        double[] ho = new double[hd.Length];
        double[] co = new double[cd.Length];
        Step(batch, xd, hd, cd, ho, co);
        for (int k = 0; k < ho.Length; k++)
        {
            hNext[k] = (float)ho[k];
            cNext[k] = (float)co[k];
        }
    }

    /// <summary>One step entirely in double, for B = <c>x.Length / InputSize</c> rows.</summary>
    /// <param name="x">Inputs <c>[B, I]</c>.</param>
    /// <param name="hPrev">Previous hidden state <c>[B, H]</c>.</param>
    /// <param name="cPrev">Previous cell state <c>[B, H]</c>.</param>
    /// <param name="hNext">New hidden state <c>[B, H]</c>; may be the same memory as <paramref name="hPrev"/>.</param>
    /// <param name="cNext">New cell state <c>[B, H]</c>; may be the same memory as <paramref name="cPrev"/>.</param>
    /// <exception cref="ArgumentException">A length does not fit <c>[B, I]</c> / <c>[B, H]</c>.</exception>
    public void Forward(ReadOnlySpan<double> x, ReadOnlySpan<double> hPrev, ReadOnlySpan<double> cPrev, Span<double> hNext, Span<double> cNext)
    {
        int batch = CheckShapes(x.Length, hPrev.Length, cPrev.Length, hNext.Length, cNext.Length);
        double[] ho = new double[hNext.Length];
        double[] co = new double[cNext.Length];
        Step(batch, x, hPrev, cPrev, ho, co);
        ho.CopyTo(hNext);
        co.CopyTo(cNext);
    }

    private int CheckShapes(int x, int hPrev, int cPrev, int hNext, int cNext)
    {
        if (x % InputSize != 0)
        {
            ThrowHelper.NotMultiple(nameof(x), x, InputSize, $"rows of InputSize = {InputSize}");
        }

        int batch = x / InputSize;
        long states = (long)batch * HiddenSize;
        ThrowHelper.CheckLength(hPrev, states, nameof(hPrev), ShapeText.RowState);
        ThrowHelper.CheckLength(cPrev, states, nameof(cPrev), ShapeText.RowState);
        ThrowHelper.CheckLength(hNext, states, nameof(hNext), ShapeText.RowState);
        ThrowHelper.CheckLength(cNext, states, nameof(cNext), ShapeText.RowState);
        return batch;
    }

    private void Step(int batch, ReadOnlySpan<double> x, ReadOnlySpan<double> hPrev, ReadOnlySpan<double> cPrev, Span<double> hNext, Span<double> cNext)
    {
        int hs = HiddenSize;
        int input = InputSize;
        double[] concat = new double[hs + input];
        double[] gate = new double[4];
        for (int r = 0; r < batch; r++)
        {
            // concat_input = np.concatenate((h_prev, x), axis=1)
            hPrev.Slice(r * hs, hs).CopyTo(concat);
            x.Slice(r * input, input).CopyTo(concat.AsSpan(hs));
            for (int j = 0; j < hs; j++)
            {
                // np.dot(concat_input, W_g) + b_g for g = f, i, C, o
                for (int g = 0; g < 4; g++)
                {
                    double sum = b[g][j];
                    for (int k = 0; k < concat.Length; k++)
                    {
                        sum += concat[k] * w[g][(k * hs) + j];
                    }

                    gate[g] = sum;
                }

                double f = ReferenceKernels.Logistic(gate[0]);
                double i = ReferenceKernels.Logistic(gate[1]);
                double cTilde = Math.Tanh(gate[2]);
                double o = ReferenceKernels.Logistic(gate[3]);
                double c = (f * cPrev[(r * hs) + j]) + (i * cTilde);
                cNext[(r * hs) + j] = c;
                hNext[(r * hs) + j] = o * Math.Tanh(c);
            }
        }
    }
}
