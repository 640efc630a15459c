using System.Globalization;
using LstmKernels.Reference;

namespace LstmKernels.Tests;

/// <summary>
/// Numbers at the edges (docs/numerics.md): inputs and weights at ±1e4, ±1e30, ±0 and subnormals; 10⁵-step sequences;
/// NaN and ±∞ in the inputs; bitwise determinism. The guarantees: finite input gives finite output (products beyond
/// float's range included, OverflowTests), |h| ≤ 1, |c| grows by at most 1 per step, saturated gates give the reference's
/// result, and a NaN stays in the row (or, from the cell state, the unit) it came from.
/// </summary>
public sealed partial class NumericsEdgeTests
{
    private const int Input = 13;
    private const int Hidden = 37;
    private const int Batch = 3;

    /// <summary>The input scales of the issue: huge (saturating every gate), zero and subnormal.</summary>
    public static TheoryData<float> InputScales => [1e4f, 1e30f, 0f, -0f, 1e-40f, float.Epsilon];

    [Theory]
    [MemberData(nameof(InputScales))]
    public void Cell_InputsAtTheEdges_FiniteBoundedAndAsTheReference(float scale)
    {
        LstmParameters p = LstmParameters.CreateRandom(Input, Hidden, seed: 701);
        float[] x = Signed(Batch * Input, scale, seed: 702);
        float[] h = Generators.Fill(Batch * Hidden, Dist.Unit, 703);
        float[] c = Generators.Fill(Batch * Hidden, Dist.Wide, 704);
        int saturated = CompareStep(p, x, h, c);
        if (Math.Abs(scale) >= 1e4f)
        {
            // Not vacuous: at this scale nearly every unit has all four gates saturated.
            Assert.True(saturated >= Batch * Hidden * 3 / 4, $"only {saturated} of {Batch * Hidden} units saturated at scale {scale}");
        }
    }

