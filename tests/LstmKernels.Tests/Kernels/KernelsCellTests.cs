using FsCheck.Xunit;
using LstmKernels.Reference;
using Xunit;

namespace LstmKernels.Tests;

/// <summary>Kernels.CellUpdate, Kernels.HiddenUpdate (here) and Kernels.LstmPointwise (KernelsCellTests.LstmPointwise.cs), all of Kernels.Cell.cs, against their twins.</summary>
[Properties(Arbitrary = [typeof(Generators)], MaxTest = 150)]
public sealed partial class KernelsCellTests
{
    private delegate void CellUpdateFn(ReadOnlySpan<float> f, ReadOnlySpan<float> cPrev, ReadOnlySpan<float> i, ReadOnlySpan<float> g, Span<float> c);

    private delegate void HiddenUpdateFn(ReadOnlySpan<float> o, ReadOnlySpan<float> c, Span<float> h);

    private delegate void PointwiseFn(int hiddenSize, ReadOnlySpan<float> gates, ReadOnlySpan<float> cPrev, Span<float> h, Span<float> c);

    private static float[]? None => null;

    public static TheoryData<bool> KernelAndTwin => [false, true];

    // ---------------------------------------------------------------- CellUpdate

    [Property]
    public void CellUpdate_MatchesReference(CellUpdateCase t)
    {
        float[] f = t.ForgetGate.Values, cPrev = t.CPrev.Values, i = t.InputGate.Values, g = t.Candidate.Values;
        var c = new Guarded(f.Length);
        float[] reference = new float[f.Length];
        Kernels.CellUpdate(f, cPrev, i, g, c.Span);
        ReferenceKernels.CellUpdate(f, cPrev, i, g, reference);
        c.AssertIntact("CellUpdate c");
        AssertCellUpdate(f, cPrev, i, g, c.Span, reference);
    }

    [Fact]
    public void CellUpdate_AllLengths()
    {
        for (int n = 0; n <= 80; n++)
        {
            float[] f = Generators.Fill(n, Dist.Probability, 3 * n);
            float[] cPrev = Generators.Fill(n, Dist.Mixed, (3 * n) + 1);
            float[] i = Generators.Fill(n, Dist.Probability, (3 * n) + 2);
            float[] g = Generators.Fill(n, Dist.Unit, (3 * n) + 3);
            var c = new Guarded(n, fill: 12345f);
            Kernels.CellUpdate(f, cPrev, i, g, c.Span);
            c.AssertIntact($"CellUpdate c, n = {n}");
            float[] reference = new float[n];
            ReferenceKernels.CellUpdate(f, cPrev, i, g, reference);
            AssertCellUpdate(f, cPrev, i, g, c.Span, reference);
        }
    }

    /// <summary>c may be exactly any one of the inputs; the result is bitwise that of separate buffers.</summary>
    [Property(MaxTest = 100)]
    public void CellUpdate_InPlace(CellUpdateCase t)
    {
        float[][] inputs = [t.ForgetGate.Values, t.CPrev.Values, t.InputGate.Values, t.Candidate.Values];
        float[] separate = new float[inputs[0].Length];
        Kernels.CellUpdate(inputs[0], inputs[1], inputs[2], inputs[3], separate);
        for (int which = 0; which < 4; which++)
        {
            float[][] args = Array.ConvertAll(inputs, a => (float[])a.Clone());
            Kernels.CellUpdate(args[0], args[1], args[2], args[3], args[which]);
            Check.BitwiseEqual(separate, args[which], $"CellUpdate with c aliasing input {which}");
        }
    }

    /// <summary>Inputs may share memory with each other (they are only read).</summary>
    [Fact]
    public void CellUpdate_InputsMayShareMemory()
    {
        float[] v = Generators.Fill(45, Dist.Unit, 5);
        float[] a = new float[45];
        float[] b = new float[45];
        Kernels.CellUpdate(v, v, v, v, a);
        float[] copy1 = (float[])v.Clone(), copy2 = (float[])v.Clone(), copy3 = (float[])v.Clone(), copy4 = (float[])v.Clone();
        Kernels.CellUpdate(copy1, copy2, copy3, copy4, b);
        Check.BitwiseEqual(b, a, "all inputs the same memory");

        // All four inputs and the output one buffer: c = v·v + v·v.
        Kernels.CellUpdate(v, v, v, v, v);
        Check.BitwiseEqual(b, v, "everything the same memory");
    }

