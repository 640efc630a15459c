namespace LstmKernels.Tests;

/// <summary>
/// Every tolerance of the suite, each with its reasoning. Notation: u = 2⁻²⁴ (float's unit roundoff, half an ulp
/// of 1); "exact" means the value computed in double from the same float inputs (double's own error, ≤ K·2⁻⁵³ of
/// the sums involved, is far below every bound here and is ignored).
/// </summary>
internal static class Tolerances
{
    /// <summary>u = 2⁻²⁴, the unit roundoff of float.</summary>
    public const double U = 1.0 / (1 << 24);

    /// <summary>
    /// Sigmoid and Tanh against the exact value: the documented bound 1e-38 + 4u·|exact| (measured maximum about
    /// 2.3u). The relative part covers exp's degree-7 polynomial (≈1u), the 2ⁿ scaling (exact), the division
    /// (½u) and, for tanh on |x| ≥ 0.625, the cancellation in 1 − 2/(e+1) (at most a factor 1.8 at 0.625).
    /// The absolute floor covers sigmoid far left, where exp's clamp at −87.3/88 makes the result 1/(1 + e⁸⁸)
    /// ≈ 6e-39 instead of e^x (and denormal results, whose ulp is absolute).
    /// </summary>
    public static double Activation(double exact) => 1e-38 + (4 * U * Math.Abs(exact));

    /// <summary>
    /// CellUpdate against exact f·cPrev + i·g: the documented 2u·(|f·cPrev| + |i·g|) + 1e-44. The kernel computes
    /// fma(f, cPrev, round(i·g)): one rounding of the product (½u·|i·g|) and one of the fma (½u of the result);
    /// without hardware FMA the product f·cPrev is rounded too (½u·|f·cPrev|). 2u leaves room for all three.
    /// The floor is the documented one: in the subnormal range each of those roundings is off by up to half a
    /// subnormal ulp (2⁻¹⁴⁹ ≈ 1.4e-45), so up to 1.5 ulps ≈ 2.1e-45 in all; 1e-44 covers that with margin
    /// (see CellUpdate_SubnormalResults, which found the first, too tight floor of 1e-45).
    /// </summary>
    public static double CellUpdate(double forgetTimesCPrev, double inputTimesCandidate) =>
        (2 * U * (Math.Abs(forgetTimesCPrev) + Math.Abs(inputTimesCandidate))) + 1e-44;

    /// <summary>
    /// HiddenUpdate against exact o·tanh(c): the documented 1e-38 + 6u·|o·tanh(c)|: tanh's 4u, the product's
    /// ½u, with margin; the floor is tanh's (below 1e-38 results are subnormal).
    /// </summary>
    public static double HiddenUpdate(double exact) => 1e-38 + (6 * U * Math.Abs(exact));

    /// <summary>
    /// GateProjection against the exact sum: the documented (I + H + 2)·u·(|b| + Σ|x·w| + Σ|h·w|) + 1e-30. This is
    /// the classic bound γₙ·Σ|terms| for a float sum of n = I + H + 1 terms in any order (each term is rounded at
    /// most once in an fma chain, and every partial sum once), plus one for adding the two partial dot products;
    /// it holds for any summation order, so for every vector width and the tiled 4-row path. The floor only
    /// matters when every term is zero or subnormal.
    /// </summary>
    public static double Projection(int inputSize, int hiddenSize, double sumOfAbsoluteTerms) =>
        ((inputSize + hiddenSize + 2) * U * sumOfAbsoluteTerms) + 1e-30;

    /// <summary>
    /// LstmPointwise's new cell state against the exact c = f·cPrev + i·g with f, i, g the exact activations of
    /// the same float pre-activations. Propagating the activation bound (4u relative, 1e-38 absolute): f̃·cPrev is
    /// off by 4u·|f·cPrev| + 1e-38·|cPrev|; ĩ·g̃ by 8u·|i·g| + 2e-38; then the product rounds (½u·|i·g|), the fma
    /// rounds (½u·(|f·cPrev| + |i·g|)), and without hardware FMA f·cPrev rounds too (½u). Total ≤
    /// 5u·|f·cPrev| + 9u·|i·g| + 1e-38·(|cPrev| + 2); we use 10u·(|f·cPrev| + |i·g|) + 1e-37·(1 + |cPrev|).
    /// For |cPrev| ≤ 1 this is about 1.2e-6, the "1e-6·(1 + |c|)" order of magnitude, but per element, so small
    /// cells are checked tightly.
    /// </summary>
    public static double PointwiseC(double forgetTimesCPrev, double inputTimesCandidate, double cPrev) =>
        (10 * U * (Math.Abs(forgetTimesCPrev) + Math.Abs(inputTimesCandidate))) + (1e-37 * (1 + Math.Abs(cPrev)));

    /// <summary>
    /// LstmPointwise's new hidden state against the exact h = o·tanh(c). The error Δc of the computed c (bounded
    /// by <see cref="PointwiseC"/>) passes through tanh with slope sech²(ξ) for some ξ within Δc of c, at most
    /// sech²(max(0, |c| − Δc)); on top come tanh's 4u and o's 4u relative errors and the product's ½u: 9u·|h|.
    /// </summary>
    public static double PointwiseH(double cBound, double exactC, double exactH)
    {
        double nearest = Math.Max(0, Math.Abs(exactC) - cBound);
        double slope = 1 / (Math.Cosh(nearest) * Math.Cosh(nearest));
        return (cBound * slope) + (9 * U * Math.Abs(exactH)) + 1e-37;
    }

