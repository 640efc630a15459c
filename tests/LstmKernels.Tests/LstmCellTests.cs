using FsCheck.Xunit;
using LstmKernels.Reference;
using Xunit;

namespace LstmKernels.Tests;

/// <summary>
/// LstmCell (LstmCell.cs, the packed fused step) against ReferenceLstmCell (the seed), against the PyTorch equations
/// written here, and against the unfused kernels; aliasing, bad input, allocation and threads. Also
/// ReferenceLstmCell's own contract.
/// </summary>
[Properties(Arbitrary = [typeof(Generators)], MaxTest = 120)]
public sealed partial class LstmCellTests
{
    private static float[]? None => null;

    /// <summary>The shapes of the brief × batches around the 4-row tile.</summary>
    public static TheoryData<int, int, int> FixedShapes
    {
        get
        {
            var data = new TheoryData<int, int, int>();
            foreach ((int input, int hidden) in (ReadOnlySpan<(int, int)>)[(3, 5), (17, 33), (300, 257), (1, 1), (16, 16), (64, 16), (8, 17)])
            {
                foreach (int batch in (int[])[1, 2, 4, 5, 8, 9])
                {
                    data.Add(input, hidden, batch);
                }
            }

            return data;
        }
    }

    [Property]
    public void LstmCell_MatchesReference(CellCase t)
    {
        LstmParameters p = LstmParameters.CreateRandom(t.Input, t.Hidden, t.ParameterSeed);
        StepAndCompare(p, t.Batch, t.X.Values, t.H.Values, t.CPrev());
    }

    [Theory]
    [MemberData(nameof(FixedShapes))]
    public void LstmCell_MatchesReference_FixedShapes(int input, int hidden, int batch)
    {
        LstmParameters p = LstmParameters.CreateRandom(input, hidden, (input * 1000) + hidden);
        float[] x = Generators.Fill(batch * input, Dist.Unit, batch);
        float[] h = Generators.Fill(batch * hidden, Dist.Unit, batch + 1);
        float[] c = Array.ConvertAll(Generators.Fill(batch * hidden, Dist.Unit, batch + 2), v => 2 * v);
        StepAndCompare(p, batch, x, h, c);
    }

    /// <summary>The fused step against GateProjection then LstmPointwise on the PyTorch layout.</summary>
    [Property(MaxTest = 100)]
    public void LstmCell_MatchesUnfusedRoute(CellCase t)
    {
        LstmParameters p = LstmParameters.CreateRandom(t.Input, t.Hidden, t.ParameterSeed);
        float[] x = t.X.Values, h = t.H.Values, c = t.CPrev();
        float[] hFused = new float[h.Length], cFused = new float[c.Length];
        new LstmCell(p).Forward(x, h, c, hFused, cFused);

        float[] gates = new float[t.Batch * 4 * t.Hidden];
        float[] hUnfused = new float[h.Length], cUnfused = new float[c.Length];
        Kernels.GateProjection(x, h, p.WeightIh, p.WeightHh, p.Bias, gates);
        Kernels.LstmPointwise(t.Hidden, gates, c, hUnfused, cUnfused);
        for (int k = 0; k < h.Length; k++)
        {
            Check.Near(cUnfused[k], cFused[k], Tolerances.FusedVsUnfused * Tolerances.CellC(cUnfused[k]), "LstmCell c vs unfused", k);
            Check.Near(hUnfused[k], hFused[k], Tolerances.FusedVsUnfused * Tolerances.CellH, "LstmCell h vs unfused", k);
        }
    }