    [Fact]
    public void CellUpdate_SpecialValues()
    {
        float[] f = Generators.Fill(40, Dist.Probability, 1);
        float[] cPrev = Generators.Fill(40, Dist.Wide, 2);
        float[] i = Generators.Fill(40, Dist.Probability, 3);
        float[] g = Generators.Fill(40, Dist.Unit, 4);

        // NaN in any input gives NaN in that element only (element 3 in the body, 37 in the tail).
        foreach (int at in (int[])[3, 37])
        {
            for (int which = 0; which < 4; which++)
            {
                float[][] args = [(float[])f.Clone(), (float[])cPrev.Clone(), (float[])i.Clone(), (float[])g.Clone()];
                args[which][at] = float.NaN;
                float[] c = new float[40];
                Kernels.CellUpdate(args[0], args[1], args[2], args[3], c);
                for (int k = 0; k < 40; k++)
                {
                    Assert.True(float.IsNaN(c[k]) == (k == at), $"NaN in input {which} at {at}: c[{k}] = {c[k]}");
                }
            }
        }

        // ±∞ state with a positive forget gate stays ±∞; a zero forget gate times ∞ is NaN (IEEE).
        Assert.Equal(float.PositiveInfinity, CellUpdate1(0.5f, float.PositiveInfinity, 0.5f, 0.5f));
        Assert.Equal(float.NegativeInfinity, CellUpdate1(0.5f, float.NegativeInfinity, 0.5f, 0.5f));
        Assert.True(float.IsNaN(CellUpdate1(0f, float.PositiveInfinity, 0.5f, 0.5f)));

        // Exact cases: f = 1, i = 0 keeps cPrev (subnormals too; −0 + 0·g is +0 in IEEE); f = 0 gives i·g.
        foreach (float v in (float[])[0f, -0f, float.Epsilon, -1e-40f, 1e-30f, 3.5f, -1e30f, float.MaxValue])
        {
            Assert.Equal(v, CellUpdate1(1f, v, 0f, 0.75f));
            Assert.Equal(0.5f * v, CellUpdate1(0f, 123f, 0.5f, v));
        }

    }

    /// <summary>
    /// Subnormal products and results against the documented bound 2u·(|f·cPrev| + |i·g|) + 1e-45. With subnormal
    /// results the relative part vanishes and each rounding (of i·g, of the fma; and of f·cPrev without hardware
    /// FMA) can be off by half a subnormal ulp, 2⁻¹⁵⁰ ≈ 0.7e-45, so up to 1.4e-45 (2.1e-45 without FMA).
    /// </summary>
    [Fact]
    public void CellUpdate_SubnormalResults()
    {
        float tiny = 3 * float.Epsilon;
        (float F, float CPrev, float I, float G)[] cases =
        [
            (0.5f, tiny, 0.5f, tiny), (0.75f, float.Epsilon, 0.25f, 5 * float.Epsilon), (1e-20f, 1e-20f, -1e-20f, 1e-20f),
            (0.3f, 1e-38f, 0.7f, -1e-38f), (0.5f, 5 * float.Epsilon, 0.5f, 7 * float.Epsilon),
        ];
        for (int k = 0; k < cases.Length; k++)
        {
            (float f, float cPrev, float i, float g) = cases[k];
            double fc = (double)f * cPrev;
            double ig = (double)i * g;
            Check.Near(fc + ig, CellUpdate1(f, cPrev, i, g), Tolerances.CellUpdate(fc, ig), $"CellUpdate({f:R}, {cPrev:R}, {i:R}, {g:R})", k);
        }
    }

