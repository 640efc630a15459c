using System.Globalization;
using LstmKernels.Reference;

namespace LstmKernels.Tests;

/// <summary>
/// Finite weights and inputs whose products or sums exceed float's range (docs/numerics.md, "Overflow"): the cell
/// matches the double reference (its gates saturate as the reference's, no NaN) on every path and precision, rows
/// below the guard's bound keep the fast path's bits, the guarded path allocates nothing in steady state, and
/// <see cref="Kernels.GateProjection"/> and <see cref="Kernels.Linear"/> give their twins' answer (±∞ only where the
/// exact sum is beyond float's range, never NaN).
/// </summary>
public sealed class OverflowTests
{
    private const int Input = 5;
    private const int Hidden = 37;

    public static TheoryData<WeightPrecision, int> Configurations => new()
    {
        { WeightPrecision.Float32, 1 },
        { WeightPrecision.Float32, 2 },
        { WeightPrecision.BFloat16, 1 },
        { WeightPrecision.Int8, 2 },
    };

    [Theory]
    [MemberData(nameof(Configurations))]
    public void Cell_WeightsAndInputsWithProductsBeyondFloat_AsTheReference(WeightPrecision precision, int stepThreads)
    {
        // Weights exactly ±1e30 or ±1, inputs exactly ±1e10 or ±1: many products are ±1e40 and many of those cancel
        // exactly, leaving ±1e30-sized remainders (which double keeps, in any order), so the reference is a sound oracle.
        const int Batch = 5;
        var random = new Random(901);
        float[] wIh = Pick(random, 4 * Hidden * Input, 1e30f, 1f), wHh = Pick(random, 4 * Hidden * Hidden, 1e30f, 1f), bias = Pick(random, 4 * Hidden, 1f, 0f);
        var cell = new LstmCell(LstmParameters.FromPyTorch(Input, Hidden, wIh, wHh, bias, default), precision) { StepThreads = stepThreads, ParallelStepMinBytes = 0 };
        var reference = new ReferenceLstmCell(cell.GetEffectiveParameters());
        float[] x = Pick(random, Batch * Input, 1e10f, 1f);
        x.AsSpan(3 * Input, Input).Fill(0.5f);   // row 3 stays in range: the fast path
        float[] h = Generators.Fill(Batch * Hidden, Dist.Unit, 902), c = Generators.Fill(Batch * Hidden, Dist.Wide, 903);
        float[] hn = new float[h.Length], cn = new float[c.Length], hr = new float[h.Length], cr = new float[c.Length];
        cell.Forward(x, h, c, hn, cn);
        reference.Forward(x, h, c, hr, cr);
        AssertNear(hr, cr, hn, cn, 1);

        // In place gives the same.
        float[] hi = (float[])h.Clone(), ci = (float[])c.Clone();
        cell.Forward(x, hi, ci, hi, ci);
        Check.BitwiseEqual(hn, hi, "in-place h");
        Check.BitwiseEqual(cn, ci, "in-place c");

        // The in-range row has the bits of a batch with no huge input at all.
        float[] calm = (float[])x.Clone();
        calm.AsSpan().Clear();
        x.AsSpan(3 * Input, Input).CopyTo(calm.AsSpan(3 * Input, Input));
        float[] hc = new float[h.Length], cc = new float[c.Length];
        cell.Forward(calm, h, c, hc, cc);
        Check.BitwiseEqual(hc.AsSpan(3 * Hidden, Hidden), hn.AsSpan(3 * Hidden, Hidden), "in-range row h");
        Check.BitwiseEqual(cc.AsSpan(3 * Hidden, Hidden), cn.AsSpan(3 * Hidden, Hidden), "in-range row c");
    }

