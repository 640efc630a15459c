using LstmKernels.Internal;

namespace LstmKernels.Reference;

/// <summary>
/// Gradients of one cell in <see cref="double"/>, in <see cref="LstmParameters"/>' layout (gate order i, f, g, o):
/// what <see cref="ReferenceLstmCell.Backward"/> accumulates into.
/// </summary>
/// <remarks>
/// The seed's <c>grad_W_g</c> of shape <c>(H + I, H)</c> maps as in <see cref="LstmParameters.FromSeed"/>:
/// <c>grad_W_g[k, j] = WeightHh[g·H + j, k]</c> for k &lt; H and <c>WeightIh[g·H + j, k − H]</c> for k ≥ H.
/// </remarks>
public sealed class ReferenceLstmGradients
{
    private readonly double[] weightIh;
    private readonly double[] weightHh;
    private readonly double[] bias;

    /// <summary>Zero gradients for a cell of the given sizes.</summary>
    /// <param name="inputSize">I (at least 1).</param>
    /// <param name="hiddenSize">H (at least 1).</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is less than 1.</exception>
    public ReferenceLstmGradients(int inputSize, int hiddenSize)
    {
        if (inputSize < 1)
        {
            ThrowHelper.OutOfRange(nameof(inputSize), inputSize, "must be at least 1");
        }

        ThrowHelper.CheckSize(hiddenSize, nameof(hiddenSize));

        InputSize = inputSize;
        HiddenSize = hiddenSize;
        weightIh = new double[4 * hiddenSize * inputSize];
        weightHh = new double[4 * hiddenSize * hiddenSize];
        bias = new double[4 * hiddenSize];
    }

    /// <summary>I.</summary>
    public int InputSize { get; }

    /// <summary>H.</summary>
    public int HiddenSize { get; }

    /// <summary>∂L/∂WeightIh <c>[4H, I]</c>.</summary>
    public Span<double> WeightIh => weightIh;

    /// <summary>∂L/∂WeightHh <c>[4H, H]</c>.</summary>
    public Span<double> WeightHh => weightHh;

    /// <summary>∂L/∂Bias <c>[4H]</c>.</summary>
    public Span<double> Bias => bias;

    /// <summary>Sets every gradient to zero.</summary>
    public void Clear()
    {
        Array.Clear(weightIh);
        Array.Clear(weightHh);
        Array.Clear(bias);
    }
}

