using System.Globalization;
using Xunit;

namespace LstmKernels.Tests;

/// <summary>
/// An output buffer with sentinel floats before and after it: a kernel whose tail writes past the end (or
/// before the start) of its span changes a sentinel, which <see cref="AssertIntact"/> reports.
/// </summary>
internal sealed class Guarded
{
    public const int GuardLength = 32;

    // A quiet NaN with a payload that no arithmetic produces (the default NaN is 0xFFC00000): bitwise compared.
    private const int SentinelBits = 0x7FE5_5A5A;

    private readonly float[] storage;

    public Guarded(int length, float fill = 0f)
    {
        Length = length;
        storage = new float[length + (2 * GuardLength)];
        storage.AsSpan().Fill(BitConverter.Int32BitsToSingle(SentinelBits));
        Span.Fill(fill);
    }

    public Guarded(ReadOnlySpan<float> values)
        : this(values.Length)
    {
        values.CopyTo(Span);
    }

    public int Length { get; }

    public Span<float> Span => storage.AsSpan(GuardLength, Length);

    public float[] ToArray() => Span.ToArray();

    public void AssertIntact(string what)
    {
        for (int k = 0; k < GuardLength; k++)
        {
            int before = BitConverter.SingleToInt32Bits(storage[k]);
            int after = BitConverter.SingleToInt32Bits(storage[GuardLength + Length + k]);
            Assert.True(before == SentinelBits, Invariant($"{what}: wrote {k - GuardLength} before the start of its {Length}-float span"));
            Assert.True(after == SentinelBits, Invariant($"{what}: wrote element {Length + k} of a {Length}-float span (past the end)"));
        }
    }

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}

/// <summary>Assertions shared by the test classes.</summary>
/// <summary>Peepholes as users give them: with the weights (public API only).</summary>
internal static class Peep
{
    /// <summary>A copy of <paramref name="p"/> with the peepholes <c>[P_i | P_f | P_o]</c> <paramref name="values"/>.</summary>
    public static LstmParameters With(LstmParameters p, ReadOnlySpan<float> values)
    {
        var q = new LstmParameters(p.InputSize, p.HiddenSize, peepholes: true);
        p.WeightIh.CopyTo(q.WeightIh);
        p.WeightHh.CopyTo(q.WeightHh);
        p.Bias.CopyTo(q.Bias);
        values.CopyTo(q.Peepholes);
        return q;
    }
}

internal static class Check
{
    /// <summary>Fails with index, values and bound when |got − expected| exceeds bound (NaN in got fails).</summary>
    public static void Near(double expected, float got, double bound, string what, int index)
    {
        double error = Math.Abs(got - expected);
        if (!(error <= bound))
        {
            Assert.Fail(string.Create(
                CultureInfo.InvariantCulture,
                $"{what}[{index}]: got {got:R}, expected {expected:R}, |error| = {error:E3} > bound {bound:E3} (path {Kernels.ActivePath})"));
        }
    }

    /// <summary>Bitwise equality of two float spans (NaNs with the same bits are equal).</summary>
    public static void BitwiseEqual(ReadOnlySpan<float> expected, ReadOnlySpan<float> got, string what)
    {
        Assert.Equal(expected.Length, got.Length);
        for (int k = 0; k < expected.Length; k++)
        {
            if (BitConverter.SingleToInt32Bits(expected[k]) != BitConverter.SingleToInt32Bits(got[k]))
            {
                Assert.Fail(string.Create(
                    CultureInfo.InvariantCulture,
                    $"{what}[{k}]: got {got[k]:R} (0x{BitConverter.SingleToInt32Bits(got[k]):X8}), expected {expected[k]:R} (0x{BitConverter.SingleToInt32Bits(expected[k]):X8})"));
            }
        }
    }

    /// <summary>Runs <paramref name="call"/> and checks the exception type and ParamName; returns the exception.</summary>
    public static TException Throws<TException>(string paramName, Action call)
        where TException : ArgumentException
    {
        TException e = Assert.Throws<TException>(call);
        Assert.Equal(paramName, e.ParamName);
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
        return e;
    }
}

