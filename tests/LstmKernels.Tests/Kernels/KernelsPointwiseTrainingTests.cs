using FsCheck.Xunit;
using LstmKernels.Reference;

namespace LstmKernels.Tests;

/// <summary>
/// LstmPointwiseTraining and LstmPointwiseBackward (Kernels.PointwiseTraining.cs) against their twins
/// (ReferenceKernels.PointwiseTraining.cs), the exact equations and LstmPointwise.
/// </summary>
[Properties(Arbitrary = [typeof(Generators), typeof(BackwardGenerators)], MaxTest = 100)]
public sealed class KernelsPointwiseTrainingTests
{
    private delegate void PointwiseTrainingFn(int hiddenSize, ReadOnlySpan<float> gates, ReadOnlySpan<float> cPrev, Span<float> activations, Span<float> h, Span<float> c);

    private delegate void PointwiseBackwardFn(
        int hiddenSize, ReadOnlySpan<float> activations, ReadOnlySpan<float> cPrev, ReadOnlySpan<float> c, ReadOnlySpan<float> dh, ReadOnlySpan<float> dc, Span<float> dGates, Span<float> dcPrev);

    public static TheoryData<bool> KernelAndTwin => [false, true];

    // ---------------------------------------------------------------- LstmPointwiseTraining

    /// <summary>h and c are bitwise those of LstmPointwise; the activations are those of Sigmoid/Tanh within their bound.</summary>
    [Property]
    public void LstmPointwiseTraining_MatchesReference(PointwiseCase t)
    {
        float[] gates = t.Gates.Values, cPrev = t.CPrev.Values;
        int n = cPrev.Length;
        var act = new Guarded(gates.Length);
        var h = new Guarded(n);
        var c = new Guarded(n);
        Kernels.LstmPointwiseTraining(t.Hidden, gates, cPrev, act.Span, h.Span, c.Span);
        act.AssertIntact("activations");
        h.AssertIntact("h");
        c.AssertIntact("c");

        float[] hp = new float[n], cp = new float[n];
        Kernels.LstmPointwise(t.Hidden, gates, cPrev, hp, cp);
        Check.BitwiseEqual(hp, h.Span, "h vs LstmPointwise");
        Check.BitwiseEqual(cp, c.Span, "c vs LstmPointwise");

        float[] refAct = new float[gates.Length], refH = new float[n], refC = new float[n];
        ReferenceKernels.LstmPointwiseTraining(t.Hidden, gates, cPrev, refAct, refH, refC);
        for (int k = 0; k < gates.Length; k++)
        {
            bool candidate = (k / t.Hidden) % 4 == 2;
            double exact = candidate ? Math.Tanh(gates[k]) : ReferenceKernels.Logistic(gates[k]);
            Check.Near(exact, act.Span[k], Tolerances.Activation(exact), "activations", k);
            Assert.Equal(refAct[k], (float)exact);
        }
    }

    [Fact]
    public void LstmPointwiseTraining_AllLengths()
    {
        for (int hidden = 1; hidden <= 70; hidden++)
        {
            const int B = 2;
            float[] gates = Generators.Fill(B * 4 * hidden, Dist.Wide, hidden);
            float[] cPrev = Generators.Fill(B * hidden, Dist.Unit, hidden + 1000);
            var act = new Guarded(gates.Length);
            var h = new Guarded(B * hidden);
            var c = new Guarded(B * hidden);
            Kernels.LstmPointwiseTraining(hidden, gates, cPrev, act.Span, h.Span, c.Span);
            act.AssertIntact($"activations, H = {hidden}");
            h.AssertIntact($"h, H = {hidden}");
            c.AssertIntact($"c, H = {hidden}");
            float[] hp = new float[B * hidden], cp = new float[B * hidden];
            Kernels.LstmPointwise(hidden, gates, cPrev, hp, cp);
            Check.BitwiseEqual(hp, h.Span, $"h, H = {hidden}");
            Check.BitwiseEqual(cp, c.Span, $"c, H = {hidden}");
        }
    }

    /// <summary>activations = gates and c = cPrev (the documented exact aliasing) give the bits of separate buffers.</summary>
    [Property(MaxTest = 50)]
    public void LstmPointwiseTraining_InPlace(PointwiseCase t)
    {
        float[] gates = t.Gates.Values, cPrev = t.CPrev.Values;
        float[] act = new float[gates.Length], h = new float[cPrev.Length], c = new float[cPrev.Length];
        Kernels.LstmPointwiseTraining(t.Hidden, gates, cPrev, act, h, c);
        float[] g2 = (float[])gates.Clone(), c2 = (float[])cPrev.Clone(), h2 = new float[cPrev.Length];
        Kernels.LstmPointwiseTraining(t.Hidden, g2, c2, g2, h2, c2);
        Check.BitwiseEqual(act, g2, "activations in place");
        Check.BitwiseEqual(h, h2, "h");
        Check.BitwiseEqual(c, c2, "c in place");
    }

