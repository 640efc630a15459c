using FsCheck.Xunit;
using LstmKernels.Reference;

namespace LstmKernels.Tests;

/// <summary>Kernels.LstmPointwise (Kernels.Cell.cs) against its twin, the exact stage and the composed kernels.</summary>
public sealed partial class KernelsCellTests
{
    // ---------------------------------------------------------------- LstmPointwise

    [Property]
    public void LstmPointwise_MatchesReference(PointwiseCase t)
    {
        float[] gates = t.Gates.Values, cPrev = t.CPrev.Values;
        var h = new Guarded(cPrev.Length);
        var c = new Guarded(cPrev.Length);
        Kernels.LstmPointwise(t.Hidden, gates, cPrev, h.Span, c.Span);
        h.AssertIntact("LstmPointwise h");
        c.AssertIntact("LstmPointwise c");
        AssertPointwise(t.Hidden, gates, cPrev, h.Span, c.Span, twinToo: true);
    }

    [Fact]
    public void LstmPointwise_AllLengths()
    {
        foreach (int batch in (int[])[0, 1, 2, 3, 5])
        {
            for (int hidden = 1; hidden <= 40; hidden++)
            {
                float[] gates = Generators.Fill(batch * 4 * hidden, Dist.Wide, hidden);
                float[] cPrev = Generators.Fill(batch * hidden, Dist.Wide, -hidden);
                var h = new Guarded(batch * hidden, fill: 12345f);
                var c = new Guarded(batch * hidden, fill: 12345f);
                Kernels.LstmPointwise(hidden, gates, cPrev, h.Span, c.Span);
                h.AssertIntact($"LstmPointwise h, B = {batch}, H = {hidden}");
                c.AssertIntact($"LstmPointwise c, B = {batch}, H = {hidden}");
                AssertPointwise(hidden, gates, cPrev, h.Span, c.Span, twinToo: false);

                // In place (c is cPrev) through a guarded buffer.
                var state = new Guarded(cPrev);
                var h2 = new Guarded(batch * hidden);
                Kernels.LstmPointwise(hidden, gates, state.Span, h2.Span, state.Span);
                state.AssertIntact($"LstmPointwise in place c, B = {batch}, H = {hidden}");
                Check.BitwiseEqual(c.Span, state.Span, "in-place c");
                Check.BitwiseEqual(h.Span, h2.Span, "h with in-place c");
            }
        }
    }

    [Property(MaxTest = 100)]
    public void LstmPointwise_InPlace(PointwiseCase t)
    {
        float[] h = new float[t.CPrev.Values.Length];
        float[] c = new float[t.CPrev.Values.Length];
        Kernels.LstmPointwise(t.Hidden, t.Gates.Values, t.CPrev.Values, h, c);
        float[] state = (float[])t.CPrev.Values.Clone();
        float[] h2 = new float[state.Length];
        Kernels.LstmPointwise(t.Hidden, t.Gates.Values, state, h2, state);
        Check.BitwiseEqual(c, state, "c in place");
        Check.BitwiseEqual(h, h2, "h with c in place");
    }

    /// <summary>The fused pointwise stage gives bitwise what the separate kernels give on the same path.</summary>
    [Property(MaxTest = 100)]
    public void LstmPointwise_MatchesComposedKernels(PointwiseCase t)
    {
        int hs = t.Hidden;
        float[] gates = t.Gates.Values, cPrev = t.CPrev.Values;
        float[] h = new float[cPrev.Length], c = new float[cPrev.Length];
        Kernels.LstmPointwise(hs, gates, cPrev, h, c);
        float[] act = new float[gates.Length];
        float[] c2 = new float[cPrev.Length], h2 = new float[cPrev.Length];
        for (int b = 0; b < t.Batch; b++)
        {
            Span<float> z = act.AsSpan(b * 4 * hs, 4 * hs);
            ReadOnlySpan<float> zIn = gates.AsSpan(b * 4 * hs, 4 * hs);
            Kernels.Sigmoid(zIn[..(2 * hs)], z[..(2 * hs)]);
            Kernels.Tanh(zIn.Slice(2 * hs, hs), z.Slice(2 * hs, hs));
            Kernels.Sigmoid(zIn.Slice(3 * hs, hs), z.Slice(3 * hs, hs));
            Span<float> cRow = c2.AsSpan(b * hs, hs);
            Kernels.CellUpdate(z.Slice(hs, hs), cPrev.AsSpan(b * hs, hs), z[..hs], z.Slice(2 * hs, hs), cRow);
            Kernels.HiddenUpdate(z.Slice(3 * hs, hs), cRow, h2.AsSpan(b * hs, hs));
        }

        Check.BitwiseEqual(c2, c, "LstmPointwise c vs Sigmoid/Tanh/CellUpdate");
        Check.BitwiseEqual(h2, h, "LstmPointwise h vs HiddenUpdate");
    }

