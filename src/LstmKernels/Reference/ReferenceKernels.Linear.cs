namespace LstmKernels.Reference;

public static partial class ReferenceKernels
{
    /// <summary>Twin of <see cref="Kernels.Linear"/>: each output one double sum, rounded once.</summary>
    /// <param name="x">Inputs <c>[B, K]</c>.</param>
    /// <param name="weight">Weights <c>[N, K]</c>.</param>
    /// <param name="bias">Bias <c>[N]</c>; its length sets N. Empty for a layer without bias (shapes as <see cref="Kernels.Linear"/> reads them).</param>
    /// <param name="destination">Outputs <c>[B, N]</c>.</param>
    /// <exception cref="ArgumentException">A length does not fit, or <paramref name="destination"/> overlaps an input.</exception>
    public static void Linear(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> destination)
    {
        (int batch, int inner, int rows) = Kernels.CheckLinear(x, weight, bias, destination);
        for (int b = 0; b < batch; b++)
        {
            for (int r = 0; r < rows; r++)
            {
                double sum = bias.IsEmpty ? 0 : bias[r];
                for (int k = 0; k < inner; k++)
                {
                    sum += (double)x[(b * inner) + k] * weight[(r * inner) + k];
                }

                destination[(b * rows) + r] = (float)sum;
            }
        }
    }
}
