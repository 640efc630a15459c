namespace LstmKernels.Reference;

public static partial class ReferenceKernels
{
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
}
