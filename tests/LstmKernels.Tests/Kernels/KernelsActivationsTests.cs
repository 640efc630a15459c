using FsCheck.Xunit;
using LstmKernels.Reference;
using Xunit;

namespace LstmKernels.Tests;

/// <summary>Kernels.Sigmoid and Kernels.Tanh (Kernels.Activations.cs) against their twins and the exact values.</summary>
[Properties(Arbitrary = [typeof(Generators)], MaxTest = 200)]
public sealed class KernelsActivationsTests
{
    /// <summary>Every special value of the activations' contract (and the edges of exp's clamp and tanh's branch).</summary>
    private static readonly float[] SpecialValues =
    [
        0f, -0f, float.Epsilon, -float.Epsilon, 1e-40f, -1e-40f, 1.1754942e-38f, -1.1754942e-38f, 1e-30f, -1e-30f,
        1e-10f, -1e-10f, 2.4e-4f, -2.4e-4f, 0.5f, -0.5f, 0.62499994f, -0.62499994f, 0.625f, -0.625f, 0.62500006f, -0.62500006f,
        1f, -1f, 9f, -9f, 10f, -10f, 20f, -20f, 44.4f, -44.4f, 87.3f, -87.3f, 88f, -88f, 88.7f, -88.7f, 89f, -89f,
        100f, -100f, 1e4f, -1e4f, 1e30f, -1e30f, float.MaxValue, float.MinValue, float.PositiveInfinity, float.NegativeInfinity,
        float.NaN, -float.NaN,
    ];

    private delegate void Unary(ReadOnlySpan<float> x, Span<float> destination);

    private delegate double Exact(double x);

    /// <summary>false: the kernel; true: its reference twin (same checks, same exceptions).</summary>
    public static TheoryData<bool> KernelAndTwin => [false, true];

    [Property]
    public void Sigmoid_MatchesReference(UnaryCase c) =>
        MatchesReference(Kernels.Sigmoid, ReferenceKernels.Sigmoid, ReferenceKernels.Logistic, c.X.Values, "Sigmoid", 0, 1);

    [Property]
    public void Tanh_MatchesReference(UnaryCase c) =>
        MatchesReference(Kernels.Tanh, ReferenceKernels.Tanh, Math.Tanh, c.X.Values, "Tanh", -1, 1);

    [Fact]
    public void Sigmoid_AllLengths() => AllLengths("Sigmoid");

    [Fact]
    public void Tanh_AllLengths() => AllLengths("Tanh");

    private static void AllLengths(string name)
    {
        (Unary kernel, Exact exact) = Pick(name);
        for (int n = 0; n <= 80; n++)
        {
            float[] x = Generators.Fill(n, Dist.Mixed, 1000 + n);
            var input = new Guarded(x);
            var output = new Guarded(n, fill: 12345f);
            kernel(input.Span, output.Span);
            output.AssertIntact($"{name} destination, n = {n}");
            input.AssertIntact($"{name} x, n = {n}");
            Check.BitwiseEqual(x, input.Span, $"{name} x after the call (n = {n})");
            for (int k = 0; k < n; k++)
            {
                double e = exact(x[k]);
                Check.Near(e, output.Span[k], Tolerances.Activation(e), $"{name} n = {n}", k);
            }

            // In place through the same guarded buffer: the tail must not write past the end either.
            kernel(input.Span, input.Span);
            input.AssertIntact($"{name} in place, n = {n}");
            Check.BitwiseEqual(output.Span, input.Span, $"{name} in place (n = {n})");
        }
    }

    /// <summary>A value gets the same bits alone (the tail path), at any position, and in any span length.</summary>
    [Property(MaxTest = 100)]
    public void Sigmoid_SameBitsAnyLengthOrPosition(UnaryCase c) => SameBitsAnyLengthOrPosition(Kernels.Sigmoid, c.X.Values);

    [Property(MaxTest = 100)]
    public void Tanh_SameBitsAnyLengthOrPosition(UnaryCase c) => SameBitsAnyLengthOrPosition(Kernels.Tanh, c.X.Values);

    [Property(MaxTest = 100)]
    public void Sigmoid_InPlace(UnaryCase c) => InPlace(Kernels.Sigmoid, c.X.Values);

    [Property(MaxTest = 100)]
    public void Tanh_InPlace(UnaryCase c) => InPlace(Kernels.Tanh, c.X.Values);