    [Fact]
    public void Cell_Int8_UnscaledSumBeyondFloat_AsTheReference()
    {
        // Tiny weights, inputs near float's top: every effective product is small, but int8 sums the codes (±127) times
        // the inputs before scaling, and 127·3e36·K exceeds float's range.
        var random = new Random(911);
        float[] wIh = Pick(random, 4 * Hidden * Input, 1e-30f, 0f), wHh = Pick(random, 4 * Hidden * Hidden, 1e-30f, 0f);
        var cell = new LstmCell(LstmParameters.FromPyTorch(Input, Hidden, wIh, wHh, default, default), WeightPrecision.Int8);
        var reference = new ReferenceLstmCell(cell.GetEffectiveParameters());
        float[] x = Pick(random, 2 * Input, 3e36f, 3e36f), h = new float[2 * Hidden], c = new float[2 * Hidden];
        float[] hn = new float[h.Length], cn = new float[c.Length], hr = new float[h.Length], cr = new float[c.Length];
        cell.Forward(x, h, c, hn, cn);
        reference.Forward(x, h, c, hr, cr);
        AssertNear(hr, cr, hn, cn, 1);
    }

    [Theory]
    [InlineData(WeightPrecision.Float32)]
    [InlineData(WeightPrecision.Int8)]
    public void Sequence_HugeInputs_AsReferenceSteps(WeightPrecision precision)
    {
        const int Batch = 2, Steps = 4;
        var random = new Random(921);
        // x·Wᵢₕ is a sum of I = 5 (odd) exact ±1e40 products, so never 0: every gate is saturated and the double reference
        // (which sums h first, then x, and so loses an ordinary h part against ±1e40 partial sums) is a sound oracle. Row 0
        // of step 1 is zero: an in-range row (fast path) next to a guarded one.
        float[] wIh = Pick(random, 4 * Hidden * Input, 1e30f, 1e30f), wHh = Pick(random, 4 * Hidden * Hidden, 1f, 0.5f);
        var cell = new LstmCell(LstmParameters.FromPyTorch(Input, Hidden, wIh, wHh, default, default), precision);
        var reference = new ReferenceLstmCell(cell.GetEffectiveParameters());
        float[] xs = Pick(random, Steps * Batch * Input, 1e10f, 1e10f);
        xs.AsSpan(Batch * Input, Input).Clear();
        float[] h0 = Generators.Fill(Batch * Hidden, Dist.Unit, 922), c0 = Generators.Fill(Batch * Hidden, Dist.Unit, 923);
        float[] ys = new float[Steps * Batch * Hidden], hT = new float[h0.Length], cT = new float[c0.Length];
        cell.ForwardSequence(xs, h0, c0, ys, hT, cT);
        float[] rh = (float[])h0.Clone(), rc = (float[])c0.Clone();
        for (int t = 0; t < Steps; t++)
        {
            reference.Forward(xs.AsSpan(t * Batch * Input, Batch * Input), rh, rc, rh, rc);
            AssertNear(rh, rc, ys.AsSpan(t * Batch * Hidden, Batch * Hidden).ToArray(), t == Steps - 1 ? cT : rc, Steps);
        }

        Check.BitwiseEqual(ys.AsSpan((Steps - 1) * Batch * Hidden), hT, "hT is the last ys");
    }

    [Fact]
    public void Cell_GuardedPath_AllocatesNothingInSteadyState()
    {
        // One step thread: the guard is the same code for both, and with two the thread pool's queue may grow under the
        // load of other tests running in parallel (LstmCell.StepThreads).
        float[] wIh = Pick(new Random(931), 4 * Hidden * Input, 1e30f, 1f);
        var cell = new LstmCell(LstmParameters.FromPyTorch(Input, Hidden, wIh, new float[4 * Hidden * Hidden], default, default));
        float[] x = Pick(new Random(932), 2 * Input, 1e10f, 1f), h = new float[2 * Hidden], c = new float[2 * Hidden];
        float[] xs = [.. x, .. x], ys = new float[2 * h.Length];
        Assert.Equal(0, Allocation.Measure(() => cell.Forward(x, h, c, h, c), warmUp: 20, iterations: 50));
        Assert.Equal(0, Allocation.Measure(() => cell.ForwardSequence(xs, h, c, ys, h, c), warmUp: 20, iterations: 50));
    }