public sealed partial class ReferenceLstmCell
{
    /// <summary>
    /// The seed's <c>backward</c>, corrected: the gradients of one step for B = <c>x.Length / InputSize</c> rows, in
    /// double, with no weight update.
    /// </summary>
    /// <param name="x">The step's inputs <c>[B, I]</c>.</param>
    /// <param name="hPrev">The step's previous hidden state <c>[B, H]</c>.</param>
    /// <param name="cPrev">The step's previous cell state <c>[B, H]</c>.</param>
    /// <param name="dh">∂L/∂h_t <c>[B, H]</c> (the seed's <c>delta_h</c>).</param>
    /// <param name="dc">∂L/∂C_t from later steps <c>[B, H]</c> (the seed's <c>delta_C</c>).</param>
    /// <param name="gradient">The weight and bias gradients, accumulated (+=).</param>
    /// <param name="dx">∂L/∂x <c>[B, I]</c>, written.</param>
    /// <param name="dhPrev">∂L/∂h_{t−1} <c>[B, H]</c>, written; may be the same memory as any input.</param>
    /// <param name="dcPrev">∂L/∂C_{t−1} <c>[B, H]</c>, written; may be the same memory as any input.</param>
    /// <remarks>
    /// <para>What the seed got wrong and this fixes: it used <c>f_t, i_t, o_t, C̃_t</c> that it never stored (here the
    /// step's forward is recomputed from <paramref name="x"/>, <paramref name="hPrev"/> and <paramref name="cPrev"/>
    /// and its gate values kept); its forget-gate gradient multiplied by <c>C_t</c> where <c>C_{t−1}</c> belongs; it
    /// returned no gradient for <c>C_{t−1}</c>, so BPTT could not chain; it updated the weights before using them for
    /// the input gradients (here nothing is updated: <see cref="ApplySgd"/> is a separate step).</para>
    /// <para>Equations (seed names, per unit): <c>δo = dh·tanh(C_t)·o(1 − o)</c>;
    /// <c>δC = dc + dh·o·(1 − tanh²C_t)</c>; <c>δC̃ = δC·i·(1 − C̃²)</c>; <c>δi = δC·C̃·i(1 − i)</c>;
    /// <c>δf = δC·C_{t−1}·f(1 − f)</c>; <c>dC_{t−1} = δC·f</c>; <c>grad_W_g += [h, x]ᵀ·δg</c>, <c>grad_b_g += δg</c>;
    /// <c>[dh_{t−1}, dx] = Σ_g δg·W_gᵀ</c>.</para>
    /// </remarks>
    /// <exception cref="ArgumentNullException"><paramref name="gradient"/> is null.</exception>
    /// <exception cref="ArgumentException">A length does not fit, or the gradient's sizes differ from the cell's.</exception>
    public void Backward(
        ReadOnlySpan<double> x,
        ReadOnlySpan<double> hPrev,
        ReadOnlySpan<double> cPrev,
        ReadOnlySpan<double> dh,
        ReadOnlySpan<double> dc,
        ReferenceLstmGradients gradient,
        Span<double> dx,
        Span<double> dhPrev,
        Span<double> dcPrev)
    {
        CheckGradient(gradient);
        int batch = CheckBackwardShapes(x.Length, hPrev.Length, cPrev.Length, dh.Length, dc.Length, dx.Length, dhPrev.Length, dcPrev.Length);
        int hs = HiddenSize;
        int input = InputSize;
        ReadOnlySpan<int> ours = [1, 0, 2, 3];
        double[] concat = new double[hs + input];
        double[][] gate = [new double[hs], new double[hs], new double[hs], new double[hs]];
        double[][] delta = [new double[hs], new double[hs], new double[hs], new double[hs]];
        double[] tanhC = new double[hs];
        double[] outDx = new double[dx.Length];
        double[] outDh = new double[dhPrev.Length];
        double[] outDc = new double[dcPrev.Length];
        for (int r = 0; r < batch; r++)
        {
            hPrev.Slice(r * hs, hs).CopyTo(concat);
            x.Slice(r * input, input).CopyTo(concat.AsSpan(hs));

            // Forward, keeping the gate values f_t, i_t, C̃_t, o_t (seed order) and tanh(C_t).
            for (int j = 0; j < hs; j++)
            {
                for (int g = 0; g < 4; g++)
                {
                    double sum = b[g][j];
                    for (int k = 0; k < concat.Length; k++)
                    {
                        sum += concat[k] * w[g][(k * hs) + j];
                    }

                    gate[g][j] = g == 2 ? Math.Tanh(sum) : ReferenceKernels.Logistic(sum);
                }

                double c = (gate[0][j] * cPrev[(r * hs) + j]) + (gate[1][j] * gate[2][j]);
                tanhC[j] = Math.Tanh(c);
            }

            // The deltas of the pre-activations.
            for (int j = 0; j < hs; j++)
            {
                int s = (r * hs) + j;
                double f = gate[0][j], i = gate[1][j], cTilde = gate[2][j], o = gate[3][j];
                double deltaCTotal = dc[s] + (dh[s] * o * (1 - (tanhC[j] * tanhC[j])));
                delta[3][j] = dh[s] * tanhC[j] * o * (1 - o);
                delta[2][j] = deltaCTotal * i * (1 - (cTilde * cTilde));
                delta[1][j] = deltaCTotal * cTilde * i * (1 - i);
                delta[0][j] = deltaCTotal * cPrev[s] * f * (1 - f);
                outDc[s] = deltaCTotal * f;
            }

            // grad_W_g += concatᵀ·δg, grad_b_g += δg (PyTorch layout); [dh_prev, dx] = Σ_g δg·W_gᵀ with the weights as they are.
            for (int g = 0; g < 4; g++)
            {
                for (int j = 0; j < hs; j++)
                {
                    int row = (ours[g] * hs) + j;
                    double d = delta[g][j];
                    gradient.Bias[row] += d;
                    for (int k = 0; k < hs; k++)
                    {
                        gradient.WeightHh[(row * hs) + k] += concat[k] * d;
                    }

                    for (int m = 0; m < input; m++)
                    {
                        gradient.WeightIh[(row * input) + m] += concat[hs + m] * d;
                    }
                }
            }

            for (int k = 0; k < concat.Length; k++)
            {
                double sum = 0;
                for (int g = 0; g < 4; g++)
                {
                    for (int j = 0; j < hs; j++)
                    {
                        sum += delta[g][j] * w[g][(k * hs) + j];
                    }
                }

                if (k < hs)
                {
                    outDh[(r * hs) + k] = sum;
                }
                else
                {
                    outDx[(r * input) + k - hs] = sum;
                }
            }
        }

        outDx.CopyTo(dx);
        outDh.CopyTo(dhPrev);
        outDc.CopyTo(dcPrev);
    }