    [Fact]
    public void LstmPointwise_SpecialValues()
    {
        const int H = 19;
        const int B = 2;
        float[] baseGates = Generators.Fill(B * 4 * H, Dist.Wide, 77);
        float[] cPrev = Generators.Fill(B * H, Dist.Wide, 78);

        // NaN in one gate of one unit: NaN in that unit's c and h (h only, for the output gate), nowhere else.
        foreach (int unit in (int[])[2, 17])
        {
            for (int gate = 0; gate < 4; gate++)
            {
                float[] gates = (float[])baseGates.Clone();
                gates[(4 * H) + (gate * H) + unit] = float.NaN;
                float[] h = new float[B * H], c = new float[B * H];
                Kernels.LstmPointwise(H, gates, cPrev, h, c);
                for (int k = 0; k < B * H; k++)
                {
                    bool hit = k == H + unit;
                    Assert.True(float.IsNaN(h[k]) == hit, $"NaN in gate {gate} of unit {unit}: h[{k}] = {h[k]}");
                    Assert.True(float.IsNaN(c[k]) == (hit && gate != 3), $"NaN in gate {gate} of unit {unit}: c[{k}] = {c[k]}");
                }
            }
        }

        // NaN in cPrev: only that unit.
        float[] cNaN = (float[])cPrev.Clone();
        cNaN[5] = float.NaN;
        float[] h1 = new float[B * H], c1 = new float[B * H];
        Kernels.LstmPointwise(H, baseGates, cNaN, h1, c1);
        for (int k = 0; k < B * H; k++)
        {
            Assert.True(float.IsNaN(c1[k]) == (k == 5) && float.IsNaN(h1[k]) == (k == 5), $"NaN in cPrev[5]: c[{k}] = {c1[k]}, h[{k}] = {h1[k]}");
        }

        // Huge and infinite pre-activations saturate: finite c, h in [−1, 1], within the bound of the exact limits.
        float[] extremes = [float.PositiveInfinity, float.NegativeInfinity, float.MaxValue, float.MinValue, 1e30f, -1e30f, 1e4f, -1e4f, 88.7f, -88.7f, 0f, -0f];
        float[] g2 = new float[B * 4 * H];
        for (int k = 0; k < g2.Length; k++)
        {
            g2[k] = extremes[(k * 7) % extremes.Length];
        }

        float[] h2 = new float[B * H], c2 = new float[B * H];
        Kernels.LstmPointwise(H, g2, cPrev, h2, c2);
        for (int k = 0; k < B * H; k++)
        {
            Assert.True(float.IsFinite(c2[k]) && Math.Abs(c2[k]) <= Tolerances.CellStateMagnitude(cPrev[k]), $"c[{k}] = {c2[k]} with cPrev = {cPrev[k]}");
            Assert.InRange(h2[k], -1f, 1f);
        }

        AssertPointwise(H, g2, cPrev, h2, c2, twinToo: true);

        // f = σ(+∞) = 1 and i = σ(−∞) ≈ 0: the state is carried over (the "remember" path of an LSTM).
        float[] remember = new float[4 * H];
        remember.AsSpan(0, H).Fill(float.NegativeInfinity);
        remember.AsSpan(H, H).Fill(float.PositiveInfinity);
        remember.AsSpan(3 * H, H).Fill(float.PositiveInfinity);
        float[] keep = Generators.Fill(H, Dist.Wide, 3);
        float[] hk = new float[H], ck = new float[H];
        Kernels.LstmPointwise(H, remember, keep, hk, ck);
        Check.BitwiseEqual(keep, ck, "c with f = 1, i = 0");
    }

    [Theory]
    [MemberData(nameof(KernelAndTwin))]
    public void LstmPointwise_ThrowsOnBadArguments(bool twin)
    {
        PointwiseFn fn = twin ? ReferenceKernels.LstmPointwise : Kernels.LstmPointwise;
        const int H = 5;
        float[] gates = new float[2 * 4 * H], s = new float[2 * H], h = new float[2 * H], c = new float[2 * H];
        Check.Throws<ArgumentOutOfRangeException>("hiddenSize", () => fn(0, gates, s, h, c));
        Check.Throws<ArgumentOutOfRangeException>("hiddenSize", () => fn(-1, gates, s, h, c));
        Check.Throws<ArgumentOutOfRangeException>("hiddenSize", () => fn(int.MinValue, gates, s, h, c));
        Check.Throws<ArgumentException>("gates", () => fn(H, new float[(2 * 4 * H) - 1], s, h, c));
        Check.Throws<ArgumentException>("gates", () => fn(H, new float[4 * H / 2], s, h, c));
        Check.Throws<ArgumentException>("gates", () => fn(6, gates, s, h, c));
        Check.Throws<ArgumentException>("cPrev", () => fn(H, gates, new float[(2 * H) - 1], h, c));
        Check.Throws<ArgumentException>("cPrev", () => fn(H, gates, None, h, c));
        Check.Throws<ArgumentException>("h", () => fn(H, gates, s, new float[(2 * H) + 1], c));
        Check.Throws<ArgumentException>("h", () => fn(H, gates, s, None, c));
        Check.Throws<ArgumentException>("c", () => fn(H, gates, s, h, new float[H]));
        Check.Throws<ArgumentException>("c", () => fn(H, gates, s, h, None));

        // Empty gates means B = 0: the states must be empty too.
        Check.Throws<ArgumentException>("cPrev", () => fn(H, None, s, h, c));
        fn(H, None, None, None, None);
    }