    /// <summary>20 steps feeding h and c back, in place, against the double reference carrying its own state.</summary>
    [Theory]
    [InlineData(3, 5, 1)]
    [InlineData(17, 33, 5)]
    [InlineData(64, 16, 4)]
    [InlineData(8, 17, 9)]
    [InlineData(1, 1, 2)]
    public void LstmCell_Sequence_StaysWithinBound(int input, int hidden, int batch)
    {
        const int Steps = 20;
        LstmParameters p = LstmParameters.CreateRandom(input, hidden, 7 + input + hidden);
        var cell = new LstmCell(p);
        var reference = new ReferenceLstmCell(p);
        float[] h = new float[batch * hidden], c = new float[batch * hidden];
        double[] hRef = new double[batch * hidden], cRef = new double[batch * hidden];
        for (int t = 1; t <= Steps; t++)
        {
            float[] x = Generators.Fill(batch * input, Dist.Unit, t);
            cell.Forward(x, h, c, h, c);
            reference.Forward(PyTorchEquations.ToDouble(x), hRef, cRef, hRef, cRef);
            double factor = Tolerances.SequenceFactor(t);
            for (int k = 0; k < h.Length; k++)
            {
                Check.Near(cRef[k], c[k], factor * Tolerances.CellC(cRef[k]), $"step {t} c", k);
                Check.Near(hRef[k], h[k], factor * Tolerances.CellH, $"step {t} h", k);
            }
        }

        // The sequence actually moved the state (a cell that ignores x or h would be caught above; this
        // guards the test itself against a degenerate all-zero run).
        Assert.True(h.Max(Math.Abs) > 0.01f, "the state stayed near zero");
    }

    [Property(MaxTest = 100)]
    public void LstmCell_InPlace(CellCase t)
    {
        var cell = new LstmCell(LstmParameters.CreateRandom(t.Input, t.Hidden, t.ParameterSeed));
        float[] x = t.X.Values, h0 = t.H.Values, c0 = t.CPrev();
        float[] hSep = new float[h0.Length], cSep = new float[c0.Length];
        cell.Forward(x, h0, c0, hSep, cSep);

        float[] h = (float[])h0.Clone(), c = (float[])c0.Clone();
        cell.Forward(x, h, c, h, c);
        Check.BitwiseEqual(hSep, h, "h, both in place");
        Check.BitwiseEqual(cSep, c, "c, both in place");

        h = (float[])h0.Clone();
        float[] cOut = new float[c0.Length];
        cell.Forward(x, h, c0, h, cOut);
        Check.BitwiseEqual(hSep, h, "h in place only");
        Check.BitwiseEqual(cSep, cOut, "c with h in place");

        c = (float[])c0.Clone();
        float[] hOut = new float[h0.Length];
        cell.Forward(x, h0, c, hOut, c);
        Check.BitwiseEqual(hSep, hOut, "h with c in place");
        Check.BitwiseEqual(cSep, c, "c in place only");
    }

    /// <summary>Inputs may share memory with each other (only read); the result is that of separate copies.</summary>
    [Fact]
    public void LstmCell_InputsMayShareMemory()
    {
        const int N = 6;
        var cell = new LstmCell(LstmParameters.CreateRandom(N, N, 3));
        float[] v = Generators.Fill(2 * N, Dist.Unit, 4);
        float[] h1 = new float[2 * N], c1 = new float[2 * N], h2 = new float[2 * N], c2 = new float[2 * N];
        cell.Forward(v, v, v, h1, c1);
        cell.Forward((float[])v.Clone(), (float[])v.Clone(), (float[])v.Clone(), h2, c2);
        Check.BitwiseEqual(h2, h1, "h with x, hPrev, cPrev one buffer");
        Check.BitwiseEqual(c2, c1, "c with x, hPrev, cPrev one buffer");
    }

    /// <summary>Every H in 1..40 (I = 3) and every I in 1..40 (H = 5), at batches 1, 4 and 5, with sentinels around h and c.</summary>
    [Fact]
    public void LstmCell_AllLengths()
    {
        foreach (bool varyHidden in (bool[])[true, false])
        {
            for (int n = 1; n <= 40; n++)
            {
                (int input, int hidden) = varyHidden ? (3, n) : (n, 5);
                LstmParameters p = LstmParameters.CreateRandom(input, hidden, n);
                foreach (int batch in (int[])[1, 4, 5])
                {
                    float[] x = Generators.Fill(batch * input, Dist.Unit, n);
                    float[] h = Generators.Fill(batch * hidden, Dist.Unit, n + 1);
                    float[] c = Generators.Fill(batch * hidden, Dist.Unit, n + 2);
                    StepAndCompare(p, batch, x, h, c);
                }
            }
        }
    }

