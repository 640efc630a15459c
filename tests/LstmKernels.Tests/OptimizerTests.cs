using FsCheck.Xunit;
using LstmKernels.Reference;
using LstmKernels.Training;

namespace LstmKernels.Tests;

/// <summary>Kernels.SgdUpdate / Kernels.AdamUpdate against their twins; SgdOptimizer, AdamOptimizer and Gradients (Training/Optimizers.cs).</summary>
[Properties(Arbitrary = [typeof(Generators), typeof(BackwardGenerators)], MaxTest = 150)]
public sealed class OptimizerTests
{
    [Property]
    public void SgdUpdate_MatchesReference(OptimizerCase t) => CheckSgd(t.P.Values, t.G.Values, t.M.Values, t.Momentum, t.Rate);

    [Property]
    public void AdamUpdate_MatchesReference(OptimizerCase t) => CheckAdam(t.P.Values, t.G.Values, t.M.Values, t.V.Values, t.Step, t.Rate);

    [Fact]
    public void SgdUpdate_AdamUpdate_AllLengths()
    {
        for (int n = 0; n <= 70; n++)
        {
            float[] p = Generators.Fill(n, Dist.Unit, n), g = Generators.Fill(n, Dist.Unit, n + 1), m = Generators.Fill(n, Dist.Unit, n + 2);
            float[] v = Generators.Fill(n, Dist.Probability, n + 3);
            CheckSgd(p, g, m, 0.9f, 0.1f);
            CheckSgd(p, g, [], 0f, 0.1f);
            CheckAdam(p, g, m, v, 1 + n, 0.01f);
        }
    }

    /// <summary>SgdOptimizer without momentum is the seed's w −= lr·grad: the same as ReferenceLstmCell.ApplySgd.</summary>
    [Fact]
    public void SgdOptimizer_MatchesReferenceApplySgd()
    {
        const int I = 5, H = 7;
        LstmParameters p = LstmParameters.CreateRandom(I, H, 3);
        var reference = new ReferenceLstmCell(p);
        var gradient = new LstmParameters(I, H);
        Generators.Fill(gradient.WeightIh.Length, Dist.Unit, 1).CopyTo(gradient.WeightIh);
        Generators.Fill(gradient.WeightHh.Length, Dist.Unit, 2).CopyTo(gradient.WeightHh);
        Generators.Fill(gradient.Bias.Length, Dist.Unit, 3).CopyTo(gradient.Bias);
        var refGradient = new ReferenceLstmGradients(I, H);
        for (int k = 0; k < gradient.WeightIh.Length; k++)
        {
            refGradient.WeightIh[k] = gradient.WeightIh[k];
        }

        for (int k = 0; k < gradient.WeightHh.Length; k++)
        {
            refGradient.WeightHh[k] = gradient.WeightHh[k];
        }

        for (int k = 0; k < gradient.Bias.Length; k++)
        {
            refGradient.Bias[k] = gradient.Bias[k];
        }

        const float Rate = 0.05f;
        LstmParameters before = p.Clone();
        new SgdOptimizer(p, Rate).Update(gradient);
        reference.ApplySgd(refGradient, Rate);
        LstmParameters expected = reference.ToParameters();
        for (int k = 0; k < p.WeightHh.Length; k++)
        {
            double rv = Rate * (double)gradient.WeightHh[k];
            Check.Near(expected.WeightHh[k], p.WeightHh[k], Tolerances.SgdParameter(before.WeightHh[k], expected.WeightHh[k], rv), "WeightHh", k);
        }

        for (int k = 0; k < p.Bias.Length; k++)
        {
            double rv = Rate * (double)gradient.Bias[k];
            Check.Near(expected.Bias[k], p.Bias[k], Tolerances.SgdParameter(before.Bias[k], expected.Bias[k], rv), "Bias", k);
        }
    }

    /// <summary>AdamOptimizer over several steps equals the twin applied step by step to each tensor.</summary>
    [Fact]
    public void AdamOptimizer_MatchesTwinOverSteps()
    {
        const int I = 4, H = 9;
        LstmParameters p = LstmParameters.CreateRandom(I, H, 4);
        float[] twin = p.WeightIh.ToArray(), m = new float[twin.Length], v = new float[twin.Length];
        var adam = new AdamOptimizer(p, 0.01f);
        var gradient = new LstmParameters(I, H);
        for (int step = 1; step <= 5; step++)
        {
            Generators.Fill(gradient.WeightIh.Length, Dist.Unit, step).CopyTo(gradient.WeightIh);
            adam.Update(gradient);
            ReferenceKernels.AdamUpdate(0.01f, 0.9f, 0.999f, 1e-8f, step, gradient.WeightIh, m, v, twin);
            for (int k = 0; k < twin.Length; k++)
            {
                // Each step's bound is ~1e-9 here (steps of 1e-2); five steps carry at most five of them.
                Check.Near(twin[k], p.WeightIh[k], 5 * ((2 * Tolerances.U * Math.Abs(twin[k])) + (12 * Tolerances.U * 0.01)), $"step {step} WeightIh", k);
            }
        }

        Assert.Equal(5, adam.StepCount);
        adam.Reset();
        Assert.Equal(0, adam.StepCount);
    }

