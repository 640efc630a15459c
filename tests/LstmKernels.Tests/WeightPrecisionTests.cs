using FsCheck.Xunit;
using LstmKernels.Reference;

namespace LstmKernels.Tests;

/// <summary>
/// LstmCell with reduced-precision weights (WeightPrecision.cs, Internal/WeightFormat.cs): exact against a reference
/// on the weights it holds (GetEffectiveParameters), the rounding of those weights as documented, the resulting
/// error against the float32 reference bounded, sequences, allocation and bad input.
/// </summary>
[Properties(Arbitrary = [typeof(Generators)], MaxTest = 60)]
public sealed class WeightPrecisionTests
{
    public static TheoryData<WeightPrecision> Precisions => [WeightPrecision.Float32, WeightPrecision.BFloat16, WeightPrecision.Int8];

    public static TheoryData<WeightPrecision, int, int, int> Shapes
    {
        get
        {
            var data = new TheoryData<WeightPrecision, int, int, int>();
            foreach (WeightPrecision precision in (WeightPrecision[])[WeightPrecision.BFloat16, WeightPrecision.Int8])
            {
                foreach ((int input, int hidden, int batch) in (ReadOnlySpan<(int, int, int)>)[(3, 5, 1), (17, 33, 4), (64, 16, 5), (300, 257, 1), (8, 17, 9)])
                {
                    data.Add(precision, input, hidden, batch);
                }
            }

            return data;
        }
    }