    [Fact]
    public void Sigmoid_SpecialValues()
    {
        float[] got = ApplyAtEveryPosition(Kernels.Sigmoid, SpecialValues);
        for (int k = 0; k < SpecialValues.Length; k++)
        {
            float x = SpecialValues[k];
            float y = got[k];
            if (float.IsNaN(x))
            {
                Assert.True(float.IsNaN(y), $"Sigmoid(NaN) = {y}, expected NaN");
                continue;
            }

            Assert.True(y is >= 0f and <= 1f, $"Sigmoid({x:R}) = {y:R} is outside [0, 1]");
            double e = float.IsPositiveInfinity(x) ? 1 : float.IsNegativeInfinity(x) ? 0 : ReferenceKernels.Logistic(x);
            Check.Near(e, y, Tolerances.Activation(e), $"Sigmoid({x:R})", k);
        }

        Assert.Equal(1f, Apply(Kernels.Sigmoid, float.PositiveInfinity));
        Assert.Equal(1f, Apply(Kernels.Sigmoid, float.MaxValue));
        Assert.InRange(Apply(Kernels.Sigmoid, float.NegativeInfinity), 0f, 1e-38f);
        Assert.InRange(Apply(Kernels.Sigmoid, float.MinValue), 0f, 1e-38f);
        Assert.Equal(0.5f, Apply(Kernels.Sigmoid, -0f));
        Assert.Equal(0.5f, Apply(Kernels.Sigmoid, float.Epsilon));
    }

    [Fact]
    public void Tanh_SpecialValues()
    {
        float[] got = ApplyAtEveryPosition(Kernels.Tanh, SpecialValues);
        for (int k = 0; k < SpecialValues.Length; k++)
        {
            float x = SpecialValues[k];
            float y = got[k];
            if (float.IsNaN(x))
            {
                Assert.True(float.IsNaN(y), $"Tanh(NaN) = {y}, expected NaN");
                continue;
            }

            Assert.True(y is >= -1f and <= 1f, $"Tanh({x:R}) = {y:R} is outside [−1, 1]");
            Assert.True(float.IsNegative(x) == float.IsNegative(y), $"Tanh({x:R}) = {y:R} has the wrong sign");
            Assert.True((x == 0) == (y == 0), $"Tanh({x:R}) = {y:R}: only ±0 may give ±0 (tiny inputs keep their value)");
            double e = float.IsInfinity(x) ? Math.Sign(x) : Math.Tanh(x);
            Check.Near(e, y, Tolerances.Activation(e), $"Tanh({x:R})", k);
        }

        Assert.Equal(1f, Apply(Kernels.Tanh, float.PositiveInfinity));
        Assert.Equal(-1f, Apply(Kernels.Tanh, float.NegativeInfinity));
        Assert.Equal(1f, Apply(Kernels.Tanh, float.MaxValue));
        Assert.Equal(-1f, Apply(Kernels.Tanh, float.MinValue));
        Assert.Equal(0x8000_0000u, BitConverter.SingleToUInt32Bits(Apply(Kernels.Tanh, -0f)));
        Assert.Equal(0u, BitConverter.SingleToUInt32Bits(Apply(Kernels.Tanh, 0f)));
    }

    /// <summary>
    /// The only place FsCheck's default float generator is used: it yields NaN, ±∞, ±0, extremes and subnormals.
    /// Sigmoid stays in [0, 1] and tanh in [−1, 1], NaN exactly where the input is NaN, tanh is odd (bitwise).
    /// </summary>
    [Property(MaxTest = 200)]
    public void Activations_SpecialValues_AnyFloat(float[] x)
    {
        float[] s = new float[x.Length];
        float[] t = new float[x.Length];
        float[] negated = Array.ConvertAll(x, v => -v);
        float[] tNegated = new float[x.Length];
        Kernels.Sigmoid(x, s);
        Kernels.Tanh(x, t);
        Kernels.Tanh(negated, tNegated);
        for (int k = 0; k < x.Length; k++)
        {
            Assert.Equal(float.IsNaN(x[k]), float.IsNaN(s[k]));
            Assert.Equal(float.IsNaN(x[k]), float.IsNaN(t[k]));
            if (!float.IsNaN(x[k]))
            {
                Assert.InRange(s[k], 0f, 1f);
                Assert.InRange(t[k], -1f, 1f);
                Assert.Equal(BitConverter.SingleToInt32Bits(-t[k]), BitConverter.SingleToInt32Bits(tNegated[k]));
            }
        }
    }

