using System.Numerics.Tensors;

namespace LstmKernels.Benchmarks;

/// <summary>
/// One LSTM step written the simple way with <see cref="TensorPrimitives"/>, as a .NET developer would write it
/// without this library: for each of the 4H gate rows, <see cref="TensorPrimitives.Dot(ReadOnlySpan{float}, ReadOnlySpan{float})"/>
/// against PyTorch's row-major <c>weight_ih</c> and <c>weight_hh</c> rows, then the activations and the cell update
/// as whole-buffer <see cref="TensorPrimitives"/> calls over a <c>[4H]</c> gate buffer (gate order i, f, g, o).
/// </summary>
/// <remarks>
/// A benchmark contender, not a library route: the weights stay as PyTorch stores them, nothing is packed or fused.
/// It steps one batch row after the other; the outputs may be the same memory as the inputs (in-place stepping),
/// because every gate of a row is computed before its state is written.
/// </remarks>
internal sealed class TensorPrimitivesStep
{
    /// <summary>Largest |TensorPrimitives-simple − LstmCell| accepted before timing.</summary>
    public const double Agreement = 1e-5;

    private readonly float[] weightIh;
    private readonly float[] weightHh;
    private readonly float[] bias;
    private readonly float[] gates;
    private readonly float[] tanhC;

    public TensorPrimitivesStep(LstmParameters parameters)
    {
        InputSize = parameters.InputSize;
        HiddenSize = parameters.HiddenSize;
        weightIh = parameters.WeightIh.ToArray();
        weightHh = parameters.WeightHh.ToArray();
        bias = parameters.Bias.ToArray();
        gates = new float[4 * HiddenSize];
        tanhC = new float[HiddenSize];
    }

    public int InputSize { get; }

    public int HiddenSize { get; }

    /// <summary><c>hNext, cNext ← step(x, hPrev, cPrev)</c> for <c>[B, I]</c> inputs and <c>[B, H]</c> states.</summary>
    public void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> hPrev, ReadOnlySpan<float> cPrev, Span<float> hNext, Span<float> cNext)
    {
        int input = InputSize, hidden = HiddenSize;
        int batch = x.Length / input;
        for (int b = 0; b < batch; b++)
        {
            ReadOnlySpan<float> xRow = x.Slice(b * input, input);
            ReadOnlySpan<float> hRow = hPrev.Slice(b * hidden, hidden);
            Span<float> z = gates;
            for (int r = 0; r < z.Length; r++)
            {
                z[r] = TensorPrimitives.Dot(weightIh.AsSpan(r * input, input), xRow)
                    + TensorPrimitives.Dot(weightHh.AsSpan(r * hidden, hidden), hRow)
                    + bias[r];
            }

            Span<float> i = z[..hidden], f = z.Slice(hidden, hidden), g = z.Slice(2 * hidden, hidden), o = z.Slice(3 * hidden, hidden);
            TensorPrimitives.Sigmoid(z[..(2 * hidden)], z[..(2 * hidden)]);
            TensorPrimitives.Tanh(g, g);
            TensorPrimitives.Sigmoid(o, o);

            // c = f ⊙ cPrev + i ⊙ g;  h = o ⊙ tanh(c)
            Span<float> c = cNext.Slice(b * hidden, hidden);
            TensorPrimitives.Multiply(i, g, i);
            TensorPrimitives.Multiply(f, cPrev.Slice(b * hidden, hidden), c);
            TensorPrimitives.Add(c, i, c);
            TensorPrimitives.Tanh(c, tanhC);
            TensorPrimitives.Multiply(o, tanhC, hNext.Slice(b * hidden, hidden));
        }
    }

    /// <summary>
    /// Steps this route and <paramref name="cell"/> side by side over <paramref name="steps"/> inputs from the same
    /// zero state and throws unless they agree within <see cref="Agreement"/>: a contender is timed only after it is
    /// shown to compute the same thing.
    /// </summary>
    /// <returns>The largest |TensorPrimitives-simple − LstmCell| in h and c.</returns>
    public double Verify(LstmCell cell, int steps = 4)
    {
        int hidden = HiddenSize;
        float[] x = new float[InputSize];
        float[] h = new float[hidden], c = new float[hidden], hCell = new float[hidden], cCell = new float[hidden];
        double worst = 0;
        for (int t = 0; t < steps; t++)
        {
            Data.Fill(x, 1f, seed: 100 + t);
            Forward(x, h, c, h, c);
            cell.Forward(x, hCell, cCell, hCell, cCell);
            for (int k = 0; k < hidden; k++)
            {
                worst = Math.Max(worst, Math.Max(Math.Abs(h[k] - hCell[k]), Math.Abs(c[k] - cCell[k])));
            }
        }

        if (!(worst <= Agreement))
        {
            throw new InvalidOperationException(
                $"TensorPrimitives-simple and LstmCell disagree by {worst:e2} (> {Agreement:e0}); not timing a contender that computes something else.");
        }

        return worst;
    }
}
