using FsCheck.Xunit;
using LstmKernels.Reference;

namespace LstmKernels.Tests;

/// <summary>Kernels.Linear (Kernels.Linear.cs) against its twin and the exact sums, with and without bias.</summary>
[Properties(Arbitrary = [typeof(LinearGenerators)], MaxTest = 150)]
public sealed class KernelsLinearTests
{
    private delegate void LinearFn(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> destination);

    public static TheoryData<bool> KernelAndTwin => [false, true];

    [Property]
    public void Linear_MatchesReference(LinearCase t) =>
        Run(t.Batch, t.Inner, t.Rows, t.X.Values, t.Weight.Values, t.Bias.Values);

    /// <summary>No bias gives the bits of a zero bias (−0 sums become +0 in both), kernel and twin.</summary>
    [Property(MaxTest = 100)]
    public void Linear_EmptyBiasIsZeroBias(LinearCase t)
    {
        float[] zeros = new float[t.Rows];
        foreach (LinearFn fn in (LinearFn[])[Kernels.Linear, ReferenceKernels.Linear])
        {
            float[] withZeros = new float[t.Batch * t.Rows], without = new float[t.Batch * t.Rows];
            fn(t.X.Values, t.Weight.Values, zeros, withZeros);
            fn(t.X.Values, t.Weight.Values, default, without);
            Check.BitwiseEqual(withZeros, without, "Linear without bias");
        }
    }

    /// <summary>
    /// Row b of a batch has the bits of that row alone (batch 1), on every path: in the batch as given, with the rows
    /// shuffled, and at each place of a 5-row batch (the four places of the 4-row tile, then the row after it) among
    /// filler rows. The stream batcher relies on it. A failure prints the case and FsCheck's Replay pair.
    /// </summary>
    [Property]
    public void Linear_RowBitsDoNotDependOnPlaceInBatch(RowPlacementCase c)
    {
        LinearCase t = c.Case;
        int batch = t.Batch, inner = t.Inner, rows = t.Rows;
        float[] x = t.X.Values, weight = t.Weight.Values, bias = t.Bias.Values;
        string shape = $"B = {batch}, K = {inner}, N = {rows}, {(bias.Length == 0 ? "no bias" : "bias")}";
        float[][] alone = new float[batch][];
        for (int b = 0; b < batch; b++)
        {
            alone[b] = new float[rows];
            Kernels.Linear(x.AsSpan(b * inner, inner), weight, bias, alone[b]);
        }

        float[] whole = new float[batch * rows];
        Kernels.Linear(x, weight, bias, whole);
        for (int b = 0; b < batch; b++)
        {
            Check.BitwiseEqual(alone[b], whole.AsSpan(b * rows, rows), $"Linear ({shape}) row {b} in the batch vs alone");
        }

#pragma warning disable CA5394 // Test data, not security.
        var random = new Random(c.Seed);
        int[] order = [.. Enumerable.Range(0, batch)];
        random.Shuffle(order);
#pragma warning restore CA5394
        float[] shuffledX = new float[batch * inner], shuffled = new float[batch * rows];
        for (int p = 0; p < batch; p++)
        {
            x.AsSpan(order[p] * inner, inner).CopyTo(shuffledX.AsSpan(p * inner));
        }

        Kernels.Linear(shuffledX, weight, bias, shuffled);
        for (int p = 0; p < batch; p++)
        {
            Check.BitwiseEqual(alone[order[p]], shuffled.AsSpan(p * rows, rows), $"Linear ({shape}) row {order[p]} shuffled to {p} vs alone");
        }

        const int Places = 5;
        float[] placed = new float[Places * rows];
        for (int p = 0; p < Places; p++)
        {
            float[] placedX = Generators.Fill(Places * inner, Dist.Wide, c.Seed ^ p);
            for (int b = 0; b < batch; b++)
            {
                x.AsSpan(b * inner, inner).CopyTo(placedX.AsSpan(p * inner));
                Kernels.Linear(placedX, weight, bias, placed);
                Check.BitwiseEqual(alone[b], placed.AsSpan(p * rows, rows), $"Linear ({shape}) row {b} at place {p} of {Places} vs alone");
            }
        }
    }

    /// <summary>Every K in 0..20 and N in 1..20 at batch 0, 1, 4 (one tile) and 5 (tile + 1), with and without bias.</summary>
    [Fact]
    public void Linear_AllLengths()
    {
        foreach (int batch in (int[])[0, 1, 4, 5])
        {
            for (int inner = 0; inner <= 20; inner++)
            {
                for (int rows = 1; rows <= 20; rows++)
                {
                    int seed = (batch * 10000) + (inner * 100) + rows;
                    float[] x = Generators.Fill(batch * inner, Dist.Unit, seed);
                    float[] weight = Generators.Fill(rows * inner, Dist.Unit, seed + 1);
                    Run(batch, inner, rows, x, weight, Generators.Fill(rows, Dist.Unit, seed + 2));
                    Run(batch, inner, rows, x, weight, []);
                }
            }
        }
    }

    /// <summary>Long dot products (many full vectors, then tails), many rows, and batches around the 4-row tile.</summary>
    [Theory]
    [InlineData(1, 1000, 257)]
    [InlineData(9, 300, 64)]
    [InlineData(4, 512, 128)]
    [InlineData(3, 1, 1024)]
    public void Linear_LargeShapes(int batch, int inner, int rows)
    {
        int seed = batch + inner + rows;
        float[] x = Generators.Fill(batch * inner, Dist.Unit, seed), weight = Generators.Fill(rows * inner, Dist.Unit, seed + 1);
        Run(batch, inner, rows, x, weight, Generators.Fill(rows, Dist.Wide, seed + 2));
        Run(batch, inner, rows, x, weight, []);
    }