    [Fact]
    public void GateProjectionAndLinear_ProductsBeyondFloat_AsTheTwins()
    {
        // Random shapes (B up to 9: the 4-row tiles and the rest), weights from ±1e30, ±1, inputs from ±1e10, ±1, 0.
        for (int seed = 0; seed < 150; seed++)
        {
            var random = new Random(940 + seed);
            int batch = random.Next(1, 10), input = random.Next(1, 20), hidden = random.Next(1, 6);
            int rows = 4 * hidden;
            float[] wIh = Pick(random, rows * input, 1e30f, 1f), wHh = Pick(random, rows * hidden, 1e30f, 1f), bias = Pick(random, rows, 1e30f, 1f);
            float[] x = Pick(random, batch * input, 1e10f, 1f), h = Pick(random, batch * hidden, 1e10f, 0f);
            float[] got = new float[batch * rows], twin = new float[batch * rows];
            Kernels.GateProjection(x, h, wIh, wHh, bias, got);
            ReferenceKernels.GateProjection(x, h, wIh, wHh, bias, twin);
            AssertAsTwin(twin, got, input + hidden, seed, "GateProjection");

            Kernels.Linear(x, wIh, bias, got);
            ReferenceKernels.Linear(x, wIh, bias, twin);
            AssertAsTwin(twin, got, input, seed, "Linear");
        }
    }

    /// <summary>Each element ±big or ±small (random sign, equal odds), or 0 when small is 0 and the draw says so.</summary>
    private static float[] Pick(Random random, int length, float big, float small)
    {
#pragma warning disable CA5394 // Test data.
        float[] values = new float[length];
        for (int k = 0; k < length; k++)
        {
            values[k] = (random.Next(2) == 0 ? -1 : 1) * (random.Next(2) == 0 ? big : small);
        }
#pragma warning restore CA5394

        return values;
    }

    /// <summary>Every value finite, |h| ≤ 1, and within <paramref name="factor"/> one-step bounds of the reference.</summary>
    private static void AssertNear(float[] hr, float[] cr, float[] h, float[] c, double factor)
    {
        for (int k = 0; k < h.Length; k++)
        {
            string where = string.Create(CultureInfo.InvariantCulture, $"unit {k}: h = {h[k]:R} (reference {hr[k]:R}), c = {c[k]:R} (reference {cr[k]:R})");
            Assert.True(float.IsFinite(h[k]) && float.IsFinite(c[k]) && Math.Abs(h[k]) <= 1f, where);
            Assert.True(Math.Abs(h[k] - hr[k]) <= factor * Tolerances.CellH, where);
            Assert.True(Math.Abs(c[k] - cr[k]) <= factor * Tolerances.CellC(cr[k]), where);
        }
    }

    /// <summary>
    /// No NaN; where the twin is not finite (exact sum beyond float) the kernel gives the same ±∞; elsewhere the kernel
    /// is the twin's value or within the projection bound of it (outputs the fast path summed without overflow).
    /// </summary>
    private static void AssertAsTwin(float[] twin, float[] got, int terms, int seed, string what)
    {
        for (int k = 0; k < got.Length; k++)
        {
            string where = string.Create(CultureInfo.InvariantCulture, $"{what}, seed {seed}, output {k}: {got[k]:R}, twin {twin[k]:R}");
            Assert.False(float.IsNaN(got[k]), where);
            if (!float.IsFinite(twin[k]) || got[k] == twin[k])
            {
                Assert.Equal(twin[k], got[k]);
                continue;
            }

            // A finite fast-path sum: every term is at most 1e40 in magnitude only if it overflowed, so here they are all
            // in range and the usual bound holds with Σ|terms| ≤ terms·1e30 (the bound is loose but catches a wrong sign).
            Assert.True(float.IsFinite(got[k]), where);
            Assert.True(Math.Abs(got[k] - twin[k]) <= Tolerances.Projection(terms, 0, (terms + 1) * 1e30), where);
        }
    }
}
