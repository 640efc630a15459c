using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using LstmKernels.Internal;
using LstmKernels.Reference;

namespace LstmKernels.Tests;

/// <summary>One sequence's inputs: shapes, the parameters' seed, and data at the cell tolerance's scale.</summary>
public sealed record SequenceCase(int Steps, int Batch, int Input, int Hidden, int ParameterSeed, Data Xs, Data H0, Data C0);

/// <summary>FsCheck generators for <see cref="ForwardSequenceTests"/>.</summary>
public static class SequenceGenerators
{
    /// <summary>T around 0, 1 and small lengths; the other shapes as for one step.</summary>
    public static Arbitrary<SequenceCase> SequenceCases() =>
        Arb.From(
            from steps in Gen.Elements(0, 1, 2, 3, 5, 8, 13)
            from input in Generators.Size
            from hidden in Generators.Size
            from batch in Gen.Elements(0, 1, 2, 3, 4, 5, 7, 8, 9)
            from parameterSeed in Generators.Seed
            from xs in Generators.Floats(steps * batch * input, Gen.Constant(Dist.Unit))
            from h0 in Generators.Floats(batch * hidden, Gen.Constant(Dist.Unit))
            from c0 in Generators.Floats(batch * hidden, Gen.Constant(Dist.Unit))
            select new SequenceCase(steps, batch, input, hidden, parameterSeed, xs, h0, c0));
}

/// <summary>FsCheck generators for the lookahead route of <see cref="ForwardSequenceTests"/>.</summary>
public static class LookaheadGenerators
{
    /// <summary>
    /// Batch 1, I ≥ 64 and T past one chunk of 8 steps: the lookahead route (whole and partial last chunks; I not a
    /// multiple of 4, so the four row quarters differ; H below, at and above the rows per quarter).
    /// </summary>
    public static Arbitrary<SequenceCase> Cases() =>
        Arb.From(
            from steps in Gen.Elements(9, 15, 16, 17, 23, 24, 25, 40)
            from input in Gen.Elements(64, 65, 66, 67, 71, 96, 130)
            from hidden in Generators.Size
            from parameterSeed in Generators.Seed
            from xs in Generators.Floats(steps * input, Gen.Constant(Dist.Unit))
            from h0 in Generators.Floats(hidden, Gen.Constant(Dist.Unit))
            from c0 in Generators.Floats(hidden, Gen.Constant(Dist.Unit))
            select new SequenceCase(steps, 1, input, hidden, parameterSeed, xs, h0, c0));
}

/// <summary>
/// LstmCell.ForwardSequence (LstmCell.cs; FusedStep.Project and FusedStep.Recurrent): against the seed's reference
/// stepped T times in double, against T calls of Forward, in place, chunked, bad input, allocation and threads.
/// </summary>
[Properties(Arbitrary = [typeof(SequenceGenerators)], MaxTest = 100)]
public sealed class ForwardSequenceTests
{
    /// <summary>
    /// The route thresholds of the Zen 4 host (Cell/RoutePolicy.cs), so that the tests that assert which route a cell takes
    /// do not depend on the caches of the machine they run on.
    /// </summary>
    private static readonly RoutePolicy Zen4Routes = RoutePolicy.For(CacheTopology.Zen4);

    [Property]
    public void ForwardSequence_MatchesReference(SequenceCase t)
    {
        LstmParameters p = LstmParameters.CreateRandom(t.Input, t.Hidden, t.ParameterSeed);
        int states = t.Batch * t.Hidden;
        float[] ys = new float[t.Steps * states], hT = new float[states], cT = new float[states];
        new LstmCell(p).ForwardSequence(t.Xs.Values, t.H0.Values, t.C0.Values, ys, hT, cT);
        CheckAgainstReference(t, p, ys, hT, cT);
    }

