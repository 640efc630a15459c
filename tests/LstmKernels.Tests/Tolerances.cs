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
    /// Linear against the exact sum: the documented (K + 1)·u·(|b| + Σ|x·w|), with the slack and floor of
    /// <see cref="Projection"/> (a sum of K + 1 terms; without bias b = 0). The same bound as a projection with H = 0.
    /// </summary>
    public static double Linear(int inner, double sumOfAbsoluteTerms) => Projection(inner, 0, sumOfAbsoluteTerms);

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
    /// One step whose four pre-activations are all saturated for sure (|z| minus its float error bound
    /// <see cref="Projection"/> is ≥ 20), against the double reference: σ and tanh are within σ(−20) = 2.1e-9 of 0, 1
    /// or ±1 there (in both), the activations add 4u relative and 1e-38 absolute, so each gate is off by ≤ 2.1e-9 + 4u;
    /// c = f·cPrev + i·g then carries (|cPrev| + 2)·(2.1e-9 + 4u) plus 2u·(|cPrev| + 1) of rounding, ≤ 7.5e-7·(1 + |cPrev|),
    /// and h = o·tanh(c) adds o's error and tanh's 4u: 2e-6·(1 + |cPrev|) covers both with margin. Used for inputs or
    /// weights at ±1e4, ±1e30 and ±∞ (NumericsEdgeTests). A gate on the wrong side (a sign error on a huge z) is off by 1.
    /// </summary>
    public static double SaturatedStep(double cPrev) => 2e-6 * (1 + Math.Abs(cPrev));

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

    // ---------------------------------------------------------------- training (Kernels.PointwiseTraining.cs, .Gradients.cs, .Optimizers.cs, Training/)

    /// <summary>
    /// LstmPointwiseBackward against its double twin (same float activations and states): the documented
    /// 32u·(|dc| + |dh|)·(1 + |cPrev|) + 1e-37. tanh(c) is off by 4u relative; 1 − τ² then loses up to 9u absolute
    /// (cancellation near |τ| = 1), so δc = dc + dh·o·(1 − τ²) is off by about 12u·(|dc| + |dh|); each further product
    /// (g, i, f(1 − f), cPrev) rounds once (½u relative) and multiplies by at most 1 (or |cPrev| for dz_f): at most
    /// 16u·(|dc| + |dh|)·max(1, |cPrev|). 32u doubles that for margin; the floor covers subnormal products.
    /// </summary>
    public static double PointwiseBackward(double dh, double dc, double cPrev) =>
        (32 * U * (Math.Abs(dc) + Math.Abs(dh)) * (1 + Math.Abs(cPrev))) + 1e-37;

    /// <summary>
    /// AccumulateWeightGradient / AccumulateBiasGradient / AccumulateInputGradient against their double twins: a
    /// float sum of n terms plus the initial value, in any order, is within (n + 2)·u·(|initial| + Σ|terms|) (the
    /// bound of GateProjection); the floor matters only when every term is zero or subnormal.
    /// </summary>
    public static double GradientSum(int terms, double sumOfAbsoluteTerms) => ((terms + 2) * U * sumOfAbsoluteTerms) + 1e-30;

    /// <summary>
    /// SgdUpdate against its twin: v' = fma(μ, v, g) rounds once (twice without hardware FMA), at most
    /// 2u·(|μv| + |g|) (relative to the terms: under cancellation v' itself is small); p' = fma(−lr, v', p) rounds once
    /// more (twice without FMA) and carries lr times the v' error. Pass lr·(|μv| + |g|) as
    /// <paramref name="rateTimesVelocity"/>: 2u·(|p| + |p'|) + 3u·lr·(|μv| + |g|) covers the roundings, the carried v'
    /// error and the twin's own final rounding.
    /// </summary>
    public static double SgdParameter(double p, double pNew, double rateTimesVelocity) =>
        (2 * U * (Math.Abs(p) + Math.Abs(pNew))) + (3 * U * Math.Abs(rateTimesVelocity)) + 1e-38;

    /// <summary>The SGD velocity: one or two roundings of μv + g, 2u·(|μv| + |g|).</summary>
    public static double SgdVelocity(double momentumTimesV, double g) => (2 * U * (Math.Abs(momentumTimesV) + Math.Abs(g))) + 1e-38;

    /// <summary>
    /// AdamUpdate against its twin. The moments are within 4u·(|β·m| + |(1 − β)·g|) (<see cref="AdamMoment"/>; the
    /// relative error of m' itself is unbounded under cancellation, so it is bounded by the sizes of its terms). The
    /// step s·m'/(√v'·k + ε) then has the m' error times s/denominator, plus one rounding (≤ u relative) each for the
    /// step size s, the factor k = 1/√(1 − β₂ᵗ), √, ·k, + ε, the division and the product by s (7u), and v''s 4u halved
    /// by √ (2u): 9u·|step|, 12u with margin; the final add rounds p' (u·|p'|), as does the twin: 2u·|p'|.
    /// </summary>
    public static double AdamParameter(double pNew, double step, double rateOverDenominator, double momentTerms) =>
        (2 * U * Math.Abs(pNew)) + (12 * U * Math.Abs(step)) + (4 * U * Math.Abs(rateOverDenominator) * momentTerms) + 1e-38;

    /// <summary>
    /// The Adam moments: up to three roundings (g·g for v, the product by 1 − β, the fma), each at most u relative
    /// to a value no larger than the sum of the terms: 4u·(|β·m| + |(1 − β)·g|) (|g²| for v).
    /// </summary>
    public static double AdamMoment(double momentTerms) => (4 * U * momentTerms) + 1e-38;

    /// <summary>
    /// ReferenceLstmCell.BackwardSequence (double) against central finite differences (double) of a loss that is
    /// linear in every h_t and in c_T: with step ε = 1e-5 the truncation error is about ε²·|L'''|/6 ≈ 1e-11 and the
    /// rounding error 2⁻⁵³·|L|/ε ≈ 1e-11 for |L| ~ 10; we allow 1e-7 absolute plus 1e-6 relative, orders of magnitude
    /// under the smallest real gradient bug (a dropped term changes a gradient by its own size).
    /// </summary>
    public static double FiniteDifference(double fd) => 1e-7 + (1e-6 * Math.Abs(fd));

    /// <summary>
    /// LstmBptt (float, fast kernels) against ReferenceLstmCell.BackwardSequence (double) on the same float inputs,
    /// at CreateRandom's weight scale, x, h0 and upstream gradients in [−1, 1], |c0| ≤ 2, H, I ≤ 33, T ≤ 8, B ≤ 5:
    /// each gradient tensor's largest error is at most BpttRelative·(1 + T)·max|reference tensor| plus
    /// <see cref="BpttAbsolute"/>. The errors: the forward states carry the one-step bound per step (2e-6 relative,
    /// <see cref="CellC"/>), the pointwise backward 32u, each product a float sum of up to T·B + 2 or 4H + 2 terms
    /// (random walk ≲ √K·u); then the chain through T steps. Measured maximum (BpttTests' fixed shapes, every path):
    /// about 9e-8·(1 + T)·max|reference|, so 1e-6 leaves a factor of about 10. A wrong equation (C_t for C_{t−1}, a
    /// missing dC chain) moves gradients by 1e-2 or more of that scale.
    /// </summary>
    public const double BpttRelative = 1e-6;

    /// <summary>The absolute floor of the BPTT comparison: gradients that are all tiny (H = 1, T = 1) still compare.</summary>
    public const double BpttAbsolute = 1e-6;

    /// <summary>
    /// Lstm (fused or unfused route) against ReferenceLstm over T steps and L layers, weights at CreateRandom's scale,
    /// inputs and states in [−1, 1]: each step of each layer adds at most the one-step bound (<see cref="CellC"/>, and
    /// <see cref="CellH"/> for h); an error in a layer's output reaches the next layer's gates through weights of
    /// ~1/√H with slopes ≤ 1 (gain ≤ 1), and is carried along time with gain ≤ 1 (see <see cref="SequenceFactor"/>),
    /// so the bound is (T·L)·(one step). The unfused route with peepholes, clip or input_forget has the same order
    /// (peepholes in [−1, 1] add |P·c| ≤ 2 to a pre-activation whose error is unchanged). Doubled for the fused
    /// route's separate input and recurrent sums.
    /// </summary>
    public static double Layer(int steps, int layers, double referenceC) => 2 * Math.Max(1, steps) * layers * CellC(referenceC);

    /// <summary>
    /// A reduced-precision step against the float32 reference (the cost of rounding the weights), at the
    /// CreateRandom scale with x, h in [−1, 1]: |Δh| ≤ bound, |Δc| ≤ bound·(1 + |c|). Each weight moves by at most
    /// 2⁻⁸|w| (bfloat16) or s/2 = max|row|/254 (int8); the rounding errors are independent, so a pre-activation
    /// moves by about √K times one of them (K = I + H ≤ 557): ≈ 2⁻⁸·√K/(3√H) ≈ 1e-3 (bfloat16) and
    /// √K·(1/√H)/254/√3 ≈ 3e-3 (int8); gates pass it on with slope ≤ 1. Measured maxima over (I, H) from (32, 64)
    /// to (1024, 1024), five inputs each: bfloat16 1.4e-3, int8 3.9e-3 (c, relative to 1 + |c|; h less); the bounds
    /// are about three times those.
    /// </summary>
    public static double Precision(WeightPrecision precision) => precision switch
    {
        WeightPrecision.BFloat16 => 4e-3,
        WeightPrecision.Int8 => 1.2e-2,
        _ => CellH,
    };
}