    [Theory]
    [MemberData(nameof(KernelAndTwin))]
    public void CellUpdate_ThrowsOnLengthMismatch(bool twin)
    {
        CellUpdateFn fn = twin ? ReferenceKernels.CellUpdate : Kernels.CellUpdate;
        float[] n8 = new float[8], n7 = new float[7], n9 = new float[9];
        float[] c = new float[8];
        Check.Throws<ArgumentException>("forgetGate", () => fn(n7, n8, n8, n8, c));
        Check.Throws<ArgumentException>("cPrev", () => fn(n8, n9, n8, n8, c));
        Check.Throws<ArgumentException>("inputGate", () => fn(n8, n8, n7, n8, c));
        Check.Throws<ArgumentException>("candidate", () => fn(n8, n8, n8, n9, c));
        Check.Throws<ArgumentException>("candidate", () => fn(n8, n8, n8, None, c));
        Check.Throws<ArgumentException>("forgetGate", () => fn(None, n8, n8, n8, c));

        // When the four inputs agree and only c disagrees, the output is the one named.
        Check.Throws<ArgumentException>("c", () => fn(n8, n8, n8, n8, new float[9]));
        Check.Throws<ArgumentException>("c", () => fn(n8, n8, n8, n8, None));
    }

    [Theory]
    [MemberData(nameof(KernelAndTwin))]
    public void CellUpdate_ThrowsOnPartialOverlap(bool twin)
    {
        CellUpdateFn fn = twin ? ReferenceKernels.CellUpdate : Kernels.CellUpdate;
        float[] buffer = Generators.Fill(64, Dist.Unit, 9);
        float[] before = (float[])buffer.Clone();
        float[] other = new float[20];
        Span<float> Slice(int start) => buffer.AsSpan(start, 20);
        Check.Throws<ArgumentException>("c", () => fn(Slice(0), other, other, other, Slice(1)));
        Check.Throws<ArgumentException>("c", () => fn(other, Slice(19), other, other, Slice(0)));
        Check.Throws<ArgumentException>("c", () => fn(other, other, Slice(10), other, Slice(5)));
        Check.Throws<ArgumentException>("c", () => fn(other, other, other, Slice(2), Slice(0)));
        Check.BitwiseEqual(before, buffer, "buffer after rejected calls");

        // Touching is not overlapping.
        fn(Slice(0), Slice(0), Slice(0), Slice(0), Slice(20));
    }

    [Fact]
    public void CellUpdate_DoesNotAllocate()
    {
        float[] f = Generators.Fill(1000, Dist.Probability, 1), cPrev = Generators.Fill(1000, Dist.Wide, 2);
        float[] i = Generators.Fill(1000, Dist.Probability, 3), g = Generators.Fill(1000, Dist.Unit, 4);
        float[] c = new float[1000];
        long bytes = Allocation.Measure(() =>
        {
            Kernels.CellUpdate(f, cPrev, i, g, c);
            Kernels.CellUpdate(f.AsSpan(0, 37), cPrev.AsSpan(0, 37), i.AsSpan(0, 37), g.AsSpan(0, 37), c.AsSpan(0, 37));
            Kernels.CellUpdate(f.AsSpan(0, 5), c.AsSpan(0, 5), i.AsSpan(0, 5), g.AsSpan(0, 5), c.AsSpan(0, 5));
        });
        Assert.Equal(0, bytes);
    }

    // ---------------------------------------------------------------- HiddenUpdate

    [Property]
    public void HiddenUpdate_MatchesReference(HiddenUpdateCase t)
    {
        float[] o = t.OutputGate.Values, c = t.C.Values;
        var h = new Guarded(o.Length);
        float[] reference = new float[o.Length];
        Kernels.HiddenUpdate(o, c, h.Span);
        ReferenceKernels.HiddenUpdate(o, c, reference);
        h.AssertIntact("HiddenUpdate h");
        AssertHiddenUpdate(o, c, h.Span, reference);
    }

    [Fact]
    public void HiddenUpdate_AllLengths()
    {
        for (int n = 0; n <= 80; n++)
        {
            float[] o = Generators.Fill(n, Dist.Probability, 2 * n);
            float[] c = Generators.Fill(n, Dist.Mixed, (2 * n) + 1);
            var h = new Guarded(n, fill: 12345f);
            Kernels.HiddenUpdate(o, c, h.Span);
            h.AssertIntact($"HiddenUpdate h, n = {n}");
            float[] reference = new float[n];
            ReferenceKernels.HiddenUpdate(o, c, reference);
            AssertHiddenUpdate(o, c, h.Span, reference);
        }
    }

