namespace LstmKernels.Reference;

public static partial class ReferenceKernels
{
    /// <summary>Twin of <see cref="Kernels.AccumulateWeightGradient"/>: each element one double sum (starting from its old value), rounded once.</summary>
    /// <param name="hiddenSize">H.</param>
    /// <param name="dGates">∂L/∂z <c>[N, 4H]</c>.</param>
    /// <param name="input">The forward inputs <c>[N, K]</c>.</param>
    /// <param name="weightGradient">The gradient <c>[4H, K]</c>, accumulated.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="hiddenSize"/> is less than 1.</exception>
    /// <exception cref="ArgumentException">A length does not fit, or the gradient overlaps an input.</exception>
    public static void AccumulateWeightGradient(int hiddenSize, ReadOnlySpan<float> dGates, ReadOnlySpan<float> input, Span<float> weightGradient)
    {
        (int n, int k) = Kernels.CheckWeightGradient(hiddenSize, dGates, input, weightGradient);
        int rows = 4 * hiddenSize;
        for (int r = 0; r < rows; r++)
        {
            for (int col = 0; col < k; col++)
            {
                double sum = weightGradient[(r * k) + col];
                for (int b = 0; b < n; b++)
                {
                    sum += (double)dGates[(b * rows) + r] * input[(b * k) + col];
                }

                weightGradient[(r * k) + col] = (float)sum;
            }
        }
    }

    /// <summary>Twin of <see cref="Kernels.AccumulateBiasGradient"/>: each element one double sum, rounded once.</summary>
    /// <param name="dGates">∂L/∂z <c>[N, 4H]</c>.</param>
    /// <param name="biasGradient">The gradient <c>[4H]</c>, accumulated.</param>
    /// <exception cref="ArgumentException">A length does not fit, or the spans overlap.</exception>
    public static void AccumulateBiasGradient(ReadOnlySpan<float> dGates, Span<float> biasGradient)
    {
        Kernels.CheckBiasGradient(dGates, biasGradient);
        int rows = biasGradient.Length;
        int n = dGates.Length / rows;
        for (int r = 0; r < rows; r++)
        {
            double sum = biasGradient[r];
            for (int b = 0; b < n; b++)
            {
                sum += dGates[(b * rows) + r];
            }

            biasGradient[r] = (float)sum;
        }
    }

    /// <summary>Twin of <see cref="Kernels.AccumulateInputGradient"/>: each element one double sum, rounded once.</summary>
    /// <param name="hiddenSize">H.</param>
    /// <param name="dGates">∂L/∂z <c>[B, 4H]</c>.</param>
    /// <param name="weight">The forward weights <c>[4H, K]</c>.</param>
    /// <param name="inputGradient">The gradient <c>[B, K]</c>, accumulated.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="hiddenSize"/> is less than 1.</exception>
    /// <exception cref="ArgumentException">A length does not fit, or the input gradient overlaps an input.</exception>
    public static void AccumulateInputGradient(int hiddenSize, ReadOnlySpan<float> dGates, ReadOnlySpan<float> weight, Span<float> inputGradient)
    {
        (int batch, int k) = Kernels.CheckInputGradient(hiddenSize, dGates, weight, inputGradient);
        int rows = 4 * hiddenSize;
        for (int b = 0; b < batch; b++)
        {
            for (int col = 0; col < k; col++)
            {
                double sum = inputGradient[(b * k) + col];
                for (int r = 0; r < rows; r++)
                {
                    sum += (double)dGates[(b * rows) + r] * weight[(r * k) + col];
                }

                inputGradient[(b * k) + col] = (float)sum;
            }
        }
    }
}