    /// <summary>
    /// The lookahead route (FusedStep.Lookahead: the next chunk's projection computed inside this chunk's steps) against
    /// the reference, and against the separate projection pass at the fused-vs-unfused bound. It is the route taken
    /// on the Vector512 path and no other.
    /// </summary>
    [Property(Arbitrary = [typeof(LookaheadGenerators)], MaxTest = 60)]
    public void ForwardSequence_Lookahead_MatchesReferenceAndTheSeparatePass(SequenceCase t)
    {
        LstmParameters p = LstmParameters.CreateRandom(t.Input, t.Hidden, t.ParameterSeed);
        var cell = new LstmCell(p) { Routes = Zen4Routes };
        Assert.Equal(Kernels.ActivePath == SimdPath.Vector512, cell.UsesLookahead(t.Steps, 1));
        float[] ys = new float[t.Steps * t.Hidden], hT = new float[t.Hidden], cT = new float[t.Hidden];
        cell.ForwardSequence(t.Xs.Values, t.H0.Values, t.C0.Values, ys, hT, cT);
        CheckAgainstReference(t, p, ys, hT, cT);

        var separate = new LstmCell(p) { LookaheadEnabled = false };
        Assert.False(separate.UsesLookahead(t.Steps, 1));
        float[] ys2 = new float[ys.Length], hT2 = new float[t.Hidden], cT2 = new float[t.Hidden];
        separate.ForwardSequence(t.Xs.Values, t.H0.Values, t.C0.Values, ys2, hT2, cT2);
        for (int k = 0; k < ys.Length; k++)
        {
            int step = k / Math.Max(t.Hidden, 1);
            Check.Near(ys2[k], ys[k], Tolerances.SequenceFactor(step + 1) * Tolerances.FusedVsUnfused * Tolerances.CellH, $"ys[{step}] against the separate pass", k % Math.Max(t.Hidden, 1));
        }
    }

    private static void CheckAgainstReference(SequenceCase t, LstmParameters p, float[] ys, float[] hT, float[] cT)
    {
        int states = t.Batch * t.Hidden;
        var reference = new ReferenceLstmCell(p);
        double[] h = PyTorchEquations.ToDouble(t.H0.Values), c = PyTorchEquations.ToDouble(t.C0.Values);
        for (int s = 0; s < t.Steps; s++)
        {
            double[] x = PyTorchEquations.ToDouble(t.Xs.Values.AsSpan(s * t.Batch * t.Input, t.Batch * t.Input));
            reference.Forward(x, h, c, h, c);
            double factor = Tolerances.SequenceFactor(s + 1);
            for (int k = 0; k < states; k++)
            {
                Check.Near(h[k], ys[(s * states) + k], factor * Tolerances.CellH, $"ys[{s}]", k);
            }
        }

        double last = Tolerances.SequenceFactor(Math.Max(t.Steps, 1));
        for (int k = 0; k < states; k++)
        {
            Check.Near(h[k], hT[k], last * Tolerances.CellH, "hT", k);
            Check.Near(c[k], cT[k], last * Tolerances.CellC(c[k]), "cT", k);
        }
    }

    /// <summary>
    /// Long enough that the input projection is computed in several chunks (its budget is 2²⁰ floats: here
    /// 16 rows × 64 floats a step, so 1024 steps a chunk), against Forward stepped 1100 times.
    /// </summary>
    [Fact]
    public void ForwardSequence_Chunked_MatchesStepping()
    {
        const int Steps = 1100, Batch = 16, Input = 3, Hidden = 16;
        LstmParameters p = LstmParameters.CreateRandom(Input, Hidden, 5);
        var cell = new LstmCell(p);
        float[] xs = Generators.Fill(Steps * Batch * Input, Dist.Unit, 11);
        float[] h0 = Generators.Fill(Batch * Hidden, Dist.Unit, 12), c0 = Generators.Fill(Batch * Hidden, Dist.Unit, 13);
        float[] ys = new float[Steps * Batch * Hidden], hT = new float[Batch * Hidden], cT = new float[Batch * Hidden];
        cell.ForwardSequence(xs, h0, c0, ys, hT, cT);

        float[] h = (float[])h0.Clone(), c = (float[])c0.Clone();
        for (int s = 0; s < Steps; s++)
        {
            cell.Forward(xs.AsSpan(s * Batch * Input, Batch * Input), h, c, h, c);

            // Both routes are within the per-step bound of the exact sequence; 20 steps of error at most, since
            // these contractive weights forget older rounding (measured: below 2e-7 throughout).
            for (int k = 0; k < h.Length; k++)
            {
                Check.Near(h[k], ys[(s * h.Length) + k], 20 * Tolerances.FusedVsUnfused * Tolerances.CellH, $"ys[{s}]", k);
            }
        }

        Check.BitwiseEqual(ys.AsSpan((Steps - 1) * h.Length), hT, "hT = ys[T − 1]");
        for (int k = 0; k < c.Length; k++)
        {
            Check.Near(c[k], cT[k], 20 * Tolerances.FusedVsUnfused * Tolerances.CellC(c[k]), "cT", k);
        }
    }