    /// <summary>
    /// A large batch goes through the tiled loops in groups of 16 rows, each panel's rows in blocks that fit the L1
    /// (the partial sums kept between blocks): every row must still get exactly the bits it gets alone, in every weight
    /// format (the stream batcher relies on it). 37 rows = two full groups, a group of one tile and a row left over;
    /// I + H = 230 rows per panel = three blocks of 96 on a 48 KiB L1 (more on smaller ones). 600x300 at batch 20 has
    /// 4.3 MiB of float32 weights, more than any L2 we know of: the loops that prefetch the next panel.
    /// </summary>
    [Theory]
    [InlineData(WeightPrecision.Float32, 150, 80, 37)]
    [InlineData(WeightPrecision.BFloat16, 150, 80, 37)]
    [InlineData(WeightPrecision.Int8, 150, 80, 37)]
    [InlineData(WeightPrecision.Float32, 600, 300, 20)]
    public void LstmCell_LargeBatch_RowsAreBitwiseTheRowAlone(WeightPrecision precision, int I, int H, int B)
    {
        BatchRows rows = BatchRows.Step(new LstmCell(LstmParameters.CreateRandom(I, H, 7), precision), B);
        Check.BitwiseEqual(rows.AloneH, rows.BatchH, "h of the batch against each row alone");
        Check.BitwiseEqual(rows.AloneC, rows.BatchC, "c of the batch against each row alone");
    }

    /// <summary>B random rows (seeds 1, 2, 3) stepped as one batch, and each row stepped alone.</summary>
    private sealed record BatchRows(float[] X, float[] H, float[] C, float[] BatchH, float[] BatchC, float[] AloneH, float[] AloneC)
    {
        public static BatchRows Step(LstmCell cell, int batch)
        {
            int input = cell.InputSize, hidden = cell.HiddenSize;
            float[] x = Generators.Fill(batch * input, Dist.Unit, 1), h = Generators.Fill(batch * hidden, Dist.Unit, 2), c = Generators.Fill(batch * hidden, Dist.Unit, 3);
            var rows = new BatchRows(x, h, c, new float[batch * hidden], new float[batch * hidden], new float[batch * hidden], new float[batch * hidden]);
            cell.Forward(x, h, c, rows.BatchH, rows.BatchC);
            for (int b = 0; b < batch; b++)
            {
                cell.Forward(x.AsSpan(b * input, input), h.AsSpan(b * hidden, hidden), c.AsSpan(b * hidden, hidden), rows.AloneH.AsSpan(b * hidden, hidden), rows.AloneC.AsSpan(b * hidden, hidden));
            }

            return rows;
        }
    }

    /// <summary>Each row of a batch is the same step as that row alone (within the bound), and a NaN stays in its row.</summary>
    [Fact]
    public void LstmCell_BatchRowsAreIndependent()
    {
        const int I = 11, H = 37, B = 9;
        var cell = new LstmCell(LstmParameters.CreateRandom(I, H, 5));
        BatchRows rows = BatchRows.Step(cell, B);
        (float[] x, float[] h, float[] c, float[] hb, float[] cb) = (rows.X, rows.H, rows.C, rows.BatchH, rows.BatchC);
        for (int k = 0; k < B * H; k++)
        {
            Check.Near(rows.AloneC[k], cb[k], Tolerances.BatchRowVsSingle * Tolerances.CellC(rows.AloneC[k]), $"row {k / H} c", k % H);
            Check.Near(rows.AloneH[k], hb[k], Tolerances.BatchRowVsSingle * Tolerances.CellH, $"row {k / H} h", k % H);
        }

        foreach ((string where, int row) in (ReadOnlySpan<(string, int)>)[("x", 2), ("hPrev", 5), ("cPrev", 8), ("x", 0)])
        {
            float[] xs = (float[])x.Clone(), hs = (float[])h.Clone(), cs = (float[])c.Clone();
            switch (where)
            {
                case "x": xs[(row * I) + 3] = float.NaN; break;
                case "hPrev": hs[(row * H) + 30] = float.NaN; break;
                default: cs[(row * H) + 4] = float.NaN; break;
            }

            cell.Forward(xs, hs, cs, hb, cb);
            for (int k = 0; k < B * H; k++)
            {
                // NaN in x or hPrev reaches every unit of its row; NaN in cPrev only its own unit.
                bool expected = k / H == row && (where != "cPrev" || k == (row * H) + 4);
                Assert.True(float.IsNaN(hb[k]) == expected, $"NaN in {where} of row {row}: h[{k}] = {hb[k]}");
                Assert.True(float.IsNaN(cb[k]) == expected, $"NaN in {where} of row {row}: c[{k}] = {cb[k]}");
            }
        }
    }