    [Property(MaxTest = 100)]
    public void HiddenUpdate_InPlace(HiddenUpdateCase t)
    {
        float[] separate = new float[t.C.Values.Length];
        Kernels.HiddenUpdate(t.OutputGate.Values, t.C.Values, separate);
        float[] o = (float[])t.OutputGate.Values.Clone();
        Kernels.HiddenUpdate(o, t.C.Values, o);
        Check.BitwiseEqual(separate, o, "HiddenUpdate with h aliasing outputGate");
        float[] c = (float[])t.C.Values.Clone();
        Kernels.HiddenUpdate(t.OutputGate.Values, c, c);
        Check.BitwiseEqual(separate, c, "HiddenUpdate with h aliasing c");
    }

    [Fact]
    public void HiddenUpdate_SpecialValues()
    {
        float[] o = [0.5f, 0.25f, 1f, 0f, 0.5f, 0.5f, float.NaN, 0.75f, 1f, 1f, 0.5f, 0.5f];
        float[] c = [float.PositiveInfinity, float.NegativeInfinity, float.MaxValue, 5f, float.NaN, 1e30f, 0.3f, -1e-40f, -0f, 0f, 100f, -100f];
        float[] h = new float[o.Length];
        Kernels.HiddenUpdate(o, c, h);
        Assert.Equal(0.5f, h[0]);
        Assert.Equal(-0.25f, h[1]);
        Assert.Equal(1f, h[2]);
        Assert.Equal(0f, h[3]);
        Assert.True(float.IsNaN(h[4]), "c = NaN gives NaN");
        Assert.Equal(0.5f, h[5]);
        Assert.True(float.IsNaN(h[6]), "o = NaN gives NaN");
        Assert.True(h[7] < 0, "o·tanh(tiny negative) keeps its sign");
        Assert.Equal(0x8000_0000u, BitConverter.SingleToUInt32Bits(h[8]));
        Assert.Equal(0u, BitConverter.SingleToUInt32Bits(h[9]));
        Assert.Equal(0.5f, h[10]);
        Assert.Equal(-0.5f, h[11]);
        for (int k = 0; k < h.Length; k++)
        {
            Assert.True(float.IsNaN(h[k]) || Math.Abs(h[k]) <= Math.Abs(o[k]), $"|h[{k}]| = {h[k]} exceeds |o| = {o[k]}");
        }
    }

    [Theory]
    [MemberData(nameof(KernelAndTwin))]
    public void HiddenUpdate_ThrowsOnLengthMismatch(bool twin)
    {
        HiddenUpdateFn fn = twin ? ReferenceKernels.HiddenUpdate : Kernels.HiddenUpdate;
        float[] n8 = new float[8];
        float[] h = new float[8];
        Check.Throws<ArgumentException>("outputGate", () => fn(new float[7], n8, h));
        Check.Throws<ArgumentException>("c", () => fn(n8, new float[9], h));
        Check.Throws<ArgumentException>("outputGate", () => fn(None, n8, h));
        Check.Throws<ArgumentException>("c", () => fn(n8, None, h));

        // When both inputs agree and only h disagrees, the output is the one named.
        Check.Throws<ArgumentException>("h", () => fn(n8, n8, new float[9]));
        Check.Throws<ArgumentException>("h", () => fn(n8, n8, None));
    }

    [Theory]
    [MemberData(nameof(KernelAndTwin))]
    public void HiddenUpdate_ThrowsOnPartialOverlap(bool twin)
    {
        HiddenUpdateFn fn = twin ? ReferenceKernels.HiddenUpdate : Kernels.HiddenUpdate;
        float[] buffer = Generators.Fill(64, Dist.Unit, 9);
        float[] before = (float[])buffer.Clone();
        float[] other = new float[20];
        Check.Throws<ArgumentException>("h", () => fn(buffer.AsSpan(0, 20), other, buffer.AsSpan(1, 20)));
        Check.Throws<ArgumentException>("h", () => fn(other, buffer.AsSpan(19, 20), buffer.AsSpan(0, 20)));
        Check.BitwiseEqual(before, buffer, "buffer after rejected calls");
        fn(buffer.AsSpan(0, 20), buffer.AsSpan(0, 20), buffer.AsSpan(20, 20));
    }