    [Theory]
    [MemberData(nameof(KernelAndTwin))]
    public void LstmPointwiseTraining_Throws(bool twin)
    {
        PointwiseTrainingFn fn = twin ? ReferenceKernels.LstmPointwiseTraining : Kernels.LstmPointwiseTraining;
        float[] g = new float[24], s = new float[6], a = new float[24], h = new float[6], c = new float[6];
        Check.Throws<ArgumentOutOfRangeException>("hiddenSize", () => fn(0, g, s, a, h, c));
        Check.Throws<ArgumentException>("gates", () => fn(3, new float[23], s, a, h, c));
        Check.Throws<ArgumentException>("activations", () => fn(3, g, s, new float[23], h, c));
        Check.Throws<ArgumentException>("cPrev", () => fn(3, g, new float[5], a, h, c));
        Check.Throws<ArgumentException>("h", () => fn(3, g, s, a, new float[7], c));
        Check.Throws<ArgumentException>("c", () => fn(3, g, s, a, h, new float[7]));
        float[] big = new float[64];
        Check.Throws<ArgumentException>("activations", () => fn(3, big.AsSpan(0, 24), s, big.AsSpan(1, 24), h, c));
        Check.Throws<ArgumentException>("h", () => fn(3, g, s, a, a.AsSpan(0, 6), c));
        Check.Throws<ArgumentException>("c", () => fn(3, g, big.AsSpan(0, 6), a, h, big.AsSpan(2, 6)));
    }

    // ---------------------------------------------------------------- LstmPointwiseBackward

    [Property(MaxTest = 150)]
    public void LstmPointwiseBackward_MatchesReference(PointwiseBackwardCase t)
    {
        (float[] act, float[] c) = t.Forward();
        float[] cPrev = t.CPrev.Values, dh = t.Dh.Values, dc = t.Dc.Values;
        var dz = new Guarded(act.Length);
        var dcPrev = new Guarded(c.Length);
        Kernels.LstmPointwiseBackward(t.Hidden, act, cPrev, c, dh, dc, dz.Span, dcPrev.Span);
        dz.AssertIntact("dGates");
        dcPrev.AssertIntact("dcPrev");
        float[] refDz = new float[act.Length], refDc = new float[c.Length];
        ReferenceKernels.LstmPointwiseBackward(t.Hidden, act, cPrev, c, dh, dc, refDz, refDc);
        AssertBackward(t.Hidden, act, cPrev, c, dh, dc, dz.Span, dcPrev.Span);
    }

    [Fact]
    public void LstmPointwiseBackward_AllLengths()
    {
        for (int hidden = 1; hidden <= 70; hidden++)
        {
            const int B = 3;
            float[] gates = Generators.Fill(B * 4 * hidden, Dist.Wide, hidden);
            float[] cPrev = Generators.Fill(B * hidden, Dist.Unit, hidden + 1);
            float[] act = new float[gates.Length], h = new float[B * hidden], c = new float[B * hidden];
            ReferenceKernels.LstmPointwiseTraining(hidden, gates, cPrev, act, h, c);
            float[] dh = Generators.Fill(B * hidden, Dist.Unit, hidden + 2), dc = Generators.Fill(B * hidden, Dist.Unit, hidden + 3);
            var dz = new Guarded(act.Length);
            var dcPrev = new Guarded(B * hidden);
            Kernels.LstmPointwiseBackward(hidden, act, cPrev, c, dh, dc, dz.Span, dcPrev.Span);
            dz.AssertIntact($"dGates, H = {hidden}");
            dcPrev.AssertIntact($"dcPrev, H = {hidden}");
            AssertBackward(hidden, act, cPrev, c, dh, dc, dz.Span, dcPrev.Span);
        }
    }

    /// <summary>dcPrev = dc (exact aliasing, what BPTT does) gives the bits of separate buffers.</summary>
    [Property(MaxTest = 50)]
    public void LstmPointwiseBackward_InPlace(PointwiseBackwardCase t)
    {
        (float[] act, float[] c) = t.Forward();
        float[] dz = new float[act.Length], dcPrev = new float[c.Length];
        Kernels.LstmPointwiseBackward(t.Hidden, act, t.CPrev.Values, c, t.Dh.Values, t.Dc.Values, dz, dcPrev);
        float[] dz2 = new float[act.Length], dc = (float[])t.Dc.Values.Clone();
        Kernels.LstmPointwiseBackward(t.Hidden, act, t.CPrev.Values, c, t.Dh.Values, dc, dz2, dc);
        Check.BitwiseEqual(dz, dz2, "dGates");
        Check.BitwiseEqual(dcPrev, dc, "dcPrev in place");
    }