    [Fact]
    public void SgdOptimizer_MomentumAccumulatesVelocity()
    {
        var p = new LstmParameters(1, 1);
        var g = new LstmParameters(1, 1);
        g.Bias.Fill(1f);
        var sgd = new SgdOptimizer(p, 0.1f, 0.5f);
        sgd.Update(g); // v = 1, p = −0.1
        sgd.Update(g); // v = 1.5, p = −0.25
        Assert.Equal(-0.25f, p.Bias[0], 6);
    }

    [Fact]
    public void ClipByGlobalNorm_ScalesToMaxNorm()
    {
        var g = new LstmParameters(2, 3);
        g.WeightIh.Fill(1f);
        g.WeightHh.Fill(-2f);
        g.Bias.Fill(0.5f);
        float[] extra = [3f, 4f];
        double expected = Math.Sqrt((24 * 1.0) + (36 * 4.0) + (12 * 0.25) + 25);
        Assert.Equal(expected, Gradients.GlobalNorm(g, extra), 4);

        // Below the limit: unchanged.
        Assert.Equal(expected, Gradients.ClipByGlobalNorm(g, extra, 100f), 4);
        Assert.Equal(1f, g.WeightIh[0]);

        // Above: scaled to the limit, direction kept.
        float norm = Gradients.ClipByGlobalNorm(g, extra, 2f);
        Assert.Equal(expected, norm, 4);
        Assert.Equal(2.0, Gradients.GlobalNorm(g, extra), 4);
        Assert.Equal(-2f * g.WeightIh[0], g.WeightHh[0], 5);
        Assert.Equal(3 * 2 / expected, extra[0], 5);

        // Non-finite: unchanged, reported.
        g.Bias[0] = float.NaN;
        Assert.True(float.IsNaN(Gradients.ClipByGlobalNorm(g, extra, 1f)));
        Check.Throws<ArgumentOutOfRangeException>("maxNorm", () => Gradients.ClipByGlobalNorm(g, extra, 0f));

        Gradients.Clear(g);
        Assert.Equal(0f, Gradients.GlobalNorm(g, default));
    }

    [Fact]
    public void Optimizers_Throw()
    {
        float[] a = new float[4], b = new float[4], c = new float[4], d = new float[4];
        foreach (bool twin in (bool[])[false, true])
        {
            Kernels_SgdUpdate sgd = twin ? ReferenceKernels.SgdUpdate : Kernels.SgdUpdate;
            Check.Throws<ArgumentOutOfRangeException>("momentum", () => sgd(0.1f, 1f, a, b, c));
            Check.Throws<ArgumentOutOfRangeException>("learningRate", () => sgd(float.NaN, 0f, a, b, c));
            Check.Throws<ArgumentException>("gradient", () => sgd(0.1f, 0f, new float[3], b, c));
            Check.Throws<ArgumentException>("velocity", () => sgd(0.1f, 0.5f, a, default, c));
            Check.Throws<ArgumentException>("parameters", () => sgd(0.1f, 0f, a, b, a));

            Kernels_AdamUpdate adam = twin ? ReferenceKernels.AdamUpdate : Kernels.AdamUpdate;
            Check.Throws<ArgumentOutOfRangeException>("step", () => adam(0.1f, 0.9f, 0.99f, 1e-8f, 0, a, b, c, d));
            Check.Throws<ArgumentOutOfRangeException>("beta2", () => adam(0.1f, 0.9f, 1f, 1e-8f, 1, a, b, c, d));
            Check.Throws<ArgumentOutOfRangeException>("epsilon", () => adam(0.1f, 0.9f, 0.99f, 0f, 1, a, b, c, d));
            Check.Throws<ArgumentException>("v", () => adam(0.1f, 0.9f, 0.99f, 1e-8f, 1, a, b, new float[5], d));
            Check.Throws<ArgumentException>("m", () => adam(0.1f, 0.9f, 0.99f, 1e-8f, 1, a, b, b, d));
        }

        var p = new LstmParameters(2, 2);
        Check.Throws<ArgumentException>("gradient", () => new AdamOptimizer(p).Update(new LstmParameters(2, 3)));
        Check.Throws<ArgumentOutOfRangeException>("learningRate", () => _ = new SgdOptimizer(p, float.PositiveInfinity));
    }