/// <summary>Measures managed allocation on the current thread.</summary>
internal static class Allocation
{
    /// <summary>
    /// Runs <paramref name="step"/> <paramref name="warmUp"/> times (JIT tiers, thread-static scratch) and then
    /// returns the bytes allocated on this thread by <paramref name="iterations"/> more runs: the smallest of up to
    /// three such windows.
    /// </summary>
    /// <remarks>
    /// Why three: under the parallel test run, tiered compilation may install tier-1 code (and the runtime allocate a
    /// few bytes for it) at any moment, in any window. A real per-call allocation shows in every window, hundreds of
    /// times over, so the minimum still catches it; a one-off runtime event shows in at most one.
    /// </remarks>
    public static long Measure(Action step, int warmUp = 300, int iterations = 3000)
    {
        for (int k = 0; k < warmUp; k++)
        {
            step();
        }

        long least = long.MaxValue;
        for (int window = 0; window < 3 && least > 0; window++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int k = 0; k < iterations; k++)
            {
                step();
            }

            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        return least;
    }
}

/// <summary>
/// A gate-by-gate LSTM step written straight from PyTorch's nn.LSTMCell equations on <see cref="LstmParameters"/>'
/// arrays, in double, independent of the library's reference:
/// i = σ(W_ii x + b_i + W_hi h), f = σ(W_if x + b_f + W_hf h), g = tanh(W_ig x + b_g + W_hg h),
/// o = σ(W_io x + b_o + W_ho h), c' = f ⊙ c + i ⊙ g, h' = o ⊙ tanh(c').
/// </summary>
internal static class PyTorchEquations
{
    public static void Step(LstmParameters p, int batch, ReadOnlySpan<double> x, ReadOnlySpan<double> h, ReadOnlySpan<double> c, Span<double> hNext, Span<double> cNext)
    {
        int n = p.InputSize;
        int m = p.HiddenSize;
        double[] newH = new double[batch * m];
        double[] newC = new double[batch * m];
        for (int b = 0; b < batch; b++)
        {
            for (int j = 0; j < m; j++)
            {
                double i = Sigmoid(Gate(p, 0, j, x.Slice(b * n, n), h.Slice(b * m, m)));
                double f = Sigmoid(Gate(p, 1, j, x.Slice(b * n, n), h.Slice(b * m, m)));
                double g = Math.Tanh(Gate(p, 2, j, x.Slice(b * n, n), h.Slice(b * m, m)));
                double o = Sigmoid(Gate(p, 3, j, x.Slice(b * n, n), h.Slice(b * m, m)));
                double cell = (f * c[(b * m) + j]) + (i * g);
                newC[(b * m) + j] = cell;
                newH[(b * m) + j] = o * Math.Tanh(cell);
            }
        }

        newH.CopyTo(hNext);
        newC.CopyTo(cNext);
    }

    /// <summary>Pre-activation of unit <paramref name="unit"/> of gate block <paramref name="block"/> (0 i, 1 f, 2 g, 3 o) for one row.</summary>
    public static double Gate(LstmParameters p, int block, int unit, ReadOnlySpan<double> x, ReadOnlySpan<double> h)
    {
        int n = p.InputSize;
        int m = p.HiddenSize;
        int row = (block * m) + unit;
        double z = p.Bias[row];
        for (int k = 0; k < n; k++)
        {
            z += p.WeightIh[(row * n) + k] * x[k];
        }

        for (int k = 0; k < m; k++)
        {
            z += p.WeightHh[(row * m) + k] * h[k];
        }

        return z;
    }

    public static double Sigmoid(double z) => 1 / (1 + Math.Exp(-z));

    public static double[] ToDouble(ReadOnlySpan<float> values)
    {
        double[] d = new double[values.Length];
        for (int k = 0; k < d.Length; k++)
        {
            d[k] = values[k];
        }

        return d;
    }
}
