using FsCheck.Xunit;
using LstmKernels.Reference;
using Xunit;

namespace LstmKernels.Tests;

/// <summary>Kernels.GateProjection (Kernels.Projection.cs) against its twin and the exact sums.</summary>
[Properties(Arbitrary = [typeof(Generators)], MaxTest = 150)]
public sealed class KernelsProjectionTests
{
    private delegate void ProjectionFn(
        ReadOnlySpan<float> x, ReadOnlySpan<float> h, ReadOnlySpan<float> weightIh, ReadOnlySpan<float> weightHh, ReadOnlySpan<float> bias, Span<float> gates);

    public static TheoryData<bool> KernelAndTwin => [false, true];

    private static float[]? None => null;

    [Property]
    public void GateProjection_MatchesReference(ProjectionCase t) =>
        Run(t.Batch, t.Input, t.Hidden, t.X.Values, t.H.Values, t.WeightIh.Values, t.WeightHh.Values, t.Bias.Values);

    /// <summary>Every (I, H) in 0..20 × 1..20 (I = 0 is a projection of h alone) at batch 1, 4 (one tile) and 5 (tile + 1).</summary>
    [Fact]
    public void GateProjection_AllLengths()
    {
        foreach (int batch in (int[])[1, 4, 5])
        {
            for (int input = 0; input <= 20; input++)
            {
                for (int hidden = 1; hidden <= 20; hidden++)
                {
                    int seed = (batch * 10000) + (input * 100) + hidden;
                    Run(
                        batch,
                        input,
                        hidden,
                        Generators.Fill(batch * input, Dist.Unit, seed),
                        Generators.Fill(batch * hidden, Dist.Unit, seed + 1),
                        Generators.Fill(4 * hidden * input, Dist.Unit, seed + 2),
                        Generators.Fill(4 * hidden * hidden, Dist.Unit, seed + 3),
                        Generators.Fill(4 * hidden, Dist.Unit, seed + 4));
                }
            }
        }
    }

    /// <summary>Large fixed shapes: long dot products (many full vector iterations, then tails) and batches around the tile.</summary>
    [Theory]
    [InlineData(1, 1000, 257)]
    [InlineData(2, 1029, 64)]
    [InlineData(9, 300, 257)]
    [InlineData(4, 512, 128)]
    [InlineData(3, 1, 1024)]
    public void GateProjection_LargeShapes(int batch, int input, int hidden)
    {
        int seed = batch + input + hidden;
        Run(
            batch,
            input,
            hidden,
            Generators.Fill(batch * input, Dist.Unit, seed),
            Generators.Fill(batch * hidden, Dist.Unit, seed + 1),
            Generators.Fill(4 * hidden * input, Dist.Spread, seed + 2),
            Generators.Fill(4 * hidden * hidden, Dist.Unit, seed + 3),
            Generators.Fill(4 * hidden, Dist.Wide, seed + 4));
    }