    [Theory]
    [InlineData(1e4f)]
    [InlineData(1e30f)]
    [InlineData(1e-40f)]
    [InlineData(0f)]
    public void Cell_WeightsAtTheEdges_FiniteBoundedAndAsTheReference(float scale)
    {
        // Every weight and bias ±scale (random sign, magnitude scale·U(½, 1)); LstmParameters accepts any finite weight.
        float[] wIh = Signed(4 * Hidden * Input, scale, 711), wHh = Signed(4 * Hidden * Hidden, scale, 712), b = Signed(4 * Hidden, scale, 713);
        LstmParameters p = LstmParameters.FromPyTorch(Input, Hidden, wIh, wHh, b, default);
        float[] x = Generators.Fill(Batch * Input, Dist.Unit, 714);
        float[] h = Generators.Fill(Batch * Hidden, Dist.Unit, 715);
        float[] c = Generators.Fill(Batch * Hidden, Dist.Wide, 716);
        int saturated = CompareStep(p, x, h, c);
        if (scale >= 1e4f)
        {
            Assert.True(saturated >= Batch * Hidden * 3 / 4, $"only {saturated} of {Batch * Hidden} units saturated at weight scale {scale}");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Cell_HugeWeightsAndHugeInputs_ProductsBeyondFloat_AsTheReference(int stepThreads)
    {
        // Was a library finding (docs/numerics.md, "Overflow"): |w|·|x| > float.MaxValue made the float sum ±∞ or NaN
        // although every input and weight is finite. The overflow guard now computes such rows in double.
        // I = 2, H = 1: every gate row is [1e30, −1e30]; x = [1e10, 1e10], so z = 1e40 − 1e40 = 0 exactly (in float ∞ − ∞).
        float[] wIh = [1e30f, -1e30f, 1e30f, -1e30f, 1e30f, -1e30f, 1e30f, -1e30f];
        LstmParameters p = LstmParameters.FromPyTorch(2, 1, wIh, new float[4], default, default);
        float[] x = [1e10f, 1e10f], h = new float[1], c = new float[1];
        float[] hn = new float[1], cn = new float[1], hr = new float[1], cr = new float[1];
        new LstmCell(p) { StepThreads = stepThreads }.Forward(x, h, c, hn, cn);
        new ReferenceLstmCell(p).Forward(x, h, c, hr, cr);
        Assert.Equal(0f, hr[0]);
        Assert.Equal(0f, cr[0]);
        Assert.Equal(hr[0], hn[0], Tolerances.CellH);
        Assert.Equal(cr[0], cn[0], Tolerances.CellC(cr[0]));

        // The same through ForwardSequence (three steps, so h feeds back) against three reference steps.
        float[] xs = [1e10f, 1e10f, -1e10f, 1e10f, 1e10f, 1e10f];
        float[] ys = new float[3], hT = new float[1], cT = new float[1];
        new LstmCell(p) { StepThreads = stepThreads }.ForwardSequence(xs, h, c, ys, hT, cT);
        float[] rh = new float[1], rc = new float[1];
        for (int t = 0; t < 3; t++)
        {
            new ReferenceLstmCell(p).Forward(xs.AsSpan(2 * t, 2), rh, rc, rh, rc);
            Assert.Equal(rh[0], ys[t], Tolerances.CellH);
        }

        Assert.Equal(rh[0], hT[0], Tolerances.CellH);
        Assert.Equal(rc[0], cT[0], Tolerances.CellC(rc[0]));

        // Within range (every |w·v| ≤ float.MaxValue / (I + H + 1)) the fast path runs and is fine too.
        new LstmCell(p).Forward([1e7f, 1e7f], h, c, hn, cn);
        Assert.All(hn.Concat(cn), v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void Cell_100kSteps_CellStateGrowsAtMostLinearly_HiddenStaysInUnitRange()
    {
        // Every gate biased to +30: i = f = o = 1 and g = 1 in float, so c grows by exactly 1 per step, the fastest the
        // equations allow (|c_t| ≤ |c_{t−1}| + 1): after 10⁵ steps c = 10⁵ exactly and h = tanh(c) = 1.
        const int Steps = 100_000;
        const int I = 4, H = 17;
        LstmParameters p = LstmParameters.CreateRandom(I, H, seed: 721);
        p.Bias.Fill(30f);
        var cell = new LstmCell(p);
        float[] xs = Generators.Fill(Steps * I, Dist.Unit, 722);
        float[] h = new float[H], c = new float[H];
        for (int t = 0; t < Steps; t++)
        {
            cell.Forward(xs.AsSpan(t * I, I), h, c, h, c);
        }

        Assert.All(c, v => Assert.Equal(Steps, v));
        Assert.All(h, v => Assert.Equal(1f, v));
    }

    [Fact]
    public void Cell_100kStepsOfEdgeInputs_FiniteAndBoundedAtEveryStep_AndDeterministic()
    {
        // Random weights, inputs drawn from ±1e30, ±1e4, ±0, subnormals and U(−1, 1): at every step all values finite,
        // |h| ≤ 1 and |c_t| ≤ (|c_{t−1}| + 1)(1 + 2u). ForwardSequence over the same inputs, run twice, is bitwise the same.
        const int Steps = 100_000;
        const int I = 4, H = 17;
        var cell = new LstmCell(LstmParameters.CreateRandom(I, H, seed: 731));
        float[] xs = EdgeMix(Steps * I, seed: 732);
        float[] h = new float[H], c = new float[H], hNext = new float[H], cNext = new float[H];
        for (int t = 0; t < Steps; t++)
        {
            cell.Forward(xs.AsSpan(t * I, I), h, c, hNext, cNext);
            for (int j = 0; j < H; j++)
            {
                if (!(Math.Abs(hNext[j]) <= 1f) || !(Math.Abs(cNext[j]) <= Tolerances.CellStateMagnitude(c[j])))
                {
                    Assert.Fail(string.Create(CultureInfo.InvariantCulture, $"step {t}, unit {j}: h = {hNext[j]:R}, c = {cNext[j]:R} from c = {c[j]:R}"));
                }
            }

            (h, hNext) = (hNext, h);
            (c, cNext) = (cNext, c);
        }

        float[] first = Sequence(cell, xs, H), second = Sequence(cell, xs, H);
        Check.BitwiseEqual(first, second, "ForwardSequence run twice");
        Assert.All(first, v => Assert.True(float.IsFinite(v) && Math.Abs(v) <= Steps + 1));
    }

    [Fact]
    public void Lstm_100kSteps_FiniteAndBounded()
    {
        const int Steps = 100_000;
        var lstm = Lstm.Create([LstmParameters.CreateRandom(3, 8, 741), LstmParameters.CreateRandom(8, 8, 742)]);
        float[] x = EdgeMix(Steps * 3, seed: 743);
        float[] y = new float[Steps * 8], hT = new float[16], cT = new float[16];
        lstm.Forward(1, x, default, default, y, hT, cT);
        Assert.All(y, v => Assert.True(Math.Abs(v) <= 1f));
        Assert.All(cT, v => Assert.True(Math.Abs(v) <= Steps));
        Assert.Equal(y.AsSpan((Steps - 1) * 8).ToArray(), hT.AsSpan(8).ToArray());
    }

    private static int CompareStep(LstmParameters p, float[] x, float[] h, float[] c)
    {
        var cell = new LstmCell(p);
        (float[] gotH, float[] gotC) = Step(cell, x, h, c);
        float[] refH = new float[gotH.Length], refC = new float[gotC.Length];
        new ReferenceLstmCell(p).Forward(x, h, c, refH, refC);
        int saturated = 0;
        for (int b = 0; b < Batch; b++)
        {
            for (int j = 0; j < Hidden; j++)
            {
                int k = (b * Hidden) + j;
                string where = string.Create(CultureInfo.InvariantCulture, $"row {b} unit {j}: h = {gotH[k]:R}, c = {gotC[k]:R}, cPrev = {c[k]:R}");
                Assert.True(float.IsFinite(gotH[k]) && float.IsFinite(gotC[k]), where);
                Assert.True(Math.Abs(gotH[k]) <= 1f, where);
                Assert.True(Math.Abs(gotC[k]) <= Tolerances.CellStateMagnitude(c[k]), where);

                bool allSaturated = true;
                double largestTerm = 0;
                for (int gate = 0; gate < 4; gate++)
                {
                    (double z, double sumAbs, double largest) = PreActivation(p, gate, j, x.AsSpan(b * Input, Input), h.AsSpan(b * Hidden, Hidden));
                    largestTerm = Math.Max(largestTerm, largest);
                    allSaturated &= Math.Abs(z) - Tolerances.Projection(Input, Hidden, sumAbs) >= 20;
                }

                if (allSaturated)
                {
                    saturated++;
                    Check.Near(refC[k], gotC[k], Tolerances.SaturatedStep(c[k]), "saturated c", k);
                    Check.Near(refH[k], gotH[k], Tolerances.SaturatedStep(c[k]), "saturated h", k);
                }
                else if (largestTerm <= 1e3)
                {
                    Check.Near(refC[k], gotC[k], Tolerances.SeedScaleFactor(Input, Hidden) * Tolerances.CellC(refC[k]), "c", k);
                    Check.Near(refH[k], gotH[k], Tolerances.SeedScaleFactor(Input, Hidden) * Tolerances.CellH, "h", k);
                }
            }
        }

        return saturated;
    }

    /// <summary>The exact pre-activation of one gate unit, in double, with Σ|terms| and the largest |term|.</summary>
    private static (double Z, double SumAbs, double Largest) PreActivation(LstmParameters p, int gate, int unit, ReadOnlySpan<float> x, ReadOnlySpan<float> h)
    {
        int row = (gate * p.HiddenSize) + unit;
        double z = p.Bias[row], sum = Math.Abs(z), largest = sum;
        for (int k = 0; k < p.InputSize; k++)
        {
            double term = (double)p.WeightIh[(row * p.InputSize) + k] * x[k];
            z += term;
            sum += Math.Abs(term);
            largest = Math.Max(largest, Math.Abs(term));
        }

        for (int k = 0; k < p.HiddenSize; k++)
        {
            double term = (double)p.WeightHh[(row * p.HiddenSize) + k] * h[k];
            z += term;
            sum += Math.Abs(term);
            largest = Math.Max(largest, Math.Abs(term));
        }

        return (z, sum, largest);
    }

    private static (float[] X, float[] H, float[] C) State(int seed) =>
        (Generators.Fill(Batch * Input, Dist.Unit, seed), Generators.Fill(Batch * Hidden, Dist.Unit, seed + 1), Generators.Fill(Batch * Hidden, Dist.Wide, seed + 2));

    private static (float[] H, float[] C) Step(LstmCell cell, float[] x, float[] h, float[] c)
    {
        float[] hn = new float[h.Length], cn = new float[c.Length];
        cell.Forward(x, h, c, hn, cn);
        return (hn, cn);
    }

    private static void AssertRowNaN((float[] H, float[] C) got, (float[] H, float[] C) clean, int row, string what)
    {
        for (int k = 0; k < got.H.Length; k++)
        {
            if (k / Hidden == row)
            {
                Assert.True(float.IsNaN(got.H[k]) && float.IsNaN(got.C[k]), $"{what}, row {row}: unit {k % Hidden} is not NaN");
            }
            else
            {
                Check.BitwiseEqual(clean.H.AsSpan(k, 1), got.H.AsSpan(k, 1), $"{what}: h of another row");
                Check.BitwiseEqual(clean.C.AsSpan(k, 1), got.C.AsSpan(k, 1), $"{what}: c of another row");
            }
        }
    }

    private static float[] Sequence(LstmCell cell, float[] xs, int hidden)
    {
        float[] ys = new float[xs.Length / cell.InputSize * hidden], hT = new float[hidden], cT = new float[hidden];
        cell.ForwardSequence(xs, new float[hidden], new float[hidden], ys, hT, cT);
        return [.. ys, .. hT, .. cT];
    }

    /// <summary>A copy of <paramref name="values"/> starting <paramref name="offset"/> floats into a larger array.</summary>
    private static Span<float> Shifted(ReadOnlySpan<float> values, int offset)
    {
        var span = new float[values.Length + 32].AsSpan(offset, values.Length);
        values.CopyTo(span);
        return span;
    }

    /// <summary>±scale·U(½, 1) with a random sign per element (exactly ±0 when scale is ±0).</summary>
    private static float[] Signed(int length, float scale, int seed)
    {
#pragma warning disable CA5394 // Test data.
        var random = new Random(seed);
        float[] values = new float[length];
        for (int k = 0; k < length; k++)
        {
            values[k] = (random.Next(2) == 0 ? -1 : 1) * scale * (float)(0.5 + (0.5 * random.NextDouble()));
        }

        return values;
    }

    /// <summary>Each element ±1e30·U(½, 1), ±1e4·U(½, 1), ±0, a subnormal or U(−1, 1).</summary>
    private static float[] EdgeMix(int length, int seed)
    {
        var random = new Random(seed);
        float[] values = new float[length];
        for (int k = 0; k < length; k++)
        {
            float sign = random.Next(2) == 0 ? -1 : 1;
            values[k] = random.Next(5) switch
            {
                0 => sign * 1e30f * (float)(0.5 + (0.5 * random.NextDouble())),
                1 => sign * 1e4f * (float)(0.5 + (0.5 * random.NextDouble())),
                2 => sign * 0f,
                3 => sign * BitConverter.Int32BitsToSingle(random.Next(1, 0x007F_FFFF)),
                _ => (float)((2 * random.NextDouble()) - 1),
            };
        }
#pragma warning restore CA5394

        return values;
    }
}