    [Theory]
    [InlineData(5, 3, 5, 1)]
    [InlineData(7, 17, 33, 4)]
    [InlineData(3, 64, 16, 9)]
    public void ForwardSequence_InPlaceAndWithoutYs_GiveTheSameBits(int steps, int input, int hidden, int batch)
    {
        var cell = new LstmCell(LstmParameters.CreateRandom(input, hidden, 3));
        float[] xs = Generators.Fill(steps * batch * input, Dist.Unit, 1);
        float[] h0 = Generators.Fill(batch * hidden, Dist.Unit, 2), c0 = Generators.Fill(batch * hidden, Dist.Unit, 3);
        float[] ys = new float[steps * batch * hidden], hT = new float[h0.Length], cT = new float[c0.Length];
        cell.ForwardSequence(xs, h0, c0, ys, hT, cT);

        float[] h = (float[])h0.Clone(), c = (float[])c0.Clone();
        cell.ForwardSequence(xs, h, c, [], h, c);
        Check.BitwiseEqual(hT, h, "in place, no ys: h");
        Check.BitwiseEqual(cT, c, "in place, no ys: c");
        Check.BitwiseEqual(ys.AsSpan((steps - 1) * h0.Length), hT, "hT = ys[T − 1]");
    }

    [Fact]
    public void ForwardSequence_ZeroStepsOrRows_CopiesTheState()
    {
        var cell = new LstmCell(LstmParameters.CreateRandom(3, 5, 1));
        float[] h0 = Generators.Fill(10, Dist.Unit, 1), c0 = Generators.Fill(10, Dist.Unit, 2);
        float[] hT = new float[10], cT = new float[10];
        cell.ForwardSequence([], h0, c0, [], hT, cT);
        Check.BitwiseEqual(h0, hT, "T = 0: hT = h0");
        Check.BitwiseEqual(c0, cT, "T = 0: cT = c0");

        cell.ForwardSequence([], [], [], [], [], []);
        Check.Throws<ArgumentException>("x", () => cell.ForwardSequence(new float[3], [], [], [], [], []));
    }

    [Fact]
    public void ForwardSequence_ThrowsOnBadLengths()
    {
        var cell = new LstmCell(LstmParameters.CreateRandom(3, 5, 1));
        float[] xs = new float[4 * 2 * 3], h0 = new float[10], c0 = new float[10], ys = new float[4 * 10], hT = new float[10], cT = new float[10];
        Check.Throws<ArgumentException>("h0", () => cell.ForwardSequence(xs, new float[9], c0, ys, hT, cT));
        Check.Throws<ArgumentException>("x", () => cell.ForwardSequence(new float[25], h0, c0, ys, hT, cT));
        Check.Throws<ArgumentException>("c0", () => cell.ForwardSequence(xs, h0, new float[5], ys, hT, cT));
        Check.Throws<ArgumentException>("c0", () => cell.ForwardSequence(xs, h0, null, ys, hT, cT));
        Check.Throws<ArgumentException>("hT", () => cell.ForwardSequence(xs, h0, c0, ys, new float[11], cT));
        Check.Throws<ArgumentException>("cT", () => cell.ForwardSequence(xs, h0, c0, ys, hT, new float[5]));
        Check.Throws<ArgumentException>("y", () => cell.ForwardSequence(xs, h0, c0, new float[30], hT, cT));
    }

    [Fact]
    public void ForwardSequence_ThrowsOnOverlap()
    {
        var cell = new LstmCell(LstmParameters.CreateRandom(3, 5, 1));
        float[] xs = new float[2 * 2 * 3], h0 = new float[10], c0 = new float[10], hT = new float[10], cT = new float[10];
        float[] big = new float[100];
        Check.Throws<ArgumentException>("y", () => cell.ForwardSequence(xs, h0, c0, big.AsSpan(0, 20), big.AsSpan(15, 10), cT));
        Check.Throws<ArgumentException>("y", () => cell.ForwardSequence(big.AsSpan(0, 12), h0, c0, big.AsSpan(10, 20), hT, cT));
        Check.Throws<ArgumentException>("hT", () => cell.ForwardSequence(xs, big.AsSpan(0, 10), c0, [], big.AsSpan(1, 10), cT));
        Check.Throws<ArgumentException>("hT", () => cell.ForwardSequence(xs, h0, c0, [], big.AsSpan(0, 10), big.AsSpan(5, 10)));
        Check.Throws<ArgumentException>("cT", () => cell.ForwardSequence(xs, h0, big.AsSpan(0, 10), [], hT, big.AsSpan(2, 10)));
        Check.Throws<ArgumentException>("cT", () => cell.ForwardSequence(big.AsSpan(0, 12), h0, c0, [], hT, big.AsSpan(11, 10)));
        Check.Throws<ArgumentException>("hT", () => cell.ForwardSequence(xs, h0, c0, [], c0, cT));
    }