    /// <summary>Every 4099th bit pattern (about a million floats spread over the whole range) within the bound.</summary>
    [Fact]
    public void Sigmoid_SweepOfAllFloats() => SweepOfAllFloats("Sigmoid");

    [Fact]
    public void Tanh_SweepOfAllFloats() => SweepOfAllFloats("Tanh");

    private static void SweepOfAllFloats(string name)
    {
        (Unary kernel, Exact exact) = Pick(name);
        const int Stride = 4099;
        float[] x = new float[(int)(0x1_0000_0000L / Stride) + 1];
        for (int k = 0; k < x.Length; k++)
        {
            x[k] = BitConverter.UInt32BitsToSingle((uint)((long)k * Stride));
        }

        float[] y = new float[x.Length];
        kernel(x, y);
        (float low, float high) = name == "Sigmoid" ? (0f, 1f) : (-1f, 1f);
        for (int k = 0; k < x.Length; k++)
        {
            if (float.IsNaN(x[k]))
            {
                Assert.True(float.IsNaN(y[k]), $"{name}({x[k]}) = {y[k]}, expected NaN");
                continue;
            }

            Assert.True(y[k] >= low && y[k] <= high, $"{name}({x[k]:R}) = {y[k]:R} out of range");
            double e = float.IsInfinity(x[k]) ? (name == "Sigmoid" ? (x[k] > 0 ? 1 : 0) : Math.Sign(x[k])) : exact(x[k]);
            Check.Near(e, y[k], Tolerances.Activation(e), $"{name}({x[k]:R})", k);
        }
    }

    [Fact]
    public void Sigmoid_EmptySpansAreAllowed() => EmptySpansAreAllowed("Sigmoid");

    [Fact]
    public void Tanh_EmptySpansAreAllowed() => EmptySpansAreAllowed("Tanh");

    private static void EmptySpansAreAllowed(string name)
    {
        (Unary kernel, _) = Pick(name);
        kernel(default, default);
        kernel(ReadOnlySpan<float>.Empty, Span<float>.Empty);
        kernel((float[]?)null, (float[]?)null);
        Unary twin = name == "Sigmoid" ? ReferenceKernels.Sigmoid : ReferenceKernels.Tanh;
        twin(default, default);

        // An empty slice of a real buffer touches nothing.
        var output = new Guarded(0);
        kernel(new float[3].AsSpan(1, 0), output.Span);
        output.AssertIntact($"{name} empty");
    }

    [Theory]
    [MemberData(nameof(KernelAndTwin))]
    public void Sigmoid_ThrowsOnLengthMismatch(bool twin) => ThrowsOnLengthMismatch("Sigmoid", twin);

    [Theory]
    [MemberData(nameof(KernelAndTwin))]
    public void Tanh_ThrowsOnLengthMismatch(bool twin) => ThrowsOnLengthMismatch("Tanh", twin);

    private static void ThrowsOnLengthMismatch(string name, bool twin)
    {
        Unary f = Pick(name, twin);
        Check.Throws<ArgumentException>("destination", () => f(new float[5], new float[4]));
        Check.Throws<ArgumentException>("destination", () => f(new float[5], new float[6]));
        Check.Throws<ArgumentException>("destination", () => f(new float[17], new float[16]));
        Check.Throws<ArgumentException>("destination", () => f((float[]?)null, new float[1]));
        Check.Throws<ArgumentException>("destination", () => f(new float[1], (float[]?)null));
    }

    [Theory]
    [MemberData(nameof(KernelAndTwin))]
    public void Sigmoid_ThrowsOnPartialOverlap(bool twin) => ThrowsOnPartialOverlap("Sigmoid", twin);

    [Theory]
    [MemberData(nameof(KernelAndTwin))]
    public void Tanh_ThrowsOnPartialOverlap(bool twin) => ThrowsOnPartialOverlap("Tanh", twin);

    private static void ThrowsOnPartialOverlap(string name, bool twin)
    {
        Unary f = Pick(name, twin);
        float[] buffer = Generators.Fill(64, Dist.Unit, 7);
        float[] before = (float[])buffer.Clone();
        Check.Throws<ArgumentException>("destination", () => f(buffer.AsSpan(0, 32), buffer.AsSpan(1, 32)));
        Check.Throws<ArgumentException>("destination", () => f(buffer.AsSpan(1, 32), buffer.AsSpan(0, 32)));
        Check.Throws<ArgumentException>("destination", () => f(buffer.AsSpan(0, 32), buffer.AsSpan(31, 32)));
        Check.Throws<ArgumentException>("destination", () => f(buffer.AsSpan(16, 17), buffer.AsSpan(0, 17)));

        // Rejected before anything is written.
        Check.BitwiseEqual(before, buffer, $"{name} buffer after rejected calls");

        // Adjacent (touching, not overlapping) spans are fine.
        f(buffer.AsSpan(0, 32), buffer.AsSpan(32, 32));
    }

