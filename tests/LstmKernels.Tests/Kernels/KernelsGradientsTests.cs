using FsCheck.Xunit;
using LstmKernels.Reference;

namespace LstmKernels.Tests;

/// <summary>
/// AccumulateWeightGradient, AccumulateBiasGradient and AccumulateInputGradient (Kernels.Gradients.cs) against their
/// twins (ReferenceKernels.Gradients.cs) and the exact sums.
/// </summary>
[Properties(Arbitrary = [typeof(Generators), typeof(BackwardGenerators)], MaxTest = 100)]
public sealed class KernelsGradientsTests
{
    private delegate void GradientFn(int hiddenSize, ReadOnlySpan<float> dGates, ReadOnlySpan<float> other, Span<float> accumulated);

    private delegate void BiasFn(ReadOnlySpan<float> dGates, Span<float> biasGradient);

    public static TheoryData<bool> KernelAndTwin => [false, true];

    // ---------------------------------------------------------------- GemmAccumulateUnchecked (internal: the trainer's projection products)

    /// <summary>
    /// The internal general product behind the public gradient kernels, at the row counts the projection needs (P, any):
    /// <c>C += A·B</c> with A row-major <c>[M, P]</c> (<c>dM = dH·W_hr</c>) or transposed <c>[P, M]</c> (<c>dW_hr += dHᵀ·M</c>),
    /// sizes 0, 1 and around every vector width, against the double sum within the gradient-sum bound; the guard floats
    /// around C stay intact.
    /// </summary>
    [Property(MaxTest = 150)]
    public void GemmAccumulateUnchecked_MatchesExactSums(byte mIndex, byte nIndex, byte pIndex, bool transposed, int seed)
    {
        int[] sizes = [0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65];
        int m = sizes[mIndex % sizes.Length], n = sizes[nIndex % sizes.Length], k = sizes[pIndex % sizes.Length];
        float[] a = Generators.Fill(m * k, Dist.Unit, seed), b = Generators.Fill(k * n, Dist.Unit, seed + 1), initial = Generators.Fill(m * n, Dist.Unit, seed + 2);
        var c = new Guarded(initial);
        int sam = transposed ? 1 : k, sap = transposed ? m : 1;
        Kernels.GemmAccumulateUnchecked(m, n, k, a, sam, sap, b, c.Span);
        c.AssertIntact($"C M = {m}, N = {n}, P = {k}");
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double exact = initial[(i * n) + j], magnitude = Math.Abs(initial[(i * n) + j]);
                for (int q = 0; q < k; q++)
                {
                    double term = (double)a[(i * sam) + (q * sap)] * b[(q * n) + j];
                    exact += term;
                    magnitude += Math.Abs(term);
                }

                Check.Near(exact, c.Span[(i * n) + j], Tolerances.GradientSum(k, magnitude), $"C M = {m}, N = {n}, P = {k}, transposed = {transposed}", (i * n) + j);
            }
        }
    }

    // ---------------------------------------------------------------- AccumulateWeightGradient / AccumulateBiasGradient

    [Property(MaxTest = 120)]
    public void AccumulateWeightGradient_MatchesReference(WeightGradientCase t)
    {
        float[] dz = t.DGates.Values, x = t.Input.Values;
        var grad = new Guarded(t.Initial.Values);
        Kernels.AccumulateWeightGradient(t.Hidden, dz, x, grad.Span);
        grad.AssertIntact("weightGradient");
        AssertWeightGradient(t.Hidden, t.Columns, t.Rows, dz, x, t.Initial.Values, grad.Span);
    }

    [Fact]
    public void AccumulateWeightGradient_AllLengths()
    {
        foreach (int hidden in (int[])[1, 2, 5])
        {
            for (int columns = 1; columns <= 70; columns++)
            {
                foreach (int rows in (int[])[0, 1, 3, 6])
                {
                    float[] dz = Generators.Fill(rows * 4 * hidden, Dist.Unit, columns);
                    float[] x = Generators.Fill(rows * columns, Dist.Unit, columns + 1);
                    float[] initial = Generators.Fill(4 * hidden * columns, Dist.Unit, columns + 2);
                    var grad = new Guarded(initial);
                    Kernels.AccumulateWeightGradient(hidden, dz, x, grad.Span);
                    grad.AssertIntact($"weightGradient H = {hidden}, K = {columns}, N = {rows}");
                    AssertWeightGradient(hidden, columns, rows, dz, x, initial, grad.Span);
                }
            }
        }
    }

    [Property(MaxTest = 100)]
    public void AccumulateBiasGradient_MatchesReference(WeightGradientCase t)
    {
        float[] dz = t.DGates.Values;
        int rows = 4 * t.Hidden;
        float[] initial = Generators.Fill(rows, Dist.Unit, t.Initial.Seed);
        var grad = new Guarded(initial);
        Kernels.AccumulateBiasGradient(dz, grad.Span);
        grad.AssertIntact("biasGradient");
        float[] reference = (float[])initial.Clone();
        ReferenceKernels.AccumulateBiasGradient(dz, reference);
        for (int r = 0; r < rows; r++)
        {
            double sum = initial[r], abs = Math.Abs(initial[r]);
            for (int b = 0; b < t.Rows; b++)
            {
                sum += dz[(b * rows) + r];
                abs += Math.Abs(dz[(b * rows) + r]);
            }

            Check.Near(sum, grad.Span[r], Tolerances.GradientSum(t.Rows, abs), "biasGradient", r);
            Assert.Equal((float)sum, reference[r]);
        }
    }

    [Theory]
    [MemberData(nameof(KernelAndTwin))]
    public void AccumulateWeightGradient_Throws(bool twin)
    {
        GradientFn fn = twin ? ReferenceKernels.AccumulateWeightGradient : Kernels.AccumulateWeightGradient;
        float[] dz = new float[2 * 8], x = new float[2 * 5], g = new float[8 * 5];
        Check.Throws<ArgumentOutOfRangeException>("hiddenSize", () => fn(0, dz, x, g));
        Check.Throws<ArgumentException>("dGates", () => fn(2, new float[15], x, g));
        Check.Throws<ArgumentException>("weightGradient", () => fn(2, dz, x, new float[39]));
        Check.Throws<ArgumentException>("input", () => fn(2, dz, new float[9], g));
        Check.Throws<ArgumentException>("weightGradient", () => fn(2, dz, g.AsSpan(0, 10), g));
        Check.Throws<ArgumentException>("weightGradient", () => fn(2, g.AsSpan(0, 16), x, g));

        BiasFn bias = twin ? ReferenceKernels.AccumulateBiasGradient : Kernels.AccumulateBiasGradient;
        Check.Throws<ArgumentException>("biasGradient", () => bias(dz, new float[6]));
        Check.Throws<ArgumentException>("biasGradient", () => bias(dz, Span<float>.Empty));
        Check.Throws<ArgumentException>("dGates", () => bias(new float[12], new float[8]));
        Check.Throws<ArgumentException>("biasGradient", () => bias(dz, dz.AsSpan(0, 8)));
    }

    // ---------------------------------------------------------------- AccumulateInputGradient

    [Property(MaxTest = 120)]
    public void AccumulateInputGradient_MatchesReference(InputGradientCase t)
    {
        var dest = new Guarded(t.Initial.Values);
        Kernels.AccumulateInputGradient(t.Hidden, t.DGates.Values, t.Weight.Values, dest.Span);
        dest.AssertIntact("destination");
        AssertInputGradient(t.Hidden, t.Columns, t.Batch, t.DGates.Values, t.Weight.Values, t.Initial.Values, dest.Span);
    }

    [Fact]
    public void AccumulateInputGradient_AllLengths()
    {
        foreach (int hidden in (int[])[1, 3, 16])
        {
            for (int columns = 1; columns <= 70; columns++)
            {
                foreach (int batch in (int[])[0, 1, 4, 5, 7])
                {
                    float[] dz = Generators.Fill(batch * 4 * hidden, Dist.Unit, columns);
                    float[] w = Generators.Fill(4 * hidden * columns, Dist.Unit, columns + 1);
                    float[] initial = Generators.Fill(batch * columns, Dist.Unit, columns + 2);
                    var dest = new Guarded(initial);
                    Kernels.AccumulateInputGradient(hidden, dz, w, dest.Span);
                    dest.AssertIntact($"destination H = {hidden}, K = {columns}, B = {batch}");
                    AssertInputGradient(hidden, columns, batch, dz, w, initial, dest.Span);
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(KernelAndTwin))]
    public void AccumulateInputGradient_Throws(bool twin)
    {
        GradientFn fn = twin ? ReferenceKernels.AccumulateInputGradient : Kernels.AccumulateInputGradient;
        float[] dz = new float[3 * 8], w = new float[8 * 5], d = new float[3 * 5];
        Check.Throws<ArgumentOutOfRangeException>("hiddenSize", () => fn(-1, dz, w, d));
        Check.Throws<ArgumentException>("dGates", () => fn(2, new float[23], w, d));
        Check.Throws<ArgumentException>("weight", () => fn(2, dz, new float[41], d));
        Check.Throws<ArgumentException>("inputGradient", () => fn(2, dz, w, new float[14]));
        Check.Throws<ArgumentException>("inputGradient", () => fn(2, dz, w, w.AsSpan(0, 15)));
        Check.Throws<ArgumentException>("inputGradient", () => fn(2, dz, w, dz.AsSpan(3, 15)));
    }

    // ---------------------------------------------------------------- allocation

    [Fact]
    public void GradientKernels_DoNotAllocate()
    {
        const int H = 37, I = 21, B = 3;
        float[] dz = Generators.Fill(B * 4 * H, Dist.Unit, 1);
        float[] x = Generators.Fill(B * I, Dist.Unit, 5), dWih = new float[4 * H * I], dB = new float[4 * H];
        float[] w = Generators.Fill(4 * H * I, Dist.Unit, 6), dx = new float[B * I];
        long bytes = Allocation.Measure(
            () =>
            {
                Kernels.AccumulateWeightGradient(H, dz, x, dWih);
                Kernels.AccumulateBiasGradient(dz, dB);
                Kernels.AccumulateInputGradient(H, dz, w, dx);
            },
            warmUp: 100,
            iterations: 500);
        Assert.Equal(0, bytes);
    }

    // ---------------------------------------------------------------- helpers

    private static void AssertWeightGradient(int hidden, int columns, int rowsN, float[] dz, float[] x, float[] initial, ReadOnlySpan<float> got)
    {
        int rows = 4 * hidden;
        float[] reference = (float[])initial.Clone();
        ReferenceKernels.AccumulateWeightGradient(hidden, dz, x, reference);
        for (int r = 0; r < rows; r++)
        {
            for (int k = 0; k < columns; k++)
            {
                double sum = initial[(r * columns) + k], abs = Math.Abs(sum);
                for (int b = 0; b < rowsN; b++)
                {
                    double term = (double)dz[(b * rows) + r] * x[(b * columns) + k];
                    sum += term;
                    abs += Math.Abs(term);
                }

                Check.Near(sum, got[(r * columns) + k], Tolerances.GradientSum(rowsN, abs), "weightGradient", (r * columns) + k);
                Assert.Equal((float)sum, reference[(r * columns) + k]);
            }
        }
    }

    private static void AssertInputGradient(int hidden, int columns, int batch, float[] dz, float[] w, float[] initial, ReadOnlySpan<float> got)
    {
        int rows = 4 * hidden;
        float[] reference = (float[])initial.Clone();
        ReferenceKernels.AccumulateInputGradient(hidden, dz, w, reference);
        for (int b = 0; b < batch; b++)
        {
            for (int k = 0; k < columns; k++)
            {
                double sum = initial[(b * columns) + k], abs = Math.Abs(sum);
                for (int r = 0; r < rows; r++)
                {
                    double term = (double)dz[(b * rows) + r] * w[(r * columns) + k];
                    sum += term;
                    abs += Math.Abs(term);
                }

                Check.Near(sum, got[(b * columns) + k], Tolerances.GradientSum(rows, abs), "inputGradient", (b * columns) + k);
                Assert.Equal((float)sum, reference[(b * columns) + k]);
            }
        }
    }
}
