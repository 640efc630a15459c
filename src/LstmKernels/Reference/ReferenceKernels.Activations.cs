namespace LstmKernels.Reference;

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
            destination[k] = (float)Logistic(x[k]);
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

    /// <summary>σ(x) = 1 / (1 + e⁻ˣ) in double.</summary>
    /// <param name="x">The input.</param>
    /// <returns>The logistic sigmoid of <paramref name="x"/>.</returns>
    /// <remarks>Public only because the reference cell needed it; it is not a kernel twin. Compute
    /// <c>1 / (1 + Math.Exp(-x))</c> in your own code instead.</remarks>
    [Obsolete("ReferenceKernels.Sigmoid(double) is not a kernel twin: compute 1 / (1 + Math.Exp(-x)) in your own code instead (the span overload Sigmoid(ReadOnlySpan<float>, Span<float>) stays). It will be removed in the next release.")]
    public static double Sigmoid(double x) => Logistic(x);

    /// <summary>σ(x) = 1 / (1 + e⁻ˣ) in double: the sigmoid of every reference twin and of the reference cells.</summary>
    internal static double Logistic(double x) => 1.0 / (1.0 + Math.Exp(-x));
}