    /// <summary>The seed's defects, as checks on the equations: dz_f uses cPrev (not c) and dcPrev is returned.</summary>
    [Fact]
    public void LstmPointwiseBackward_UsesPreviousCellState()
    {
        // One unit: i = f = o = 0.5, g = 0.5, cPrev = 2, c = f·cPrev + i·g = 1.25.
        float[] act = [0.5f, 0.5f, 0.5f, 0.5f];
        float[] cPrev = [2f], c = [1.25f], dh = [0f], dc = [1f];
        float[] dz = new float[4], dcPrev = new float[1];
        Kernels.LstmPointwiseBackward(1, act, cPrev, c, dh, dc, dz, dcPrev);
        Assert.Equal(1f * 2f * 0.25f, dz[1], 6); // δc·cPrev·f(1 − f), not δc·c·f(1 − f) = 0.3125
        Assert.Equal(0.5f, dcPrev[0], 6);       // δc·f
        Assert.Equal(0f, dz[3]);                // dh = 0: no output-gate gradient
    }

    [Theory]
    [MemberData(nameof(KernelAndTwin))]
    public void LstmPointwiseBackward_Throws(bool twin)
    {
        PointwiseBackwardFn fn = twin ? ReferenceKernels.LstmPointwiseBackward : Kernels.LstmPointwiseBackward;
        float[] a = new float[24], s1 = new float[6], s2 = new float[6], s3 = new float[6], s4 = new float[6], z = new float[24], d = new float[6];
        Check.Throws<ArgumentOutOfRangeException>("hiddenSize", () => fn(0, a, s1, s2, s3, s4, z, d));
        Check.Throws<ArgumentException>("activations", () => fn(3, new float[25], s1, s2, s3, s4, z, d));
        Check.Throws<ArgumentException>("cPrev", () => fn(3, a, new float[5], s2, s3, s4, z, d));
        Check.Throws<ArgumentException>("c", () => fn(3, a, s1, new float[5], s3, s4, z, d));
        Check.Throws<ArgumentException>("dh", () => fn(3, a, s1, s2, new float[5], s4, z, d));
        Check.Throws<ArgumentException>("dc", () => fn(3, a, s1, s2, s3, new float[5], z, d));
        Check.Throws<ArgumentException>("dGates", () => fn(3, a, s1, s2, s3, s4, new float[23], d));
        Check.Throws<ArgumentException>("dcPrev", () => fn(3, a, s1, s2, s3, s4, z, new float[7]));
        Check.Throws<ArgumentException>("dGates", () => fn(3, a, s1, s2, s3, s4, a, d));
        float[] big = new float[20];
        Check.Throws<ArgumentException>("dcPrev", () => fn(3, a, s1, s2, s3, big.AsSpan(0, 6), z, big.AsSpan(1, 6)));
        Check.Throws<ArgumentException>("dcPrev", () => fn(3, a, s1, s2, d, s4, z, d));
    }

    // ---------------------------------------------------------------- allocation

    [Fact]
    public void PointwiseTrainingKernels_DoNotAllocate()
    {
        const int H = 37, B = 3;
        float[] gates = Generators.Fill(B * 4 * H, Dist.Wide, 1), cPrev = Generators.Fill(B * H, Dist.Unit, 2);
        float[] act = new float[gates.Length], h = new float[B * H], c = new float[B * H];
        float[] dh = Generators.Fill(B * H, Dist.Unit, 3), dc = Generators.Fill(B * H, Dist.Unit, 4), dz = new float[gates.Length];
        long bytes = Allocation.Measure(
            () =>
            {
                Kernels.LstmPointwiseTraining(H, gates, cPrev, act, h, c);
                Kernels.LstmPointwiseBackward(H, act, cPrev, c, dh, dc, dz, dc);
            },
            warmUp: 100,
            iterations: 500);
        Assert.Equal(0, bytes);
    }

    // ---------------------------------------------------------------- helpers

    private static void AssertBackward(
        int hidden, float[] act, float[] cPrev, float[] c, float[] dh, float[] dc, ReadOnlySpan<float> dz, ReadOnlySpan<float> dcPrev)
    {
        int batch = cPrev.Length / hidden;
        float[] refDz = new float[act.Length], refDc = new float[c.Length];
        for (int b = 0; b < batch; b++)
        {
            for (int j = 0; j < hidden; j++)
            {
                int z = (b * 4 * hidden) + j, s = (b * hidden) + j;
                double i = act[z], f = act[z + hidden], g = act[z + (2 * hidden)], o = act[z + (3 * hidden)];
                double tc = Math.Tanh(c[s]);
                double dct = dc[s] + (dh[s] * o * (1 - (tc * tc)));
                double bound = Tolerances.PointwiseBackward(dh[s], dc[s], cPrev[s]);
                Check.Near(dct * g * i * (1 - i), dz[z], bound, "dz_i", s);
                Check.Near(dct * cPrev[s] * f * (1 - f), dz[z + hidden], bound, "dz_f", s);
                Check.Near(dct * i * (1 - (g * g)), dz[z + (2 * hidden)], bound, "dz_g", s);
                Check.Near(dh[s] * tc * o * (1 - o), dz[z + (3 * hidden)], bound, "dz_o", s);
                Check.Near(dct * f, dcPrev[s], bound, "dcPrev", s);
            }
        }
    }
}