    [Theory]
    [MemberData(nameof(KernelAndTwin))]
    public void LstmPointwise_ThrowsOnOverlap(bool twin)
    {
        PointwiseFn fn = twin ? ReferenceKernels.LstmPointwise : Kernels.LstmPointwise;
        const int H = 5;
        float[] buffer = Generators.Fill(200, Dist.Unit, 1);
        float[] before = (float[])buffer.Clone();
        float[] gates = Generators.Fill(2 * 4 * H, Dist.Unit, 2), s = new float[2 * H], h = new float[2 * H], c = new float[2 * H];
        Span<float> B(int start, int length) => buffer.AsSpan(start, length);

        // h must be disjoint from everything, even exactly aliased.
        Check.Throws<ArgumentException>("h", () => fn(H, B(0, 40), s, B(0, 10), c));
        Check.Throws<ArgumentException>("h", () => fn(H, B(0, 40), s, B(39, 10), c));
        Check.Throws<ArgumentException>("h", () => fn(H, gates, B(0, 10), B(0, 10), c));
        Check.Throws<ArgumentException>("h", () => fn(H, gates, B(0, 10), B(5, 10), c));
        Check.Throws<ArgumentException>("h", () => fn(H, gates, s, B(0, 10), B(0, 10)));
        Check.Throws<ArgumentException>("h", () => fn(H, gates, s, B(0, 10), B(9, 10)));

        // c may be exactly cPrev, nothing else.
        Check.Throws<ArgumentException>("c", () => fn(H, B(0, 40), s, h, B(30, 10)));
        Check.Throws<ArgumentException>("c", () => fn(H, B(0, 40), B(0, 10), h, B(0, 10)));
        Check.Throws<ArgumentException>("c", () => fn(H, gates, B(0, 10), h, B(1, 10)));
        Check.BitwiseEqual(before, buffer, "buffer after rejected calls");

        // Allowed: c exactly cPrev, inputs overlapping each other, touching spans.
        fn(H, B(0, 40), B(40, 10), B(50, 10), B(40, 10));
        fn(H, B(0, 40), B(30, 10), B(40, 10), B(50, 10));
    }

    [Fact]
    public void LstmPointwise_DoesNotAllocate()
    {
        const int H = 37;
        float[] gates = Generators.Fill(16 * 4 * H, Dist.Wide, 1), cPrev = Generators.Fill(16 * H, Dist.Wide, 2);
        float[] h = new float[16 * H], c = new float[16 * H];
        long bytes = Allocation.Measure(() =>
        {
            Kernels.LstmPointwise(H, gates, cPrev, h, c);
            Kernels.LstmPointwise(H, gates.AsSpan(0, 4 * H), c.AsSpan(0, H), h.AsSpan(0, H), c.AsSpan(0, H));
        });
        Assert.Equal(0, bytes);
    }

    // ---------------------------------------------------------------- helpers

    /// <summary>Exact pointwise stage in double from the float pre-activations, and the derived bounds.</summary>
    private static void AssertPointwise(int hidden, float[] gates, float[] cPrev, ReadOnlySpan<float> h, ReadOnlySpan<float> c, bool twinToo)
    {
        int batch = cPrev.Length / hidden;
        float[] refH = new float[h.Length], refC = new float[c.Length];
        if (twinToo)
        {
            ReferenceKernels.LstmPointwise(hidden, gates, cPrev, refH, refC);
        }

        for (int b = 0; b < batch; b++)
        {
            for (int j = 0; j < hidden; j++)
            {
                int z = (b * 4 * hidden) + j;
                int s = (b * hidden) + j;
                double i = Limit(gates[z], sigmoid: true);
                double f = Limit(gates[z + hidden], sigmoid: true);
                double g = Limit(gates[z + (2 * hidden)], sigmoid: false);
                double o = Limit(gates[z + (3 * hidden)], sigmoid: true);
                double fc = f * cPrev[s];
                double ig = i * g;
                double exactC = fc + ig;
                double exactH = o * Math.Tanh(exactC);
                double cBound = Tolerances.PointwiseC(fc, ig, cPrev[s]);
                Check.Near(exactC, c[s], cBound, "LstmPointwise c", s);
                Check.Near(exactH, h[s], Tolerances.PointwiseH(cBound, exactC, exactH), "LstmPointwise h", s);
                if (twinToo)
                {
                    Assert.Equal((float)exactC, refC[s]);
                    Assert.Equal((float)exactH, refH[s]);
                }
            }
        }
    }

    private static double Limit(float z, bool sigmoid) =>
        sigmoid ? ReferenceKernels.Logistic(z) : Math.Tanh(z);
}