    /// <summary>Finite inputs, however large, never give NaN; h stays in [−1, 1] and |c| ≤ |cPrev| + 1.</summary>
    [Fact]
    public void LstmCell_SpecialValues()
    {
        const int I = 7, H = 19, B = 5;
        var cell = new LstmCell(LstmParameters.CreateRandom(I, H, 9));
        float[] extremes = [1e30f, -1e30f, float.MaxValue, float.MinValue, 1e4f, -1e4f, 0f, -0f, float.Epsilon];
        float[] x = new float[B * I];
        for (int k = 0; k < x.Length; k++)
        {
            x[k] = extremes[k % extremes.Length];
        }

        float[] h = Generators.Fill(B * H, Dist.Unit, 1), c = Generators.Fill(B * H, Dist.Wide, 2);
        float[] hn = new float[B * H], cn = new float[B * H];
        cell.Forward(x, h, c, hn, cn);
        for (int k = 0; k < hn.Length; k++)
        {
            Assert.True(float.IsFinite(cn[k]) && Math.Abs(cn[k]) <= Tolerances.CellStateMagnitude(c[k]), $"c[{k}] = {cn[k]} from cPrev {c[k]}");
            Assert.True(hn[k] is >= -1f and <= 1f, $"h[{k}] = {hn[k]}");
        }

        // Zero weights and bias: every gate is σ(0) = ½ or tanh(0) = 0: c = cPrev/2, h = tanh(c)/2.
        var zero = new LstmCell(new LstmParameters(I, H));
        zero.Forward(x.AsSpan(0, I), h.AsSpan(0, H), c.AsSpan(0, H), hn.AsSpan(0, H), cn.AsSpan(0, H));
        for (int j = 0; j < H; j++)
        {
            Assert.Equal(c[j] / 2, cn[j]);
            Check.Near(Math.Tanh(c[j] / 2) / 2, hn[j], Tolerances.HiddenUpdate(Math.Tanh(c[j] / 2) / 2), "zero weights h", j);
        }
    }

    // ---------------------------------------------------------------- ReferenceLstmCell

    /// <summary>The float overload is the double overload rounded once; both agree with the PyTorch equations.</summary>
    [Property(MaxTest = 60)]
    public void ReferenceLstmCell_FloatOverloadRoundsTheDoubleOne(CellCase t)
    {
        LstmParameters p = LstmParameters.CreateRandom(t.Input, t.Hidden, t.ParameterSeed);
        var reference = new ReferenceLstmCell(p);
        Assert.Equal(t.Input, reference.InputSize);
        Assert.Equal(t.Hidden, reference.HiddenSize);
        float[] x = t.X.Values, h = t.H.Values, c = t.CPrev();
        float[] hf = new float[h.Length], cf = new float[c.Length];
        reference.Forward(x, h, c, hf, cf);
        double[] hd = new double[h.Length], cd = new double[c.Length];
        reference.Forward(PyTorchEquations.ToDouble(x), PyTorchEquations.ToDouble(h), PyTorchEquations.ToDouble(c), hd, cd);
        for (int k = 0; k < h.Length; k++)
        {
            Assert.Equal((float)hd[k], hf[k]);
            Assert.Equal((float)cd[k], cf[k]);
        }

        // In place, as the fast cell allows it.
        reference.Forward(x, h, c, h, c);
        Check.BitwiseEqual(hf, h, "reference h in place");
        Check.BitwiseEqual(cf, c, "reference c in place");
    }

