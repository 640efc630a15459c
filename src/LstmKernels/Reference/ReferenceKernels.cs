namespace LstmKernels.Reference;

/// <summary>
/// Naive twins of <see cref="Kernels"/>: the same names, parameters, shape rules and exceptions, written as plain
/// scalar loops that accumulate in <see cref="double"/> and round once. Never optimised; use them to verify
/// optimised code, as the tests and benchmarks of this library do.
/// </summary>
public static partial class ReferenceKernels
{
    /// <summary>Twin of <see cref="Kernels.Sigmoid"/>: <c>destination[k] = (float)(1 / (1 + Math.Exp(−x[k])))</c>.</summary>
    /// <param name="x">The inputs.</param>
    /// <param name="destination">The outputs; may be the same memory as <paramref name="x"/>.</param>
    /// <exception cref="ArgumentException">The lengths differ, or the spans partially overlap.</exception>
    public static void Sigmoid(ReadOnlySpan<float> x, Span<float> destination)
    {
        Kernels.CheckUnary(x, destination);
        for (int k = 0; k < x.Length; k++)
        {
            destination[k] = (float)Sigmoid((double)x[k]);
        }
    }

    /// <summary>Twin of <see cref="Kernels.Tanh"/>: <c>destination[k] = (float)Math.Tanh(x[k])</c>.</summary>
    /// <param name="x">The inputs.</param>
    /// <param name="destination">The outputs; may be the same memory as <paramref name="x"/>.</param>
    /// <exception cref="ArgumentException">The lengths differ, or the spans partially overlap.</exception>
    public static void Tanh(ReadOnlySpan<float> x, Span<float> destination)
    {
        Kernels.CheckUnary(x, destination);
        for (int k = 0; k < x.Length; k++)
        {
            destination[k] = (float)Math.Tanh(x[k]);
        }
    }

    /// <summary>Twin of <see cref="Kernels.CellUpdate"/>: <c>c[k] = f[k]·cPrev[k] + i[k]·g[k]</c> in double.</summary>
    /// <param name="forgetGate">f.</param>
    /// <param name="cPrev">The previous cell state.</param>
    /// <param name="inputGate">i.</param>
    /// <param name="candidate">g.</param>
    /// <param name="c">The new cell state; may be the same memory as any one input.</param>
    /// <exception cref="ArgumentException">The lengths differ, or <paramref name="c"/> partially overlaps an input.</exception>
    public static void CellUpdate(
        ReadOnlySpan<float> forgetGate, ReadOnlySpan<float> cPrev, ReadOnlySpan<float> inputGate, ReadOnlySpan<float> candidate, Span<float> c)
    {
        Kernels.CheckCellUpdate(forgetGate, cPrev, inputGate, candidate, c);
        for (int k = 0; k < c.Length; k++)
        {
            c[k] = (float)(((double)forgetGate[k] * cPrev[k]) + ((double)inputGate[k] * candidate[k]));
        }
    }

    /// <summary>Twin of <see cref="Kernels.HiddenUpdate"/>: <c>h[k] = o[k]·tanh(c[k])</c> in double.</summary>
    /// <param name="outputGate">o.</param>
    /// <param name="c">The new cell state.</param>
    /// <param name="h">The new hidden state; may be the same memory as either input.</param>
    /// <exception cref="ArgumentException">The lengths differ, or <paramref name="h"/> partially overlaps an input.</exception>
    public static void HiddenUpdate(ReadOnlySpan<float> outputGate, ReadOnlySpan<float> c, Span<float> h)
    {
        Kernels.CheckHiddenUpdate(outputGate, c, h);
        for (int k = 0; k < h.Length; k++)
        {
            h[k] = (float)(outputGate[k] * Math.Tanh(c[k]));
        }
    }

    /// <summary>Twin of <see cref="Kernels.LstmPointwise"/>, one unit at a time in double.</summary>
    /// <param name="hiddenSize">H.</param>
    /// <param name="gates">Pre-activations <c>[B, 4H]</c>, gate order i, f, g, o.</param>
    /// <param name="cPrev">The previous cell state <c>[B, H]</c>.</param>
    /// <param name="h">The new hidden state <c>[B, H]</c>.</param>
    /// <param name="c">The new cell state <c>[B, H]</c>; may be the same memory as <paramref name="cPrev"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="hiddenSize"/> is less than 1.</exception>
    /// <exception cref="ArgumentException">A length does not fit, or outputs overlap where not allowed.</exception>
    public static void LstmPointwise(int hiddenSize, ReadOnlySpan<float> gates, ReadOnlySpan<float> cPrev, Span<float> h, Span<float> c)
    {
        Kernels.CheckPointwise(hiddenSize, gates, cPrev, h, c);
        int batch = cPrev.Length / hiddenSize;
        for (int b = 0; b < batch; b++)
        {
            for (int j = 0; j < hiddenSize; j++)
            {
                int z = (b * 4 * hiddenSize) + j;
                int s = (b * hiddenSize) + j;
                double i = Sigmoid(gates[z]);
                double f = Sigmoid(gates[z + hiddenSize]);
                double g = Math.Tanh(gates[z + (2 * hiddenSize)]);
                double o = Sigmoid(gates[z + (3 * hiddenSize)]);
                double cs = (f * cPrev[s]) + (i * g);
                c[s] = (float)cs;
                h[s] = (float)(o * Math.Tanh(cs));
            }
        }
    }

    /// <summary>Twin of <see cref="Kernels.GateProjection"/>: each output one double sum, rounded once.</summary>
    /// <param name="x">Inputs <c>[B, I]</c>.</param>
    /// <param name="h">Previous hidden state <c>[B, H]</c>.</param>
    /// <param name="weightIh">Input weights <c>[4H, I]</c>.</param>
    /// <param name="weightHh">Recurrent weights <c>[4H, H]</c>.</param>
    /// <param name="bias">The summed bias <c>[4H]</c>.</param>
    /// <param name="gates">Pre-activations <c>[B, 4H]</c>.</param>
    /// <exception cref="ArgumentException">A length does not fit, or <paramref name="gates"/> overlaps an input.</exception>
    public static void GateProjection(
        ReadOnlySpan<float> x, ReadOnlySpan<float> h, ReadOnlySpan<float> weightIh, ReadOnlySpan<float> weightHh, ReadOnlySpan<float> bias, Span<float> gates)
    {
        ProjectionShape s = ProjectionShape.Validate(x, h, weightIh, weightHh, bias, gates);
        int rows = 4 * s.Hidden;
        for (int b = 0; b < s.Batch; b++)
        {
            for (int r = 0; r < rows; r++)
            {
                double sum = bias[r];
                for (int k = 0; k < s.Input; k++)
                {
                    sum += (double)x[(b * s.Input) + k] * weightIh[(r * s.Input) + k];
                }

                for (int k = 0; k < s.Hidden; k++)
                {
                    sum += (double)h[(b * s.Hidden) + k] * weightHh[(r * s.Hidden) + k];
                }

                gates[(b * rows) + r] = (float)sum;
            }
        }
    }

    /// <summary>σ(x) = 1 / (1 + e⁻ˣ) in double.</summary>
    /// <param name="x">The input.</param>
    /// <returns>The logistic sigmoid of <paramref name="x"/>.</returns>
    public static double Sigmoid(double x) => 1.0 / (1.0 + Math.Exp(-x));
}