    [Theory]
    [InlineData(1, 24, 8)]
    [InlineData(16, 24, 8)]
    [InlineData(1, 70, 20)]
    public void ForwardSequence_DoesNotAllocate(int batch, int input, int steps)
    {
        var cell = new LstmCell(LstmParameters.CreateRandom(input, 40, 2)) { Routes = Zen4Routes };
        Assert.Equal(Kernels.ActivePath == SimdPath.Vector512 && batch == 1 && input >= 64, cell.UsesLookahead(steps, batch));
        float[] xs = Generators.Fill(steps * batch * input, Dist.Unit, 1);
        float[] h = new float[batch * 40], c = new float[batch * 40], ys = new float[steps * batch * 40];
        Assert.Equal(0, Allocation.Measure(() => cell.ForwardSequence(xs, h, c, ys, h, c), warmUp: 50, iterations: 500));
    }

    /// <summary>
    /// A NaN in x at step s (in the first chunk, or in a later one, which the lookahead route projects during the
    /// chunk before) makes every h from step s on NaN and leaves the steps before it finite and as the separate pass.
    /// </summary>
    [Theory]
    [InlineData(0, 0)]
    [InlineData(7, 69)]
    [InlineData(8, 0)]
    [InlineData(13, 35)]
    [InlineData(19, 17)]
    public void ForwardSequence_NaNInput_PoisonsFromItsStepOn(int step, int row)
    {
        const int Steps = 20, Input = 70, Hidden = 24;
        LstmParameters p = LstmParameters.CreateRandom(Input, Hidden, 8);
        float[] xs = Generators.Fill(Steps * Input, Dist.Unit, 4);
        xs[(step * Input) + row] = float.NaN;
        xs[(((step + 3) % Steps) * Input) + ((row + 1) % Input)] = 1e-40f; // a subnormal elsewhere changes nothing of that
        float[] ys = new float[Steps * Hidden], ys2 = new float[Steps * Hidden];
        new LstmCell(p).ForwardSequence(xs, new float[Hidden], new float[Hidden], ys, new float[Hidden], new float[Hidden]);
        new LstmCell(p) { LookaheadEnabled = false }.ForwardSequence(xs, new float[Hidden], new float[Hidden], ys2, new float[Hidden], new float[Hidden]);
        for (int k = 0; k < ys.Length; k++)
        {
            int s = k / Hidden;
            if (s >= step)
            {
                Assert.True(float.IsNaN(ys[k]), $"ys[{s}][{k % Hidden}] = {ys[k]}, expected NaN (NaN input at step {step})");
            }
            else
            {
                Check.Near(ys2[k], ys[k], Tolerances.SequenceFactor(s + 1) * Tolerances.FusedVsUnfused * Tolerances.CellH, $"ys[{s}]", k % Hidden);
            }
        }
    }

    /// <summary>Four threads sharing one cell, each result bitwise as run alone; batch 1 with I = 70 takes the lookahead route.</summary>
    [Theory]
    [InlineData(3, 9)]
    [InlineData(1, 70)]
    public void ForwardSequence_FromSeveralThreads_MatchesSequentialBitwise(int batch, int input)
    {
        const int Threads = 4, Steps = 30, Hidden = 20;
        var cell = new LstmCell(LstmParameters.CreateRandom(input, Hidden, 9));
        float[][] xs = new float[Threads][], alone = new float[Threads][], together = new float[Threads][];
        for (int k = 0; k < Threads; k++)
        {
            xs[k] = Generators.Fill(Steps * batch * input, Dist.Unit, 100 + k);
            alone[k] = new float[Steps * batch * Hidden];
            together[k] = new float[Steps * batch * Hidden];
            cell.ForwardSequence(xs[k], new float[batch * Hidden], new float[batch * Hidden], alone[k], new float[batch * Hidden], new float[batch * Hidden]);
        }

        var threads = new Thread[Threads];
        for (int k = 0; k < Threads; k++)
        {
            int id = k;
            threads[k] = new Thread(() =>
            {
                for (int repeat = 0; repeat < 20; repeat++)
                {
                    cell.ForwardSequence(xs[id], new float[batch * Hidden], new float[batch * Hidden], together[id], new float[batch * Hidden], new float[batch * Hidden]);
                }
            });
        }

        foreach (Thread thread in threads)
        {
            thread.Start();
        }

        foreach (Thread thread in threads)
        {
            thread.Join();
        }

        for (int k = 0; k < Threads; k++)
        {
            Check.BitwiseEqual(alone[k], together[k], $"thread {k}");
        }
    }
}