    /// <summary>
    /// One LstmCell step against a double reference, for weights at CreateRandom's scale (U(±1/√H)), x and hPrev in
    /// [−1, 1], |cPrev| ≤ 2 and I, H ≤ 300: |Δc| ≤ 2e-6·(1 + |c|).
    /// Reasoning: each gate accumulates K = I + H + 1 products in float fmas (per lane, in a fixed order). The
    /// worst case γ_K·Σ|w·v| (K·u·Σ|w·v|, up to 3e-4 at K = 557) is reached only if every rounding goes the same
    /// way; rounding errors of an fma chain are independent and unbiased (a random walk of K roundings, each ≤ u
    /// times a partial sum of size ≲ (Σ(w·v)²)^½), so the error of a pre-activation z is about u·√K·(Σ(w·v)²)^½.
    /// At this scale E[Σ(w·v)²] = (I + H)/(9H), of order 1 (when I ≫ H it grows, but then the gates saturate and the
    /// slopes below shrink the error instead), so Δz ≲ √K·u ≈ 1.4e-6 at K = 557 and far less for small cells.
    /// Δz reaches c through slopes ≤ ¼·|cPrev| (forget gate), ¼ (input gate)
    /// and 1 (candidate, times i ≤ 1), and the pointwise stage adds ≤ 10u·(|f·cPrev| + |i·g|) (see
    /// <see cref="PointwiseC"/>), about 6e-7·(1 + |cPrev|). Measured maximum over 400 random shapes (I, H up to
    /// 300, B up to 9) on every path (Vector512, Vector256, Vector128, scalar without FMA): 6.9e-7·(1 + |c|), so
    /// 2e-6 leaves a factor of about 3. A dropped, duplicated or misplaced weight moves c by ~1e-2, four orders more.
    /// </summary>
    public static double CellC(double referenceC) => 2e-6 * (1 + Math.Abs(referenceC));

    /// <summary>
    /// One LstmCell step, the new h: the c error above passes through tanh (slope ≤ 1) times o ≤ 1, plus the
    /// output gate's Δz/4 and 9u of pointwise rounding: 2e-6 absolute (|h| &lt; 1); measured maximum 6.9e-7.
    /// </summary>
    public const double CellH = 2e-6;

    /// <summary>
    /// A sequence of <paramref name="steps"/> steps fed back (h, c): each step adds at most the one-step error, and
    /// an error already in (h, c) is carried to the next step with gain ≤ 1 for weights of this scale (the forget
    /// gate is &lt; 1, and the recurrent weights ~1/√H times slopes ≤ 1 shrink Δh), so after t steps the error is
    /// ≤ t·(one-step bound). Measured: at most 1.9e-7·t over 20 steps on every path.
    /// </summary>
    public static double SequenceFactor(int steps) => steps;

    /// <summary>
    /// LstmCell (fused, packed weights) against the unfused route GateProjection → LstmPointwise: both are within
    /// the one-step bound of the exact value, so they are within twice that of each other (triangle inequality).
    /// </summary>
    public const double FusedVsUnfused = 2;

    /// <summary>
    /// Two double computations of the same step (ReferenceLstmCell's seed layout vs the test's PyTorch-equation
    /// loop): they differ only in summation order, ≤ K·2⁻⁵³·Σ|terms| ≈ 1e-13 for these sizes.
    /// </summary>
    public const double DoubleReferences = 1e-11;

    /// <summary>
    /// A batch row against the same row stepped alone: the 4-row tile and the 1-row loop sum in different orders,
    /// each within the one-step bound of the exact value, so twice that apart.
    /// </summary>
    public const double BatchRowVsSingle = 2;

    /// <summary>
    /// LstmCell built from seed-layout weights in U(−1, 1) (the seed draws N(0, 1); either way not CreateRandom's
    /// 1/√H scale): each pre-activation sums up to K = I + H + 1 terms of size ~1 instead of ~1/√H, so the float
    /// error grows with the size of the sums. The one-step bounds are scaled by K, the growth of Σ|w·v| (an upper
    /// bound of the √K-times-larger sums times the √K random-walk factor, rounded up to K).
    /// </summary>
    public static double SeedScaleFactor(int inputSize, int hiddenSize) => inputSize + hiddenSize + 1;

    /// <summary>
    /// Gates driven to saturation by a bias of ±30: σ(±30) is 1 or 0 within 9.4e-14 (exactly 1 or 0 in float for
    /// +30; ~9e-14 for −30), tanh(30) is 1; what is left is the activation and pointwise rounding, ≤ 10u·(1 + |c|)
    /// ≈ 2e-6 for |c| ≤ 2. 1e-6 absolute, on values of magnitude ≤ 2 here.
    /// </summary>
    public const float Saturated = 1e-6f;

    /// <summary>
    /// The new cell state's magnitude: |c| = |f·cPrev + i·g| ≤ |cPrev| + 1 for gates f, i ∈ [0, 1] and g ∈ [−1, 1];
    /// the fma and the product each round once (½u relative), so allow (|cPrev| + 1)·(1 + 2u).
    /// </summary>
    public static double CellStateMagnitude(double cPrev) => (Math.Abs(cPrev) + 1) * (1 + (2 * U));

    /// <summary>
    /// CreateRandom's ranges: the bound 1/√H is computed in float (1f / MathF.Sqrt(H): two roundings, ≤ u each) and
    /// each draw is rounded to float (½u), the bias adds two draws (one more ½u): values stay within the exact
    /// ±1/√H (±2/√H for the bias) times 1 + 4u.
    /// </summary>
    public const double InitRangeFactor = 1 + (4 * U);
}
