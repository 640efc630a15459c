using LstmKernels.Reference;
using LstmKernels.Training;

namespace LstmKernels.Tests;

/// <summary>SgdOptimizer, AdamOptimizer and Gradients (Training/Optimizers.cs); the SgdUpdate / AdamUpdate kernels they call are tested in KernelsOptimizersTests.</summary>
public sealed class OptimizerTests
{
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

    /// <summary>
    /// IOptimizer trains a stack too: SgdOptimizer and AdamOptimizer built over an LstmStackParameters, called through the
    /// interface, give bitwise the direct calls; an implementer written for one cell only (no stack overload) gets the
    /// default, a NotSupportedException that says what to do; a stack-built optimizer given one cell's gradient throws
    /// InvalidOperationException naming Update(LstmStackParameters).
    /// </summary>
    [Fact]
    public void IOptimizer_UpdatesAStack()
    {
        LstmStackParameters a = LstmStackParameters.CreateRandom(3, 4, 2, 2, 2, LstmBiasMode.Separate, 1);
        LstmStackParameters b = a.Clone();
        LstmStackParameters g = a.CreateGradient();
        Generators.Fill(g.Values.Length, Dist.Unit, 2).CopyTo(g.Values);
        foreach ((IOptimizer viaInterface, Action direct) in new (IOptimizer, Action)[]
        {
            (new SgdOptimizer(a, 0.1f, 0.9f), Direct(new SgdOptimizer(b, 0.1f, 0.9f))),
            (new AdamOptimizer(a, 0.01f), Direct2(new AdamOptimizer(b, 0.01f))),
        })
        {
            for (int step = 0; step < 2; step++)
            {
                viaInterface.Update(g);
                direct();
            }

            Check.BitwiseEqual(b.Values, a.Values, viaInterface.GetType().Name);
            Assert.Contains("Update(LstmStackParameters", Assert.Throws<InvalidOperationException>(() => viaInterface.Update(new LstmParameters(3, 4))).Message, StringComparison.Ordinal);
        }

        IOptimizer cellOnly = new CellOnlyOptimizer();
        NotSupportedException e = Assert.Throws<NotSupportedException>(() => cellOnly.Update(g));
        Assert.Contains(nameof(CellOnlyOptimizer), e.Message, StringComparison.Ordinal);
        Assert.Contains("Update(LstmStackParameters)", e.Message, StringComparison.Ordinal);

        Action Direct(SgdOptimizer o) => () => o.Update(g);
        Action Direct2(AdamOptimizer o) => () => o.Update(g);
    }

    [Fact]
    public void Optimizers_Throw()
    {
        var p = new LstmParameters(2, 2);
        Check.Throws<ArgumentException>("gradient", () => new AdamOptimizer(p).Update(new LstmParameters(2, 3)));
        Check.Throws<ArgumentOutOfRangeException>("learningRate", () => _ = new SgdOptimizer(p, float.PositiveInfinity));
    }

    /// <summary>An optimizer written before stacks could be trained: only the one-cell overload.</summary>
    private sealed class CellOnlyOptimizer : IOptimizer
    {
        public void Update(LstmParameters gradient)
        {
        }
    }
}
