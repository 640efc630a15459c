namespace LstmKernels.Reference;

public static partial class ReferenceKernels
{
    /// <summary>Twin of <see cref="Kernels.SgdUpdate"/> in double, rounded once per stored value.</summary>
    /// <param name="learningRate">The step size.</param>
    /// <param name="momentum">μ in [0, 1).</param>
    /// <param name="gradient">The gradient.</param>
    /// <param name="velocity">The momentum buffer; may be empty when <paramref name="momentum"/> is 0.</param>
    /// <param name="parameters">The parameters, updated in place.</param>
    /// <exception cref="ArgumentOutOfRangeException">A rate is out of range.</exception>
    /// <exception cref="ArgumentException">A length differs, or the spans overlap.</exception>
    public static void SgdUpdate(float learningRate, float momentum, ReadOnlySpan<float> gradient, Span<float> velocity, Span<float> parameters)
    {
        Kernels.CheckSgd(learningRate, momentum, gradient, velocity, parameters);
        for (int k = 0; k < parameters.Length; k++)
        {
            double vel = gradient[k];
            if (!velocity.IsEmpty)
            {
                vel += (double)momentum * velocity[k];
                velocity[k] = (float)vel;
            }

            parameters[k] = (float)(parameters[k] - ((double)learningRate * vel));
        }
    }

    /// <summary>Twin of <see cref="Kernels.AdamUpdate"/> in double, rounded once per stored value.</summary>
    /// <param name="learningRate">lr.</param>
    /// <param name="beta1">β₁.</param>
    /// <param name="beta2">β₂.</param>
    /// <param name="epsilon">ε.</param>
    /// <param name="step">t, from 1.</param>
    /// <param name="gradient">g.</param>
    /// <param name="m">First moment, updated in place.</param>
    /// <param name="v">Second moment, updated in place.</param>
    /// <param name="parameters">p, updated in place.</param>
    /// <exception cref="ArgumentOutOfRangeException">A hyper-parameter is out of range.</exception>
    /// <exception cref="ArgumentException">A length differs, or the spans overlap.</exception>
    public static void AdamUpdate(
        float learningRate, float beta1, float beta2, float epsilon, int step, ReadOnlySpan<float> gradient, Span<float> m, Span<float> v, Span<float> parameters)
    {
        Kernels.CheckAdam(learningRate, beta1, beta2, epsilon, step, gradient, m, v, parameters);
        double bc1 = 1 - Math.Pow(beta1, step);
        double bc2 = 1 - Math.Pow(beta2, step);
        for (int k = 0; k < parameters.Length; k++)
        {
            double g = gradient[k];
            double mv = ((double)beta1 * m[k]) + ((1 - (double)beta1) * g);
            double vv = ((double)beta2 * v[k]) + ((1 - (double)beta2) * g * g);
            m[k] = (float)mv;
            v[k] = (float)vv;
            parameters[k] = (float)(parameters[k] - (learningRate / bc1 * mv / ((Math.Sqrt(vv) / Math.Sqrt(bc2)) + epsilon)));
        }
    }
}
