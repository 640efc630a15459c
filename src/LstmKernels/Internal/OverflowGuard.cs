using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace LstmKernels.Internal;

/// <summary>
/// Guards against float pre-activation sums that could overflow although every weight and input is finite
/// (docs/numerics.md, "Overflow"). A sum is safe when every partial sum of <c>b + Σ w·v</c> stays below
/// <see cref="Limit"/>: |partial| ≤ max|b| + K·max|w|·max|v| (times (1 + u)ᴷ for rounding, far below the factor 4 of
/// headroom). <see cref="SafeInput"/> turns that into one bound on max|v|; a sum past it is recomputed in double
/// (<see cref="Exact"/>). The kernels use this directly; the fused cell wraps it for packed weights (Cell/CellOverflowGuard).
/// </summary>
internal static class OverflowGuard
{
    /// <summary>The largest partial sum the float paths may reach: float.MaxValue / 4.</summary>
    public const double Limit = float.MaxValue / 4.0;

    /// <summary>
    /// The largest |v| for which <c>bias + Σ w·v</c> over <paramref name="terms"/> terms cannot overflow in float, given
    /// <paramref name="maxWeight"/> = max|w| and <paramref name="maxBias"/> = max|bias|; +∞ when nothing can overflow,
    /// negative when even v = 0 is not safe (a bias above the limit).
    /// </summary>
    public static float SafeInput(int terms, double maxWeight, double maxBias)
    {
        double room = Limit - maxBias;
        double perInput = terms * maxWeight;
        return room < 0 ? -1f : perInput == 0 ? float.PositiveInfinity : (float)Math.Min(room / perInput, float.MaxValue);
    }

    /// <summary>max |v| ignoring NaN (NaN propagates through the normal path as documented); 0 for an empty span.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxMagnitude(ReadOnlySpan<float> v) => v.IsEmpty ? 0f : Math.Abs(TensorPrimitives.MaxMagnitudeNumber(v));

    /// <summary>
    /// <c>bias + Σ x·wIh + Σ h·wHh</c> in double, rounded once: <see cref="Reference.ReferenceKernels.GateProjection"/> for one
    /// output, for the outputs the float kernels left non-finite.
    /// </summary>
    public static float Exact(float bias, ReadOnlySpan<float> x, ReadOnlySpan<float> wx, ReadOnlySpan<float> h, ReadOnlySpan<float> wh)
    {
        double sum = bias;
        for (int k = 0; k < x.Length; k++)
        {
            sum += (double)x[k] * wx[k];
        }

        for (int k = 0; k < h.Length; k++)
        {
            sum += (double)h[k] * wh[k];
        }

        return (float)sum;
    }
}
