using FsCheck.Xunit;
using LstmKernels.Reference;

namespace LstmKernels.Tests;

/// <summary>Kernels.SgdUpdate and Kernels.AdamUpdate (Kernels.Optimizers.cs) against their twins and the same formulas in double.</summary>
[Properties(Arbitrary = [typeof(Generators), typeof(BackwardGenerators)], MaxTest = 150)]
public sealed class KernelsOptimizersTests
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
    public void SgdUpdate_AdamUpdate_Throw()
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
    }

    [Fact]
    public void SgdUpdate_AdamUpdate_DoNotAllocate()
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
