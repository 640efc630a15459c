using System.Globalization;
using LstmKernels.Reference;

namespace LstmKernels.Tests;

/// <summary>
/// Numbers at the edges (docs/numerics.md): inputs and weights at ±1e4, ±1e30, ±0 and subnormals; 10⁵-step sequences;
/// NaN and ±∞ in the inputs; bitwise determinism. The guarantees: finite input gives finite output (products beyond
/// float's range included, OverflowTests), |h| ≤ 1, |c| grows by at most 1 per step, saturated gates give the reference's
/// result, and a NaN stays in the row (or, from the cell state, the unit) it came from.
/// </summary>
public sealed class NumericsEdgeTests
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

    [Theory]
    [InlineData(WeightPrecision.Float32)]
    [InlineData(WeightPrecision.Int8)]
    public void Cell_NaNInInputOrHiddenState_StaysInItsRow(WeightPrecision precision)
    {
        // Every unit of a row depends on every input and every h of that row (dense weights, and 0·NaN = NaN), and on
        // nothing in other rows: the row turns NaN, the other rows are bitwise what they are without the NaN.
        var cell = new LstmCell(LstmParameters.CreateRandom(Input, Hidden, 751), precision);
        (float[] x, float[] h, float[] c) = State(752);
        (float[] cleanH, float[] cleanC) = Step(cell, x, h, c);
        for (int row = 0; row < Batch; row++)
        {
            float[] xn = (float[])x.Clone();
            xn[(row * Input) + 5] = float.NaN;
            AssertRowNaN(Step(cell, xn, h, c), (cleanH, cleanC), row, "NaN in x");

            float[] hn = (float[])h.Clone();
            hn[(row * Hidden) + 20] = float.NaN;
            AssertRowNaN(Step(cell, x, hn, c), (cleanH, cleanC), row, "NaN in hPrev");
        }
    }

    [Fact]
    public void Cell_NaNOrInfinityInCellState_StaysInItsUnit()
    {
        // c = f·cPrev + i·g, h = o·tanh(c): cPrev[j] reaches only unit j. NaN gives NaN in h[j] and c[j]; ±∞ gives
        // c[j] = ±∞ and h[j] = ±o (tanh(±∞) = ±1), as the reference. Every other value is bitwise unchanged.
        LstmParameters p = LstmParameters.CreateRandom(Input, Hidden, 761);
        var cell = new LstmCell(p);
        (float[] x, float[] h, float[] c) = State(762);
        (float[] cleanH, float[] cleanC) = Step(cell, x, h, c);
        foreach (float special in (float[])[float.NaN, float.PositiveInfinity, float.NegativeInfinity])
        {
            int at = (1 * Hidden) + 16;
            float[] cs = (float[])c.Clone();
            cs[at] = special;
            (float[] gotH, float[] gotC) = Step(cell, x, h, cs);
            float[] refH = new float[gotH.Length], refC = new float[gotC.Length];
            new ReferenceLstmCell(p).Forward(x, h, cs, refH, refC);
            for (int k = 0; k < gotH.Length; k++)
            {
                if (k != at)
                {
                    Assert.Equal(BitConverter.SingleToInt32Bits(cleanH[k]), BitConverter.SingleToInt32Bits(gotH[k]));
                    Assert.Equal(BitConverter.SingleToInt32Bits(cleanC[k]), BitConverter.SingleToInt32Bits(gotC[k]));
                }
            }

            Assert.Equal(refC[at], gotC[at]);
            if (float.IsNaN(special))
            {
                Assert.True(float.IsNaN(gotH[at]));
            }
            else
            {
                Check.Near(refH[at], gotH[at], Tolerances.CellH, $"h with cPrev = {special}", at);
            }
        }
    }

    [Theory]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void Cell_OneInfiniteInput_SaturatesTheRowAsTheReference(float infinity)
    {
        // One ±∞ input makes every pre-activation of its row ±∞ (each weight is non-zero): the gates saturate, the outputs
        // stay finite and equal the reference's; other rows are bitwise unchanged.
        LstmParameters p = LstmParameters.CreateRandom(Input, Hidden, 771);
        var cell = new LstmCell(p);
        (float[] x, float[] h, float[] c) = State(772);
        (float[] cleanH, float[] cleanC) = Step(cell, x, h, c);
        const int Row = 2;
        x[(Row * Input) + 3] = infinity;
        (float[] gotH, float[] gotC) = Step(cell, x, h, c);
        float[] refH = new float[gotH.Length], refC = new float[gotC.Length];
        new ReferenceLstmCell(p).Forward(x, h, c, refH, refC);
        for (int k = 0; k < gotH.Length; k++)
        {
            if (k / Hidden == Row)
            {
                Check.Near(refC[k], gotC[k], Tolerances.SaturatedStep(c[k]), "c with an infinite input", k);
                Check.Near(refH[k], gotH[k], Tolerances.SaturatedStep(c[k]), "h with an infinite input", k);
            }
            else
            {
                Assert.Equal(BitConverter.SingleToInt32Bits(cleanH[k]), BitConverter.SingleToInt32Bits(gotH[k]));
                Assert.Equal(BitConverter.SingleToInt32Bits(cleanC[k]), BitConverter.SingleToInt32Bits(gotC[k]));
            }
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Lstm_NaNAtOneStepOfOneRow_PoisonsThatRowFromThatStepOnly(bool unfused)
    {
        const int I = 5, H = 19, B = 3, T = 6, NanStep = 2, NanRow = 1;
        LstmParameters[] cells = [LstmParameters.CreateRandom(I, H, 781), LstmParameters.CreateRandom(H, H, 782)];
        LstmOptions options = unfused ? new LstmOptions { Clip = 5f } : LstmOptions.Default;
        var lstm = Lstm.Create(cells, options);
        float[] x = Generators.Fill(T * B * I, Dist.Unit, 783);
        float[] clean = new float[T * B * H], poisoned = new float[T * B * H];
        lstm.Forward(B, x, default, default, clean, default, default);
        x[(((NanStep * B) + NanRow) * I) + 4] = float.NaN;
        lstm.Forward(B, x, default, default, poisoned, default, default);

        // And the same stream through a session, one step at a time.
        LstmSession session = lstm.CreateSession(B);
        float[] stepped = new float[T * B * H];
        for (int t = 0; t < T; t++)
        {
            session.Step(x.AsSpan(t * B * I, B * I), stepped.AsSpan(t * B * H, B * H));
        }

        for (int t = 0; t < T; t++)
        {
            for (int b = 0; b < B; b++)
            {
                for (int j = 0; j < H; j++)
                {
                    int k = (((t * B) + b) * H) + j;
                    if (b == NanRow && t >= NanStep)
                    {
                        Assert.True(float.IsNaN(poisoned[k]) && float.IsNaN(stepped[k]), $"t {t} row {b} unit {j}: expected NaN");
                    }
                    else
                    {
                        Assert.Equal(BitConverter.SingleToInt32Bits(clean[k]), BitConverter.SingleToInt32Bits(poisoned[k]));
                        Assert.True(float.IsFinite(stepped[k]), $"t {t} row {b} unit {j}: session gave {stepped[k]}");
                    }
                }
            }
        }
    }

    [Fact]
    public void Deterministic_SameInputSameBits_AcrossRunsCellsAndBufferOffsets()
    {
        // Run after run, a second cell packed from the same weights, and buffers at every offset modulo 16 floats
        // (so every alignment a vector path can see): bitwise the same outputs.
        LstmParameters p = LstmParameters.CreateRandom(Input, Hidden, 791);
        var cells = new[] { new LstmCell(p), new LstmCell(p.Clone()) };
        (float[] x, float[] h, float[] c) = State(792);
        (float[] h0, float[] c0) = Step(cells[0], x, h, c);
        float[] g0 = new float[Batch * 4 * Hidden];
        Kernels.GateProjection(x, h, p.WeightIh, p.WeightHh, p.Bias, g0);
        float[] l0 = new float[Batch * 4 * Hidden];
        Kernels.Linear(x, p.WeightIh, p.Bias, l0);
        float[] s0 = new float[g0.Length];
        Kernels.Sigmoid(g0, s0);
        float[] y0 = new float[4 * Batch * Hidden];
        var lstm = Lstm.Create([p]);
        lstm.Forward(Batch, [.. x, .. x, .. x, .. x], default, default, y0, default, default);

        for (int offset = 0; offset < 16; offset++)
        {
            foreach (LstmCell cell in cells)
            {
                Span<float> xo = Shifted(x, offset), ho = Shifted(h, offset + 3), co = Shifted(c, offset + 7);
                Span<float> hn = new float[ho.Length + 16].AsSpan(offset, ho.Length), cn = new float[co.Length + 16].AsSpan(15 - offset, co.Length);
                cell.Forward(xo, ho, co, hn, cn);
                Check.BitwiseEqual(h0, hn, $"h at offset {offset}");
                Check.BitwiseEqual(c0, cn, $"c at offset {offset}");
            }

            Span<float> g = new float[g0.Length + 16].AsSpan(offset, g0.Length);
            Kernels.GateProjection(Shifted(x, 15 - offset), Shifted(h, offset), Shifted(p.WeightIh, offset), Shifted(p.WeightHh, 3 + offset), Shifted(p.Bias, offset), g);
            Check.BitwiseEqual(g0, g, $"GateProjection at offset {offset}");
            Span<float> l = new float[l0.Length + 16].AsSpan(offset, l0.Length);
            Kernels.Linear(Shifted(x, offset + 1), Shifted(p.WeightIh, offset), Shifted(p.Bias, 15 - offset), l);
            Check.BitwiseEqual(l0, l, $"Linear at offset {offset}");
            Span<float> s = new float[s0.Length + 16].AsSpan(offset, s0.Length);
            Kernels.Sigmoid(Shifted(g0, 15 - offset), s);
            Check.BitwiseEqual(s0, s, $"Sigmoid at offset {offset}");
            float[] y = new float[y0.Length];
            lstm.Forward(Batch, Shifted([.. x, .. x, .. x, .. x], offset), default, default, y, default, default);
            Check.BitwiseEqual(y0, y, $"Lstm.Forward at offset {offset}");
        }
    }

    /// <summary>
    /// One step of <paramref name="p"/> on the cell and on the double reference. Always: every output finite, |h| ≤ 1,
    /// |c| ≤ (|cPrev| + 1)(1 + 2u). Units whose four pre-activations are saturated for sure (|z| minus its float error
    /// bound ≥ 20) must match the reference within <see cref="Tolerances.SaturatedStep"/>; when the whole step is at
    /// the ordinary scale (every |w·v| term ≤ 1e3) every unit must match within the one-step bounds. Returns the number of
    /// saturated units.
    /// </summary>
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
