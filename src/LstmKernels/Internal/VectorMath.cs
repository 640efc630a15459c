using System.Runtime.CompilerServices;

namespace LstmKernels.Internal;

/// <summary>
/// exp, sigmoid and tanh for any <see cref="ISimd{TVec}"/> width, one algorithm for every path so that a
/// value gets the same bits whatever span length or position it sits at.
/// </summary>
/// <remarks>
/// exp: Cody–Waite reduction x = n·ln2 + r with |r| ≤ ln2/2, a degree-7 minimax polynomial for eʳ (Cephes'
/// coefficients), then scaling by 2ⁿ built from exponent bits. The input is clamped to [−87.3, 88] so that 2ⁿ is
/// a normal float: no overflow to ∞ and no NaN from finite input. Exp alone does not propagate NaN; Sigmoid and
/// Tanh do. Measured error bounds are stated in
/// docs/kernels.md and asserted in the tests.
/// </remarks>
internal static class VectorMath<TOps, TVec>
    where TOps : struct, ISimd<TVec>
    where TVec : struct
{
    private const float ExpMin = -87.3f;
    private const float ExpMax = 88.0f;
    private const float Log2E = 1.44269504088896341f;
    private const float Ln2Hi = 0.693359375f;
    private const float Ln2Lo = -2.12194440e-4f;

    /// <summary>Below this |x|, tanh uses its odd polynomial (no cancellation near 0, sign of ±0 kept).</summary>
    private const float TanhSmall = 0.625f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Exp(TVec x)
    {
        // Native min/max and conversion: a NaN lane gives garbage here, and the callers put the NaN back once at the
        // end (KeepNaN), far cheaper than NaN-propagating clamps and saturating conversions at every step.
        x = TOps.ClampNative(x, TOps.Create(ExpMin), TOps.Create(ExpMax));
        TVec n = TOps.RoundToNearest(TOps.Multiply(x, TOps.Create(Log2E)));
        TVec r = TOps.MultiplyAdd(n, TOps.Create(-Ln2Hi), x);
        r = TOps.MultiplyAdd(n, TOps.Create(-Ln2Lo), r);

        TVec p = TOps.Create(1.9875691500e-4f);
        p = TOps.MultiplyAdd(p, r, TOps.Create(1.3981999507e-3f));
        p = TOps.MultiplyAdd(p, r, TOps.Create(8.3334519073e-3f));
        p = TOps.MultiplyAdd(p, r, TOps.Create(4.1665795894e-2f));
        p = TOps.MultiplyAdd(p, r, TOps.Create(1.6666665459e-1f));
        p = TOps.MultiplyAdd(p, r, TOps.Create(5.0000001201e-1f));
        TVec r2 = TOps.Multiply(r, r);
        p = TOps.Add(TOps.MultiplyAdd(p, r2, r), TOps.Create(1f));
        return TOps.Multiply(p, TOps.Pow2(n));
    }

    /// <summary>σ(x) = 1 / (1 + e⁻ˣ), in [0, 1] for every finite x; NaN in gives NaN out.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Sigmoid(TVec x)
    {
        TVec one = TOps.Create(1f);
        return TOps.KeepNaN(x, TOps.Divide(one, TOps.Add(one, Exp(TOps.Subtract(TOps.Create(0f), x)))));
    }

    /// <summary>tanh(x), in [−1, 1] for every finite x, odd, tanh(±0) = ±0; NaN in gives NaN out.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Tanh(TVec x)
    {
        // Computed on |x| and given x's sign at the end: tanh is odd, and this keeps the sign of ±0 and of tiny x.
        TVec a = TOps.Abs(x);
        TVec one = TOps.Create(1f);

        // |x| ≥ 0.625: tanh|x| = 1 − 2 / (e^{2|x|} + 1); Exp's clamp makes this 1 for huge |x|, never NaN.
        TVec e = Exp(TOps.Add(a, a));
        TVec large = TOps.Subtract(one, TOps.Divide(TOps.Create(2f), TOps.Add(e, one)));

        // |x| < 0.625: |x| + |x|³·P(x²) (Cephes' minimax coefficients), full relative accuracy near 0.
        TVec z = TOps.Multiply(a, a);
        TVec p = TOps.Create(-5.70498872745e-3f);
        p = TOps.MultiplyAdd(p, z, TOps.Create(2.06390887954e-2f));
        p = TOps.MultiplyAdd(p, z, TOps.Create(-5.37397155531e-2f));
        p = TOps.MultiplyAdd(p, z, TOps.Create(1.33314422036e-1f));
        p = TOps.MultiplyAdd(p, z, TOps.Create(-3.33332819422e-1f));
        TVec small = TOps.MultiplyAdd(TOps.Multiply(p, z), a, a);

        return TOps.KeepNaN(x, TOps.CopySign(TOps.SelectLess(a, TOps.Create(TanhSmall), small, large), x));
    }
}