    [Fact]
    public void ReferenceLstmCell_ThrowsOnLengthMismatchInDouble()
    {
        var reference = new ReferenceLstmCell(LstmParameters.CreateRandom(3, 5, 1));
        double[] x = new double[6], s = new double[10];
        Check.Throws<ArgumentException>("x", () => reference.Forward(new double[7], s, s, new double[10], new double[10]));
        Check.Throws<ArgumentException>("hPrev", () => reference.Forward(x, new double[9], s, new double[10], new double[10]));
        Check.Throws<ArgumentException>("cPrev", () => reference.Forward(x, s, new double[11], new double[10], new double[10]));
        Check.Throws<ArgumentException>("hNext", () => reference.Forward(x, s, s, new double[5], new double[10]));
        Check.Throws<ArgumentException>("cNext", () => reference.Forward(x, s, s, new double[10], []));
    }

    // ---------------------------------------------------------------- helpers

    private delegate void Step(ReadOnlySpan<float> x, ReadOnlySpan<float> hPrev, ReadOnlySpan<float> cPrev, Span<float> hNext, Span<float> cNext);

    private static Step Stepper(LstmParameters p, bool reference) =>
        reference ? new ReferenceLstmCell(p).Forward : new LstmCell(p).Forward;

    /// <summary>
    /// One step of LstmCell with sentinels around its outputs, against ReferenceLstmCell (double) within the cell
    /// bound, and ReferenceLstmCell against the PyTorch equations written in this suite.
    /// </summary>
    private static void StepAndCompare(LstmParameters p, int batch, float[] x, float[] h, float[] c)
    {
        int n = batch * p.HiddenSize;
        var hNext = new Guarded(n, fill: 12345f);
        var cNext = new Guarded(n, fill: 12345f);
        new LstmCell(p).Forward(x, h, c, hNext.Span, cNext.Span);
        string shape = $"(B = {batch}, I = {p.InputSize}, H = {p.HiddenSize})";
        hNext.AssertIntact("LstmCell hNext " + shape);
        cNext.AssertIntact("LstmCell cNext " + shape);

        double[] xd = PyTorchEquations.ToDouble(x), hd = PyTorchEquations.ToDouble(h), cd = PyTorchEquations.ToDouble(c);
        double[] hRef = new double[n], cRef = new double[n], hTorch = new double[n], cTorch = new double[n];
        new ReferenceLstmCell(p).Forward(xd, hd, cd, hRef, cRef);
        PyTorchEquations.Step(p, batch, xd, hd, cd, hTorch, cTorch);
        for (int k = 0; k < n; k++)
        {
            Assert.True(Math.Abs(hRef[k] - hTorch[k]) <= Tolerances.DoubleReferences, $"ReferenceLstmCell h[{k}] = {hRef[k]:R}, PyTorch equations {hTorch[k]:R} {shape}");
            Assert.True(Math.Abs(cRef[k] - cTorch[k]) <= Tolerances.DoubleReferences * (1 + Math.Abs(cTorch[k])), $"ReferenceLstmCell c[{k}] = {cRef[k]:R}, PyTorch equations {cTorch[k]:R} {shape}");
            Check.Near(cTorch[k], cNext.Span[k], Tolerances.CellC(cTorch[k]), "LstmCell c " + shape, k);
            Check.Near(hTorch[k], hNext.Span[k], Tolerances.CellH, "LstmCell h " + shape, k);
        }
    }

    /// <summary>A sequence of steps in place; returns the final h and c, concatenated.</summary>
    private static float[] RunSequence(LstmCell cell, int batch, int steps, int seed)
    {
        int n = batch * cell.HiddenSize;
        float[] h = new float[n], c = new float[n];
        float[] xs = Generators.Fill(steps * batch * cell.InputSize, Dist.Unit, seed);
        for (int t = 0; t < steps; t++)
        {
            cell.Forward(xs.AsSpan(t * batch * cell.InputSize, batch * cell.InputSize), h, c, h, c);
        }

        return [.. h, .. c];
    }
}