    /// <summary>On the weights it actually holds, a reduced-precision cell is as exact as a float32 one.</summary>
    [Property]
    public void ReducedPrecision_MatchesReferenceOnEffectiveWeights(CellCase t)
    {
        foreach (WeightPrecision precision in (WeightPrecision[])[WeightPrecision.BFloat16, WeightPrecision.Int8])
        {
            var cell = new LstmCell(LstmParameters.CreateRandom(t.Input, t.Hidden, t.ParameterSeed), precision);
            CompareWithReference(cell, new ReferenceLstmCell(cell.GetEffectiveParameters()), t.Batch, t.X.Values, t.H.Values, t.CPrev(), 1);
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ReducedPrecision_MatchesReferenceOnEffectiveWeights_FixedShapes(WeightPrecision precision, int input, int hidden, int batch)
    {
        var cell = new LstmCell(LstmParameters.CreateRandom(input, hidden, input + hidden), precision);
        float[] x = Generators.Fill(batch * input, Dist.Unit, 1), h = Generators.Fill(batch * hidden, Dist.Unit, 2);
        float[] c = Generators.Fill(batch * hidden, Dist.Unit, 3);
        CompareWithReference(cell, new ReferenceLstmCell(cell.GetEffectiveParameters()), batch, x, h, c, 1);
    }

    [Fact]
    public void Float32_EffectiveParametersAreTheParameters()
    {
        LstmParameters p = LstmParameters.CreateRandom(19, 21, 4);
        LstmParameters e = new LstmCell(p).GetEffectiveParameters();
        Check.BitwiseEqual(p.WeightIh, e.WeightIh, "WeightIh");
        Check.BitwiseEqual(p.WeightHh, e.WeightHh, "WeightHh");
        Check.BitwiseEqual(p.Bias, e.Bias, "Bias");
    }

    /// <summary>bfloat16: each weight is the nearest bfloat16 (the low 16 bits zero, within 2⁻⁸ relative: 8 significant bits).</summary>
    [Fact]
    public void BFloat16_RoundsEachWeightToNearest()
    {
        LstmParameters p = LstmParameters.CreateRandom(19, 21, 4);
        LstmParameters e = new LstmCell(p, WeightPrecision.BFloat16).GetEffectiveParameters();
        foreach ((float[] original, float[] effective) in (ReadOnlySpan<(float[], float[])>)[(p.WeightIh.ToArray(), e.WeightIh.ToArray()), (p.WeightHh.ToArray(), e.WeightHh.ToArray())])
        {
            for (int k = 0; k < original.Length; k++)
            {
                Assert.Equal(0u, BitConverter.SingleToUInt32Bits(effective[k]) & 0xFFFFu);
                Assert.InRange(Math.Abs(effective[k] - original[k]), 0, Math.Abs(original[k]) * Math.Pow(2, -8));
            }
        }

        Check.BitwiseEqual(p.Bias, e.Bias, "Bias stays float32");
    }

    /// <summary>int8: w ≈ s·q with s = max|row| / 127 per gate unit (over W_ih and W_hh), error at most s/2.</summary>
    [Fact]
    public void Int8_QuantizesEachRowWithItsScale()
    {
        const int Input = 19, Hidden = 21;
        LstmParameters p = LstmParameters.CreateRandom(Input, Hidden, 4);
        p.WeightHh[5] = 0.9f;
        LstmParameters e = new LstmCell(p, WeightPrecision.Int8).GetEffectiveParameters();
        for (int row = 0; row < 4 * Hidden; row++)
        {
            float[] original = [.. p.WeightIh.Slice(row * Input, Input), .. p.WeightHh.Slice(row * Hidden, Hidden)];
            float[] effective = [.. e.WeightIh.Slice(row * Input, Input), .. e.WeightHh.Slice(row * Hidden, Hidden)];
            double scale = original.Max(Math.Abs) / 127.0;
            bool hitsEnd = false;
            for (int k = 0; k < original.Length; k++)
            {
                double q = effective[k] / scale;
                Assert.InRange(Math.Abs(q - Math.Round(q)), 0, 1e-4);
                Assert.InRange(Math.Abs(effective[k] - original[k]), 0, (scale / 2) * (1 + 1e-5));
                hitsEnd |= Math.Abs(Math.Round(q)) == 127;
            }

            Assert.True(hitsEnd, $"row {row}: its largest weight should map to ±127");
        }

        Check.BitwiseEqual(p.Bias, e.Bias, "Bias stays float32");
    }

    /// <summary>The cost of the precision: the step against the float32 reference at the CreateRandom scale.</summary>
    [Theory]
    [InlineData(WeightPrecision.BFloat16, 128, 128)]
    [InlineData(WeightPrecision.BFloat16, 300, 257)]
    [InlineData(WeightPrecision.Int8, 128, 128)]
    [InlineData(WeightPrecision.Int8, 300, 257)]
    public void ReducedPrecision_ErrorAgainstFloat32IsBounded(WeightPrecision precision, int input, int hidden)
    {
        LstmParameters p = LstmParameters.CreateRandom(input, hidden, 8);
        var cell = new LstmCell(p, precision);
        var reference = new ReferenceLstmCell(p);
        float[] x = Generators.Fill(input, Dist.Unit, 1), h = Generators.Fill(hidden, Dist.Unit, 2), c = Generators.Fill(hidden, Dist.Unit, 3);
        float[] h1 = new float[hidden], c1 = new float[hidden], h2 = new float[hidden], c2 = new float[hidden];
        cell.Forward(x, h, c, h1, c1);
        reference.Forward(x, h, c, h2, c2);
        double bound = Tolerances.Precision(precision);
        for (int k = 0; k < hidden; k++)
        {
            Check.Near(h2[k], h1[k], bound, $"{precision} h", k);
            Check.Near(c2[k], c1[k], bound * (1 + Math.Abs(c2[k])), $"{precision} c", k);
        }
    }

    [Theory]
    [MemberData(nameof(Precisions))]
    public void ReducedPrecision_Sequence_MatchesReferenceOnEffectiveWeights(WeightPrecision precision)
    {
        const int Steps = 6, Batch = 5, Input = 11, Hidden = 37;
        var cell = new LstmCell(LstmParameters.CreateRandom(Input, Hidden, 2), precision);
        var reference = new ReferenceLstmCell(cell.GetEffectiveParameters());
        float[] xs = Generators.Fill(Steps * Batch * Input, Dist.Unit, 1);
        float[] ys = new float[Steps * Batch * Hidden], hT = new float[Batch * Hidden], cT = new float[Batch * Hidden];
        cell.ForwardSequence(xs, new float[Batch * Hidden], new float[Batch * Hidden], ys, hT, cT);
        double[] h = new double[Batch * Hidden], c = new double[Batch * Hidden];
        for (int s = 0; s < Steps; s++)
        {
            reference.Forward(PyTorchEquations.ToDouble(xs.AsSpan(s * Batch * Input, Batch * Input)), h, c, h, c);
            for (int k = 0; k < h.Length; k++)
            {
                Check.Near(h[k], ys[(s * h.Length) + k], Tolerances.SequenceFactor(s + 1) * Tolerances.CellH, $"{precision} ys[{s}]", k);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Precisions))]
    public void ReducedPrecision_DoesNotAllocate(WeightPrecision precision)
    {
        var cell = new LstmCell(LstmParameters.CreateRandom(24, 40, 2), precision);
        float[] x = Generators.Fill(5 * 24, Dist.Unit, 1), h = new float[5 * 40], c = new float[5 * 40];
        Assert.Equal(0, Allocation.Measure(() => cell.Forward(x, h, c, h, c)));
    }

    [Fact]
    public void LstmCell_ThrowsOnUndefinedPrecision()
    {
        LstmParameters p = LstmParameters.CreateRandom(2, 3, 1);
        Check.Throws<ArgumentOutOfRangeException>("precision", () => _ = new LstmCell(p, (WeightPrecision)7));
        Assert.Equal(WeightPrecision.Int8, new LstmCell(p, WeightPrecision.Int8).Precision);
        Assert.Equal(WeightPrecision.Float32, new LstmCell(p).Precision);
    }

    /// <summary>
    /// Off Vector512, a batch row gets the bits of the same row stepped alone, in every precision: the four-row tile
    /// (on Vector256, <c>Accumulate4Gates256</c>) sums in the order of the one-row loop. (On Vector512 the one-row loop
    /// splits the sum over two accumulator sets, so the bits differ there; both are checked against the reference.)
    /// CI runs this on the Vector256, Vector128 and scalar legs.
    /// </summary>
    [Theory]
    [MemberData(nameof(Precisions))]
    public void BatchRows_HaveTheBitsOfOneRowStepsOffVector512(WeightPrecision precision)
    {
        if (Kernels.ActivePath == SimdPath.Vector512)
        {
            return;
        }

        foreach ((int input, int hidden, int batch) in (ReadOnlySpan<(int, int, int)>)[(17, 33, 4), (64, 16, 5), (5, 40, 9), (1, 1, 8)])
        {
            var cell = new LstmCell(LstmParameters.CreateRandom(input, hidden, 3), precision);
            float[] x = Generators.Fill(batch * input, Dist.Unit, 1), h = Generators.Fill(batch * hidden, Dist.Unit, 2);
            float[] c = Generators.Fill(batch * hidden, Dist.Unit, 3);
            float[] hb = new float[batch * hidden], cb = new float[batch * hidden];
            cell.Forward(x, h, c, hb, cb);
            float[] h1 = new float[hidden], c1 = new float[hidden];
            for (int b = 0; b < batch; b++)
            {
                cell.Forward(x.AsSpan(b * input, input), h.AsSpan(b * hidden, hidden), c.AsSpan(b * hidden, hidden), h1, c1);
                Check.BitwiseEqual(h1, hb.AsSpan(b * hidden, hidden), $"{precision} {input}x{hidden} h of row {b} of {batch}");
                Check.BitwiseEqual(c1, cb.AsSpan(b * hidden, hidden), $"{precision} {input}x{hidden} c of row {b} of {batch}");
            }
        }
    }

    private static void CompareWithReference(LstmCell cell, ReferenceLstmCell reference, int batch, float[] x, float[] h, float[] c, double scale)
    {
        float[] h1 = new float[h.Length], c1 = new float[c.Length], h2 = new float[h.Length], c2 = new float[c.Length];
        cell.Forward(x, h, c, h1, c1);
        reference.Forward(x, h, c, h2, c2);
        for (int k = 0; k < h1.Length; k++)
        {
            Check.Near(h2[k], h1[k], scale * Tolerances.CellH, $"{cell.Precision} h (batch {batch})", k);
            Check.Near(c2[k], c1[k], scale * Tolerances.CellC(c2[k]), $"{cell.Precision} c (batch {batch})", k);
        }
    }
}