    /// <summary>
    /// Backpropagation through time over a whole sequence, in double: runs the forward pass from
    /// (<paramref name="h0"/>, <paramref name="c0"/>) keeping every state, then <see cref="Backward"/> from the last
    /// step to the first, chaining ∂L/∂h and ∂L/∂C.
    /// </summary>
    /// <param name="x">The x <c>[T, B, I]</c>.</param>
    /// <param name="h0">The initial hidden state <c>[B, H]</c>; its length sets B (so it cannot be empty here, unlike in <c>LstmBptt.Forward</c>).</param>
    /// <param name="c0">The initial cell state <c>[B, H]</c>, or empty for zeros.</param>
    /// <param name="dY">∂L/∂h_t for every step <c>[T, B, H]</c>.</param>
    /// <param name="dhT">∂L/∂h_T from beyond the sequence <c>[B, H]</c>, or empty for zero.</param>
    /// <param name="dcT">∂L/∂C_T <c>[B, H]</c>, or empty for zero.</param>
    /// <param name="gradient">The weight and bias gradients, accumulated (+=).</param>
    /// <param name="dX">∂L/∂x for every step <c>[T, B, I]</c>, written; or empty to skip.</param>
    /// <param name="dh0">∂L/∂h0 <c>[B, H]</c>, written; or empty to skip.</param>
    /// <param name="dc0">∂L/∂c0 <c>[B, H]</c>, written; or empty to skip.</param>
    /// <exception cref="ArgumentNullException"><paramref name="gradient"/> is null.</exception>
    /// <exception cref="ArgumentException">A length does not fit.</exception>
    public void BackwardSequence(
        ReadOnlySpan<double> x,
        ReadOnlySpan<double> h0,
        ReadOnlySpan<double> c0,
        ReadOnlySpan<double> dY,
        ReadOnlySpan<double> dhT,
        ReadOnlySpan<double> dcT,
        ReferenceLstmGradients gradient,
        Span<double> dX,
        Span<double> dh0,
        Span<double> dc0)
    {
        CheckGradient(gradient);
        int hs = HiddenSize;
        int input = InputSize;
        if (h0.Length % hs != 0)
        {
            ThrowHelper.NotMultiple(nameof(h0), h0.Length, hs, "[B, H]");
        }

        int batch = h0.Length / hs;
        int stepInputs = batch * input;
        int states = batch * hs;
        if (stepInputs == 0 ? x.Length != 0 : x.Length % stepInputs != 0)
        {
            ThrowHelper.NotMultiple(nameof(x), x.Length, stepInputs, "[T, B, I] with B from 'h0'");
        }

        int steps = stepInputs == 0 ? 0 : x.Length / stepInputs;
        CheckOptional(c0.Length, states, nameof(c0), "[B, H], or empty for zeros");

        ThrowHelper.CheckLength(dY.Length, (long)steps * states, nameof(dY), "[T, B, H]");
        CheckOptional(dhT.Length, states, nameof(dhT), "[B, H] or empty");
        CheckOptional(dcT.Length, states, nameof(dcT), "[B, H] or empty");
        CheckOptional(dX.Length, x.Length, nameof(dX), "[T, B, I] or empty");
        CheckOptional(dh0.Length, states, nameof(dh0), "[B, H], or empty");
        CheckOptional(dc0.Length, states, nameof(dc0), "[B, H], or empty");

        double[] hAll = new double[(steps + 1) * states];
        double[] cAll = new double[(steps + 1) * states];
        h0.CopyTo(hAll);
        c0.CopyTo(cAll);
        for (int t = 0; t < steps; t++)
        {
            Forward(
                x.Slice(t * stepInputs, stepInputs),
                hAll.AsSpan(t * states, states),
                cAll.AsSpan(t * states, states),
                hAll.AsSpan((t + 1) * states, states),
                cAll.AsSpan((t + 1) * states, states));
        }

        double[] dh = new double[states];
        double[] dc = new double[states];
        double[] dx = new double[stepInputs];
        dhT.CopyTo(dh);
        dcT.CopyTo(dc);
        for (int t = steps - 1; t >= 0; t--)
        {
            for (int k = 0; k < states; k++)
            {
                dh[k] += dY[(t * states) + k];
            }

            Backward(
                x.Slice(t * stepInputs, stepInputs),
                hAll.AsSpan(t * states, states),
                cAll.AsSpan(t * states, states),
                dh,
                dc,
                gradient,
                dx,
                dh,
                dc);
            if (!dX.IsEmpty)
            {
                dx.CopyTo(dX.Slice(t * stepInputs, stepInputs));
            }
        }

        if (!dh0.IsEmpty)
        {
            dh.CopyTo(dh0);
        }

        if (!dc0.IsEmpty)
        {
            dc.CopyTo(dc0);
        }
    }