    [Fact]
    public void HiddenUpdate_DoesNotAllocate()
    {
        float[] o = Generators.Fill(1000, Dist.Probability, 1), c = Generators.Fill(1000, Dist.Wide, 2);
        float[] h = new float[1000];
        long bytes = Allocation.Measure(() =>
        {
            Kernels.HiddenUpdate(o, c, h);
            Kernels.HiddenUpdate(o.AsSpan(0, 37), c.AsSpan(0, 37), h.AsSpan(0, 37));
            Kernels.HiddenUpdate(o.AsSpan(0, 5), h.AsSpan(0, 5), h.AsSpan(0, 5));
        });
        Assert.Equal(0, bytes);
    }

    // ---------------------------------------------------------------- large spans

    /// <summary>Long spans (many full panels, then a tail) for the three elementwise/pointwise kernels.</summary>
    [Theory]
    [InlineData(1000)]
    [InlineData(4099)]
    [InlineData(65536)]
    public void CellKernels_LargeLengths(int n)
    {
        float[] f = Generators.Fill(n, Dist.Probability, 1), cPrev = Generators.Fill(n, Dist.Spread, 2);
        float[] i = Generators.Fill(n, Dist.Probability, 3), g = Generators.Fill(n, Dist.Unit, 4);
        var c = new Guarded(n);
        float[] reference = new float[n];
        Kernels.CellUpdate(f, cPrev, i, g, c.Span);
        ReferenceKernels.CellUpdate(f, cPrev, i, g, reference);
        c.AssertIntact("CellUpdate c");
        AssertCellUpdate(f, cPrev, i, g, c.Span, reference);

        var h = new Guarded(n);
        Kernels.HiddenUpdate(f, cPrev, h.Span);
        ReferenceKernels.HiddenUpdate(f, cPrev, reference);
        h.AssertIntact("HiddenUpdate h");
        AssertHiddenUpdate(f, cPrev, h.Span, reference);

        int hidden = n / 4;
        float[] gates = Generators.Fill(4 * hidden * 3, Dist.Wide, 5), state = Generators.Fill(hidden * 3, Dist.Wide, 6);
        var hp = new Guarded(hidden * 3);
        var cp = new Guarded(hidden * 3);
        Kernels.LstmPointwise(hidden, gates, state, hp.Span, cp.Span);
        hp.AssertIntact("LstmPointwise h");
        cp.AssertIntact("LstmPointwise c");
        AssertPointwise(hidden, gates, state, hp.Span, cp.Span, twinToo: true);
    }

    // ---------------------------------------------------------------- helpers

    private static float CellUpdate1(float f, float cPrev, float i, float g)
    {
        float[] c = new float[1];
        Kernels.CellUpdate([f], [cPrev], [i], [g], c);
        return c[0];
    }

    private static void AssertCellUpdate(float[] f, float[] cPrev, float[] i, float[] g, ReadOnlySpan<float> got, float[] reference)
    {
        for (int k = 0; k < got.Length; k++)
        {
            double fc = (double)f[k] * cPrev[k];
            double ig = (double)i[k] * g[k];
            Check.Near(fc + ig, got[k], Tolerances.CellUpdate(fc, ig), "CellUpdate c", k);
            Assert.Equal((float)(fc + ig), reference[k]);
        }
    }

    private static void AssertHiddenUpdate(float[] o, float[] c, ReadOnlySpan<float> got, float[] reference)
    {
        for (int k = 0; k < got.Length; k++)
        {
            double exact = o[k] * Math.Tanh(c[k]);
            Check.Near(exact, got[k], Tolerances.HiddenUpdate(exact), "HiddenUpdate h", k);
            Assert.Equal((float)exact, reference[k]);
        }
    }
}