    [Theory]
    [MemberData(nameof(KernelAndTwin))]
    public void Linear_ThrowsOnLengthMismatch(bool twin)
    {
        LinearFn fn = twin ? ReferenceKernels.Linear : Kernels.Linear;
        float[] x = new float[6], w = new float[12], bias = new float[4], d = new float[8];
        fn(x, w, bias, d);
        fn(x, w, default, d);
        Check.Throws<ArgumentException>("weight", () => fn(x, new float[13], bias, d));
        Check.Throws<ArgumentException>("destination", () => fn(x, w, bias, new float[9]));
        Check.Throws<ArgumentException>("x", () => fn(new float[5], w, bias, d));
        Check.Throws<ArgumentException>("x", () => fn(x, w, bias, new float[12]));

        // Without bias: x = B·K, weight = N·K, destination = B·N must have a whole solution K.
        Check.Throws<ArgumentException>("destination", () => fn(x, w, default, new float[9]));
        Check.Throws<ArgumentException>("destination", () => fn(x, w, default, new float[7]));
        Check.Throws<ArgumentException>("destination", () => fn(x, w, default, default));
        Check.Throws<ArgumentException>("weight", () => fn(default, w, default, d));
        Check.Throws<ArgumentException>("x", () => fn(x, default, default, d));

        // Nothing to compute: B = 0 or N = 0 without bias, K = 0 (every output 0).
        fn(default, w, default, default);
        fn(x, default, default, default);
        float[] ones = [1, 1, 1];
        fn(default, default, default, ones);
        Assert.Equal([0f, 0f, 0f], ones);
    }

    [Theory]
    [MemberData(nameof(KernelAndTwin))]
    public void Linear_ThrowsOnOverlap(bool twin)
    {
        LinearFn fn = twin ? ReferenceKernels.Linear : Kernels.Linear;
        const int B = 2, K = 3, N = 4;
        float[] buffer = Generators.Fill(100, Dist.Unit, 1);
        float[] before = (float[])buffer.Clone();
        float[] x = new float[B * K], w = new float[N * K], bias = new float[N];
        Span<float> S(int start, int length) => buffer.AsSpan(start, length);
        Check.Throws<ArgumentException>("destination", () => fn(S(0, B * K), w, bias, S((B * K) - 1, B * N)));
        Check.Throws<ArgumentException>("destination", () => fn(x, S(5, N * K), bias, S(0, B * N)));
        Check.Throws<ArgumentException>("destination", () => fn(x, w, S(0, N), S(N - 1, B * N)));
        Check.BitwiseEqual(before, buffer, "buffer after rejected calls");
    }

    /// <summary>The inputs may share memory (they are only read); the output is then computed from the shared values.</summary>
    [Fact]
    public void Linear_InputsMayShareMemory()
    {
        float[] shared = Generators.Fill(64, Dist.Unit, 5);
        float[] got = new float[4 * 4], expected = new float[got.Length];
        Kernels.Linear(shared.AsSpan(0, 4 * 4), shared.AsSpan(0, 4 * 4), shared.AsSpan(0, 4), got);
        ReferenceKernels.Linear(shared.AsSpan(0, 4 * 4), shared.AsSpan(0, 4 * 4), shared.AsSpan(0, 4), expected);
        for (int k = 0; k < got.Length; k++)
        {
            Check.Near(expected[k], got[k], Tolerances.Linear(4, 5.0), "Linear on shared inputs", k);
        }
    }

    [Fact]
    public void Linear_DoesNotAllocate()
    {
        const int K = 37, N = 29;
        float[] x = Generators.Fill(9 * K, Dist.Unit, 1), w = Generators.Fill(N * K, Dist.Unit, 2);
        float[] bias = Generators.Fill(N, Dist.Unit, 3), destination = new float[9 * N];
        long bytes = Allocation.Measure(
            () =>
            {
                Kernels.Linear(x, w, bias, destination);
                Kernels.Linear(x.AsSpan(0, K), w, default, destination.AsSpan(0, N));
            },
            iterations: 1000);
        Assert.Equal(0, bytes);
    }

    private static void Run(int batch, int inner, int rows, float[] x, float[] weight, float[] bias)
    {
        var got = new Guarded(batch * rows, fill: 12345f);
        float[] reference = new float[batch * rows];
        Kernels.Linear(x, weight, bias, got.Span);
        ReferenceKernels.Linear(x, weight, bias, reference);
        string what = $"Linear (B = {batch}, K = {inner}, N = {rows}, {(bias.Length == 0 ? "no bias" : "bias")})";
        got.AssertIntact(what);
        for (int b = 0; b < batch; b++)
        {
            for (int r = 0; r < rows; r++)
            {
                double sum = bias.Length == 0 ? 0 : bias[r];
                double magnitude = Math.Abs(sum);
                for (int k = 0; k < inner; k++)
                {
                    double term = (double)x[(b * inner) + k] * weight[(r * inner) + k];
                    sum += term;
                    magnitude += Math.Abs(term);
                }

                int at = (b * rows) + r;
                Check.Near(sum, got.Span[at], Tolerances.Linear(inner, magnitude), what, at);
                Assert.Equal((float)sum, reference[at]);
            }
        }
    }
}