    [Fact]
    public void Sigmoid_DoesNotAllocate() => DoesNotAllocate("Sigmoid");

    [Fact]
    public void Tanh_DoesNotAllocate() => DoesNotAllocate("Tanh");

    private static void DoesNotAllocate(string name)
    {
        (Unary kernel, _) = Pick(name);
        float[] x = Generators.Fill(1000, Dist.Mixed, 3);
        float[] odd = Generators.Fill(37, Dist.Wide, 4);
        float[] y = new float[1000];
        float[] yOdd = new float[37];
        long bytes = Allocation.Measure(() =>
        {
            kernel(x, y);
            kernel(odd, yOdd);
            kernel(yOdd, yOdd);
        });
        Assert.Equal(0, bytes);
    }

    private static (Unary Kernel, Exact Exact) Pick(string name) =>
        name == "Sigmoid" ? (Kernels.Sigmoid, ReferenceKernels.Logistic) : (Kernels.Tanh, Math.Tanh);

    private static Unary Pick(string name, bool twin) =>
        (name, twin) switch
        {
            ("Sigmoid", false) => Kernels.Sigmoid,
            ("Sigmoid", true) => ReferenceKernels.Sigmoid,
            ("Tanh", false) => Kernels.Tanh,
            _ => ReferenceKernels.Tanh,
        };

    private static void MatchesReference(Unary kernel, Unary twin, Exact exact, float[] x, string name, float low, float high)
    {
        var got = new Guarded(x.Length);
        float[] reference = new float[x.Length];
        kernel(x, got.Span);
        twin(x, reference);
        got.AssertIntact(name);
        for (int k = 0; k < x.Length; k++)
        {
            double e = exact(x[k]);
            float y = got.Span[k];
            Assert.True(y >= low && y <= high, $"{name}({x[k]:R}) = {y:R} is outside [{low}, {high}]");
            Check.Near(e, y, Tolerances.Activation(e), $"{name}({x[k]:R})", k);

            // The twin rounds the exact value once.
            Assert.Equal((float)e, reference[k]);
        }
    }

    private static void SameBitsAnyLengthOrPosition(Unary kernel, float[] x)
    {
        float[] full = new float[x.Length];
        kernel(x, full);
        float[] one = new float[1];
        for (int k = 0; k < x.Length; k++)
        {
            kernel(x.AsSpan(k, 1), one);
            Check.BitwiseEqual(full.AsSpan(k, 1), one, $"element {k} alone vs in a span of {x.Length}");
        }

        // Shifted by one (every element moves between the vector body and the tail) and truncated.
        if (x.Length > 1)
        {
            float[] shifted = new float[x.Length - 1];
            kernel(x.AsSpan(1), shifted);
            Check.BitwiseEqual(full.AsSpan(1), shifted, "shifted by one");
            kernel(x.AsSpan(0, x.Length - 1), shifted);
            Check.BitwiseEqual(full.AsSpan(0, x.Length - 1), shifted, "without the last element");
        }
    }

    private static void InPlace(Unary kernel, float[] x)
    {
        float[] separate = new float[x.Length];
        kernel(x, separate);
        float[] buffer = (float[])x.Clone();
        kernel(buffer, buffer);
        Check.BitwiseEqual(separate, buffer, "in place vs separate buffers");
    }

    private static float Apply(Unary kernel, float x)
    {
        float[] y = new float[1];
        kernel([x], y);
        return y[0];
    }

    /// <summary>Each value at every position of a 37-float span (vector body and tail), checking all positions agree.</summary>
    private static float[] ApplyAtEveryPosition(Unary kernel, float[] values)
    {
        float[] result = new float[values.Length];
        float[] x = Generators.Fill(37, Dist.Unit, 11);
        float[] y = new float[37];
        for (int k = 0; k < values.Length; k++)
        {
            result[k] = Apply(kernel, values[k]);
            for (int position = 0; position < x.Length; position++)
            {
                float saved = x[position];
                x[position] = values[k];
                kernel(x, y);
                Check.BitwiseEqual([result[k]], [y[position]], $"f({values[k]:R}) at position {position} of 37");
                x[position] = saved;
            }
        }

        return result;
    }
}