    [Fact]
    public void GateProjection_SpecialValues()
    {
        const int B = 6, I = 19, H = 17;
        float[] x = Generators.Fill(B * I, Dist.Unit, 1), h = Generators.Fill(B * H, Dist.Unit, 2);
        float[] wIh = Generators.Fill(4 * H * I, Dist.Unit, 3), wHh = Generators.Fill(4 * H * H, Dist.Unit, 4);
        float[] bias = Generators.Fill(4 * H, Dist.Unit, 5);
        float[] gates = new float[B * 4 * H];

        // Zero inputs: the gates are the bias, bitwise, in every row.
        Kernels.GateProjection(new float[B * I], new float[B * H], wIh, wHh, bias, gates);
        for (int b = 0; b < B; b++)
        {
            Check.BitwiseEqual(bias, gates.AsSpan(b * 4 * H, 4 * H), $"zero inputs, row {b}");
        }

        // NaN in x of row b (or in h of row b) reaches every gate of that row and no other row.
        foreach ((bool inH, int row, int k) in (ReadOnlySpan<(bool, int, int)>)[(false, 0, 0), (false, 4, 18), (true, 5, 16), (true, 2, 3)])
        {
            float[] xs = (float[])x.Clone(), hs = (float[])h.Clone();
            (inH ? hs : xs)[(row * (inH ? H : I)) + k] = float.NaN;
            Kernels.GateProjection(xs, hs, wIh, wHh, bias, gates);
            for (int j = 0; j < gates.Length; j++)
            {
                Assert.True(float.IsNaN(gates[j]) == (j / (4 * H) == row), $"NaN in {(inH ? "h" : "x")}[{row}, {k}]: gates[{j}] = {gates[j]}");
            }
        }

        // NaN in one weight row (gate unit r) reaches that unit in every row and no other unit.
        foreach ((bool recurrent, int r) in (ReadOnlySpan<(bool, int)>)[(false, 0), (false, 67), (true, 33), (true, 40)])
        {
            float[] wi = (float[])wIh.Clone(), wh = (float[])wHh.Clone();
            (recurrent ? wh : wi)[(r * (recurrent ? H : I)) + (recurrent ? H - 1 : I - 1)] = float.NaN;
            Kernels.GateProjection(x, h, wi, wh, bias, gates);
            for (int j = 0; j < gates.Length; j++)
            {
                Assert.True(float.IsNaN(gates[j]) == (j % (4 * H) == r), $"NaN in weight row {r}: gates[{j}] = {gates[j]}");
            }
        }

        // Sums of huge terms overflow to ±∞ the same way the exact sum does; finite huge terms that cancel stay finite.
        float[] big = new float[4];
        Kernels.GateProjection([3e38f], [0f], [1f, 1f, -1f, 0.5f], [0f, 0f, 0f, 0f], [3e38f, -3e38f, -3e38f, 0f], big);
        Assert.Equal(float.PositiveInfinity, big[0]);
        Assert.Equal(0f, big[1]);
        Assert.Equal(float.NegativeInfinity, big[2]);
        Assert.Equal(1.5e38f, big[3]);
    }

    [Theory]
    [MemberData(nameof(KernelAndTwin))]
    public void GateProjection_ThrowsOnLengthMismatch(bool twin)
    {
        ProjectionFn fn = twin ? ReferenceKernels.GateProjection : Kernels.GateProjection;
        const int B = 3, I = 5, H = 4;
        float[] x = new float[B * I], h = new float[B * H], wIh = new float[4 * H * I], wHh = new float[4 * H * H];
        float[] bias = new float[4 * H], gates = new float[B * 4 * H];
        fn(x, h, wIh, wHh, bias, gates);

        Check.Throws<ArgumentException>("bias", () => fn(x, h, wIh, wHh, None, gates));
        Check.Throws<ArgumentException>("bias", () => fn(x, h, wIh, wHh, new float[(4 * H) - 1], gates));
        Check.Throws<ArgumentException>("bias", () => fn(x, h, wIh, wHh, new float[6], gates));
        Check.Throws<ArgumentException>("weightIh", () => fn(x, h, new float[(4 * H * I) + 1], wHh, bias, gates));
        Check.Throws<ArgumentException>("weightIh", () => fn(x, h, new float[(4 * H * I) - 4], wHh, bias, gates));
        Check.Throws<ArgumentException>("weightHh", () => fn(x, h, wIh, new float[(4 * H * H) - 1], bias, gates));
        Check.Throws<ArgumentException>("weightHh", () => fn(x, h, wIh, new float[4 * H * (H + 1)], bias, gates));
        Check.Throws<ArgumentException>("weightHh", () => fn(x, h, wIh, None, bias, gates));
        Check.Throws<ArgumentException>("gates", () => fn(x, h, wIh, wHh, bias, new float[(B * 4 * H) + 1]));
        Check.Throws<ArgumentException>("gates", () => fn(x, h, wIh, wHh, bias, new float[(B * 4 * H) - 4]));
        Check.Throws<ArgumentException>("x", () => fn(new float[(B * I) - 1], h, wIh, wHh, bias, gates));
        Check.Throws<ArgumentException>("x", () => fn(None, h, wIh, wHh, bias, gates));
        Check.Throws<ArgumentException>("h", () => fn(x, new float[(B * H) + 1], wIh, wHh, bias, gates));
        Check.Throws<ArgumentException>("h", () => fn(x, None, wIh, wHh, bias, gates));

        // A gates buffer of another whole batch size: B comes from 'gates', so x (the first input sized by B) is named.
        Check.Throws<ArgumentException>("x", () => fn(x, h, wIh, wHh, bias, new float[(B + 1) * 4 * H]));

        // Empty gates is B = 0: then x and h must be empty.
        fn(None, None, wIh, wHh, bias, None);
    }