    private static void CheckOptional(int actual, long expected, string paramName, string what)
    {
        if (actual != 0)
        {
            ThrowHelper.CheckLength(actual, expected, paramName, what);
        }
    }

    /// <summary>The seed's update as its own step: <c>w −= learningRate·grad</c> for every weight and bias of this cell.</summary>
    /// <param name="gradient">The gradients (from <see cref="Backward"/>).</param>
    /// <param name="learningRate">The step size.</param>
    /// <exception cref="ArgumentNullException"><paramref name="gradient"/> is null.</exception>
    /// <exception cref="ArgumentException">The gradient's sizes differ from the cell's.</exception>
    public void ApplySgd(ReferenceLstmGradients gradient, double learningRate)
    {
        CheckGradient(gradient);
        int hs = HiddenSize;
        int input = InputSize;
        ReadOnlySpan<int> ours = [1, 0, 2, 3];
        for (int g = 0; g < 4; g++)
        {
            for (int j = 0; j < hs; j++)
            {
                int row = (ours[g] * hs) + j;
                b[g][j] -= learningRate * gradient.Bias[row];
                for (int k = 0; k < hs; k++)
                {
                    w[g][(k * hs) + j] -= learningRate * gradient.WeightHh[(row * hs) + k];
                }

                for (int m = 0; m < input; m++)
                {
                    w[g][((hs + m) * hs) + j] -= learningRate * gradient.WeightIh[(row * input) + m];
                }
            }
        }
    }

    /// <summary>The current weights, rounded to float, in PyTorch layout.</summary>
    /// <returns>New parameters.</returns>
    public LstmParameters ToParameters()
    {
        int hs = HiddenSize;
        int input = InputSize;
        var p = new LstmParameters(input, hs);
        ReadOnlySpan<int> ours = [1, 0, 2, 3];
        for (int g = 0; g < 4; g++)
        {
            for (int j = 0; j < hs; j++)
            {
                int row = (ours[g] * hs) + j;
                p.Bias[row] = (float)b[g][j];
                for (int k = 0; k < hs; k++)
                {
                    p.WeightHh[(row * hs) + k] = (float)w[g][(k * hs) + j];
                }

                for (int m = 0; m < input; m++)
                {
                    p.WeightIh[(row * input) + m] = (float)w[g][((hs + m) * hs) + j];
                }
            }
        }

        return p;
    }

    private void CheckGradient(ReferenceLstmGradients gradient)
    {
        ArgumentNullException.ThrowIfNull(gradient);
        if (gradient.InputSize != InputSize || gradient.HiddenSize != HiddenSize)
        {
            ThrowHelper.Argument(nameof(gradient), "'gradient' was made for a cell of other sizes than this one.");
        }
    }

    private int CheckBackwardShapes(int x, int hPrev, int cPrev, int dh, int dc, int dx, int dhPrev, int dcPrev)
    {
        if (x % InputSize != 0)
        {
            ThrowHelper.NotMultiple(nameof(x), x, InputSize, "rows of InputSize");
        }

        int batch = x / InputSize;
        long states = (long)batch * HiddenSize;
        ThrowHelper.CheckLength(hPrev, states, nameof(hPrev), ShapeText.RowState);
        ThrowHelper.CheckLength(cPrev, states, nameof(cPrev), ShapeText.RowState);
        ThrowHelper.CheckLength(dh, states, nameof(dh), ShapeText.RowState);
        ThrowHelper.CheckLength(dc, states, nameof(dc), ShapeText.RowState);
        ThrowHelper.CheckLength(dx, x, nameof(dx), "the length of 'x'");
        ThrowHelper.CheckLength(dhPrev, states, nameof(dhPrev), ShapeText.RowState);
        ThrowHelper.CheckLength(dcPrev, states, nameof(dcPrev), ShapeText.RowState);
        return batch;
    }
}