    [Fact]
    public void Optimizers_DoNotAllocate()
    {
        float[] p = Generators.Fill(1003, Dist.Unit, 1), g = Generators.Fill(1003, Dist.Unit, 2), m = new float[1003], v = new float[1003];
        int step = 0;
        long bytes = Allocation.Measure(() =>
        {
            Kernels.SgdUpdate(1e-3f, 0.9f, g, m, p);
            Kernels.SgdUpdate(1e-3f, 0f, g, default, p);
            Kernels.AdamUpdate(1e-3f, 0.9f, 0.999f, 1e-8f, ++step, g, m, v, p);
        });
        Assert.Equal(0, bytes);
    }

    private delegate void Kernels_SgdUpdate(float learningRate, float momentum, ReadOnlySpan<float> gradient, Span<float> velocity, Span<float> parameters);

    private delegate void Kernels_AdamUpdate(
        float learningRate, float beta1, float beta2, float epsilon, int step, ReadOnlySpan<float> gradient, Span<float> m, Span<float> v, Span<float> parameters);

    private static void CheckSgd(float[] p0, float[] g, float[] v0, float momentum, float rate)
    {
        bool withVelocity = momentum != 0 || v0.Length != 0;
        var p = new Guarded(p0);
        var v = new Guarded(withVelocity ? v0 : []);
        Kernels.SgdUpdate(rate, momentum, g, withVelocity ? v.Span : default, p.Span);
        p.AssertIntact("parameters");
        v.AssertIntact("velocity");
        float[] rp = (float[])p0.Clone(), rv = withVelocity ? (float[])v0.Clone() : [];
        ReferenceKernels.SgdUpdate(rate, momentum, g, rv, rp);
        for (int k = 0; k < p0.Length; k++)
        {
            double mv = withVelocity ? (double)momentum * v0[k] : 0;
            double vel = mv + g[k];
            double pNew = p0[k] - (rate * vel);
            double rateTimesTerms = rate * (Math.Abs(mv) + Math.Abs(g[k]));
            Check.Near(pNew, p.Span[k], Tolerances.SgdParameter(p0[k], pNew, rateTimesTerms), "parameters", k);
            Check.Near(pNew, rp[k], Tolerances.SgdParameter(p0[k], pNew, rateTimesTerms), "twin parameters", k);
            if (withVelocity)
            {
                Check.Near(vel, v.Span[k], Tolerances.SgdVelocity(mv, g[k]), "velocity", k);
            }
        }
    }

    private static void CheckAdam(float[] p0, float[] g, float[] m0, float[] v0, int step, float rate)
    {
        const float B1 = 0.9f, B2 = 0.999f, Eps = 1e-8f;
        var p = new Guarded(p0);
        var m = new Guarded(m0);
        var v = new Guarded(v0);
        Kernels.AdamUpdate(rate, B1, B2, Eps, step, g, m.Span, v.Span, p.Span);
        p.AssertIntact("parameters");
        m.AssertIntact("m");
        v.AssertIntact("v");
        double bc1 = 1 - Math.Pow(B1, step), bc2 = 1 - Math.Pow(B2, step);
        for (int k = 0; k < p0.Length; k++)
        {
            double mTerms = Math.Abs((double)B1 * m0[k]) + Math.Abs((1 - (double)B1) * g[k]);
            double vTerms = Math.Abs((double)B2 * v0[k]) + Math.Abs((1 - (double)B2) * g[k] * g[k]);
            double mv = ((double)B1 * m0[k]) + ((1 - (double)B1) * g[k]);
            double vv = ((double)B2 * v0[k]) + ((1 - (double)B2) * g[k] * g[k]);
            double denominator = (Math.Sqrt(vv) / Math.Sqrt(bc2)) + Eps;
            double stepValue = rate / bc1 * mv / denominator;
            double pNew = p0[k] - stepValue;
            Check.Near(mv, m.Span[k], Tolerances.AdamMoment(mTerms), "m", k);
            Check.Near(vv, v.Span[k], Tolerances.AdamMoment(vTerms), "v", k);
            Check.Near(pNew, p.Span[k], Tolerances.AdamParameter(pNew, stepValue, rate / bc1 / denominator, mTerms), "parameters", k);
        }

        float[] rp = (float[])p0.Clone(), rm = (float[])m0.Clone(), rv = (float[])v0.Clone();
        ReferenceKernels.AdamUpdate(rate, B1, B2, Eps, step, g, rm, rv, rp);
        for (int k = 0; k < p0.Length; k++)
        {
            Check.Near(rp[k], p.Span[k], 2 * Tolerances.AdamParameter(rp[k], p0[k] - rp[k], rate / bc1 / ((Math.Sqrt(rv[k]) / Math.Sqrt(bc2)) + Eps), Math.Abs(B1 * m0[k]) + Math.Abs(0.1 * g[k])), "twin parameters", k);
        }
    }
}