    [Theory]
    [MemberData(nameof(KernelAndTwin))]
    public void GateProjection_ThrowsOnOverlap(bool twin)
    {
        ProjectionFn fn = twin ? ReferenceKernels.GateProjection : Kernels.GateProjection;
        const int B = 2, I = 3, H = 2;
        float[] buffer = Generators.Fill(200, Dist.Unit, 1);
        float[] before = (float[])buffer.Clone();
        float[] x = new float[B * I], h = new float[B * H], wIh = new float[4 * H * I], wHh = new float[4 * H * H];
        float[] bias = new float[4 * H], gates = new float[B * 4 * H];
        Span<float> S(int start, int length) => buffer.AsSpan(start, length);
        const int G = B * 4 * H;
        Check.Throws<ArgumentException>("gates", () => fn(S(0, B * I), h, wIh, wHh, bias, S(B * I - 1, G)));
        Check.Throws<ArgumentException>("gates", () => fn(x, S(0, B * H), wIh, wHh, bias, S(0, G)));
        Check.Throws<ArgumentException>("gates", () => fn(x, h, S(10, 4 * H * I), wHh, bias, S(0, G)));
        Check.Throws<ArgumentException>("gates", () => fn(x, h, wIh, S(0, 4 * H * H), bias, S(15, G)));
        Check.Throws<ArgumentException>("gates", () => fn(x, h, wIh, wHh, S(G - 1, 4 * H), S(0, G)));
        Check.BitwiseEqual(before, buffer, "buffer after rejected calls");

        // Inputs may overlap each other (x, h and the weights are only read); touching gates is fine.
        fn(S(0, B * I), S(0, B * H), S(0, 4 * H * I), S(0, 4 * H * H), S(0, 4 * H), S(100, G));
        fn(x, h, wIh, wHh, S(0, 4 * H), S(4 * H, G));
        Assert.NotEqual(before.AsSpan(100, G).ToArray(), buffer.AsSpan(100, G).ToArray());
    }

    [Fact]
    public void GateProjection_DoesNotAllocate()
    {
        const int I = 37, H = 29;
        float[] x = Generators.Fill(9 * I, Dist.Unit, 1), h = Generators.Fill(9 * H, Dist.Unit, 2);
        float[] wIh = Generators.Fill(4 * H * I, Dist.Unit, 3), wHh = Generators.Fill(4 * H * H, Dist.Unit, 4);
        float[] bias = Generators.Fill(4 * H, Dist.Unit, 5), gates = new float[9 * 4 * H];
        long bytes = Allocation.Measure(
            () =>
            {
                Kernels.GateProjection(x, h, wIh, wHh, bias, gates);
                Kernels.GateProjection(x.AsSpan(0, I), h.AsSpan(0, H), wIh, wHh, bias, gates.AsSpan(0, 4 * H));
            },
            iterations: 1000);
        Assert.Equal(0, bytes);
    }

    private static void Run(int batch, int input, int hidden, float[] x, float[] h, float[] wIh, float[] wHh, float[] bias)
    {
        int rows = 4 * hidden;
        var gates = new Guarded(batch * rows, fill: 12345f);
        float[] reference = new float[batch * rows];
        Kernels.GateProjection(x, h, wIh, wHh, bias, gates.Span);
        ReferenceKernels.GateProjection(x, h, wIh, wHh, bias, reference);
        gates.AssertIntact($"GateProjection gates (B = {batch}, I = {input}, H = {hidden})");
        for (int b = 0; b < batch; b++)
        {
            for (int r = 0; r < rows; r++)
            {
                double sum = bias[r];
                double magnitude = Math.Abs(bias[r]);
                for (int k = 0; k < input; k++)
                {
                    double term = (double)x[(b * input) + k] * wIh[(r * input) + k];
                    sum += term;
                    magnitude += Math.Abs(term);
                }

                for (int k = 0; k < hidden; k++)
                {
                    double term = (double)h[(b * hidden) + k] * wHh[(r * hidden) + k];
                    sum += term;
                    magnitude += Math.Abs(term);
                }

                int at = (b * rows) + r;
                Check.Near(sum, gates.Span[at], Tolerances.Projection(input, hidden, magnitude), $"GateProjection (B = {batch}, I = {input}, H = {hidden}) gates", at);
                Assert.Equal((float)sum, reference[at]);
            }
        }
    }
}
