using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using LstmKernels.Internal;

namespace LstmKernels;

public static partial class Kernels
{
    /// <summary>
    /// Gate projection for the four gates at once, for a batch of B rows:
    /// <c>gates[b, r] = bias[r] + Σₖ x[b, k]·weightIh[r, k] + Σₖ h[b, k]·weightHh[r, k]</c>, i.e.
    /// <c>z = x·Wᵢₕᵀ + h·Wₕₕᵀ + b</c>. B = 1 is a matrix-vector product, B &gt; 1 a matrix-matrix product.
    /// </summary>
    /// <param name="x">Inputs <c>[B, I]</c>.</param>
    /// <param name="h">Previous hidden state <c>[B, H]</c>.</param>
    /// <param name="weightIh">Input weights <c>[4H, I]</c>, PyTorch's <c>weight_ih</c> (rows in gate order i, f, g, o).</param>
    /// <param name="weightHh">Recurrent weights <c>[4H, H]</c>, PyTorch's <c>weight_hh</c>.</param>
    /// <param name="bias">The summed bias <c>[4H]</c>; its length sets H.</param>
    /// <param name="gates">Pre-activations <c>[B, 4H]</c>; its length sets B. Must not overlap any input.</param>
    /// <remarks>
    /// Shapes come from the span lengths: H = bias.Length / 4, I = weightIh.Length / 4H, B = gates.Length / 4H.
    /// This is the unfused route in PyTorch's row-major layout; <see cref="LstmCell"/> uses packed weights and a
    /// fused step instead. Each sum is accumulated in float over vector lanes; the result is within
    /// (I + H + 2)·2⁻²⁴·(|b| + Σ|x·w| + Σ|h·w|) of the exact value. An output whose float sum overflows (finite
    /// inputs whose products or partial sums exceed float's range) is recomputed in double as
    /// <see cref="Reference.ReferenceKernels.GateProjection"/> does: it is the exact sum rounded once, ±∞ only when
    /// that exceeds float's range, and never NaN from finite inputs.
    /// </remarks>
    /// <exception cref="ArgumentException">A length does not fit the shapes above, or <paramref name="gates"/> overlaps an input.</exception>
    public static void GateProjection(
        ReadOnlySpan<float> x, ReadOnlySpan<float> h, ReadOnlySpan<float> weightIh, ReadOnlySpan<float> weightHh, ReadOnlySpan<float> bias, Span<float> gates)
    {
        ProjectionShape shape = ProjectionShape.Validate(x, h, weightIh, weightHh, bias, gates);
        var action = new ProjectionAction { Shape = shape, X = x, H = h, WeightIh = weightIh, WeightHh = weightHh, Bias = bias, Gates = gates };
        SimdDispatch.RunVector(ref action);

        // Overflow guard: a float sum that overflowed (a product or partial sum beyond float's range, docs/numerics.md)
        // is ±∞ or NaN, never finite again, so one O(B·4H) scan finds every output to redo in double.
        if (!gates.IsEmpty && !float.IsFinite(TensorPrimitives.MaxMagnitude(gates)))
        {
            ExactNonFinite(shape, x, h, weightIh, weightHh, bias, gates);
        }
    }

    /// <summary>Recomputes every non-finite output of a projection as its reference twin does (double, rounded once).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ExactNonFinite(
        ProjectionShape s, ReadOnlySpan<float> x, ReadOnlySpan<float> h, ReadOnlySpan<float> wIh, ReadOnlySpan<float> wHh, ReadOnlySpan<float> bias, Span<float> gates)
    {
        int rows = bias.Length;
        for (int b = 0; b < s.Batch; b++)
        {
            for (int r = 0; r < rows; r++)
            {
                ref float g = ref gates[(b * rows) + r];
                if (!float.IsFinite(g))
                {
                    g = OverflowGuard.Exact(
                        bias[r], x.Slice(b * s.Input, s.Input), wIh.Slice(r * s.Input, s.Input), h.Slice(b * s.Hidden, s.Hidden), wHh.Slice(r * s.Hidden, s.Hidden));
                }
            }
        }
    }

    private ref struct ProjectionAction : IVectorAction
    {
        public ProjectionShape Shape;
        public ReadOnlySpan<float> X;
        public ReadOnlySpan<float> H;
        public ReadOnlySpan<float> WeightIh;
        public ReadOnlySpan<float> WeightHh;
        public ReadOnlySpan<float> Bias;
        public Span<float> Gates;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Run<TOps, TVec>()
            where TOps : struct, ISimd<TVec>
            where TVec : struct => ProjectionCore<TOps, TVec>(Shape, X, H, WeightIh, WeightHh, Bias, Gates);
    }

    private static void ProjectionCore<TOps, TVec>(
        ProjectionShape s, ReadOnlySpan<float> x, ReadOnlySpan<float> h, ReadOnlySpan<float> wIh, ReadOnlySpan<float> wHh, ReadOnlySpan<float> bias, Span<float> gates)
        where TOps : struct, ISimd<TVec>
        where TVec : struct
    {
        int rows = 4 * s.Hidden;
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float rh = ref MemoryMarshal.GetReference(h);
        ref float rwi = ref MemoryMarshal.GetReference(wIh);
        ref float rwh = ref MemoryMarshal.GetReference(wHh);
        ref float rg = ref MemoryMarshal.GetReference(gates);
        int b = 0;

        // Four batch rows at a time share every loaded weight vector (matrix-matrix); the rest go one by one.
        for (; b <= s.Batch - 4; b += 4)
        {
            for (int r = 0; r < rows; r++)
            {
                Dot4<TOps, TVec>(ref Unsafe.Add(ref rwi, r * s.Input), ref Unsafe.Add(ref rx, b * s.Input), s.Input, s.Input, out float x0, out float x1, out float x2, out float x3);
                Dot4<TOps, TVec>(ref Unsafe.Add(ref rwh, r * s.Hidden), ref Unsafe.Add(ref rh, b * s.Hidden), s.Hidden, s.Hidden, out float h0, out float h1, out float h2, out float h3);
                float br = bias[r];
                Unsafe.Add(ref rg, (b * rows) + r) = br + x0 + h0;
                Unsafe.Add(ref rg, ((b + 1) * rows) + r) = br + x1 + h1;
                Unsafe.Add(ref rg, ((b + 2) * rows) + r) = br + x2 + h2;
                Unsafe.Add(ref rg, ((b + 3) * rows) + r) = br + x3 + h3;
            }
        }

        for (; b < s.Batch; b++)
        {
            for (int r = 0; r < rows; r++)
            {
                float sx = Dot<TOps, TVec>(ref Unsafe.Add(ref rwi, r * s.Input), ref Unsafe.Add(ref rx, b * s.Input), s.Input);
                float sh = Dot<TOps, TVec>(ref Unsafe.Add(ref rwh, r * s.Hidden), ref Unsafe.Add(ref rh, b * s.Hidden), s.Hidden);
                Unsafe.Add(ref rg, (b * rows) + r) = bias[r] + sx + sh;
            }
        }
    }

    /// <summary>Σ a[k]·b[k] over n floats, four independent vector accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Dot<TOps, TVec>(ref float a, ref float b, int n)
        where TOps : struct, ISimd<TVec>
        where TVec : struct
    {
        int c = TOps.Count;
        TVec a0 = TOps.Create(0f), a1 = a0, a2 = a0, a3 = a0;
        int k = 0;
        for (; k <= n - (4 * c); k += 4 * c)
        {
            a0 = TOps.MultiplyAdd(TOps.Load(ref Unsafe.Add(ref a, k)), TOps.Load(ref Unsafe.Add(ref b, k)), a0);
            a1 = TOps.MultiplyAdd(TOps.Load(ref Unsafe.Add(ref a, k + c)), TOps.Load(ref Unsafe.Add(ref b, k + c)), a1);
            a2 = TOps.MultiplyAdd(TOps.Load(ref Unsafe.Add(ref a, k + (2 * c))), TOps.Load(ref Unsafe.Add(ref b, k + (2 * c))), a2);
            a3 = TOps.MultiplyAdd(TOps.Load(ref Unsafe.Add(ref a, k + (3 * c))), TOps.Load(ref Unsafe.Add(ref b, k + (3 * c))), a3);
        }

        for (; k <= n - c; k += c)
        {
            a0 = TOps.MultiplyAdd(TOps.Load(ref Unsafe.Add(ref a, k)), TOps.Load(ref Unsafe.Add(ref b, k)), a0);
        }

        float sum = TOps.Sum(TOps.Add(TOps.Add(a0, a1), TOps.Add(a2, a3)));
        for (; k < n; k++)
        {
            sum += Unsafe.Add(ref a, k) * Unsafe.Add(ref b, k);
        }

        return sum;
    }

    /// <summary>Four dot products of one weight row <paramref name="w"/> with four rows of v (row stride <paramref name="stride"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Dot4<TOps, TVec>(ref float w, ref float v, int n, int stride, out float s0, out float s1, out float s2, out float s3)
        where TOps : struct, ISimd<TVec>
        where TVec : struct
    {
        int c = TOps.Count;
        ref float v0 = ref v;
        ref float v1 = ref Unsafe.Add(ref v, stride);
        ref float v2 = ref Unsafe.Add(ref v, 2 * stride);
        ref float v3 = ref Unsafe.Add(ref v, 3 * stride);
        TVec a0 = TOps.Create(0f), a1 = a0, a2 = a0, a3 = a0;
        int k = 0;
        for (; k <= n - c; k += c)
        {
            TVec wk = TOps.Load(ref Unsafe.Add(ref w, k));
            a0 = TOps.MultiplyAdd(wk, TOps.Load(ref Unsafe.Add(ref v0, k)), a0);
            a1 = TOps.MultiplyAdd(wk, TOps.Load(ref Unsafe.Add(ref v1, k)), a1);
            a2 = TOps.MultiplyAdd(wk, TOps.Load(ref Unsafe.Add(ref v2, k)), a2);
            a3 = TOps.MultiplyAdd(wk, TOps.Load(ref Unsafe.Add(ref v3, k)), a3);
        }

        s0 = TOps.Sum(a0);
        s1 = TOps.Sum(a1);
        s2 = TOps.Sum(a2);
        s3 = TOps.Sum(a3);
        for (; k < n; k++)
        {
            float wk = Unsafe.Add(ref w, k);
            s0 += wk * Unsafe.Add(ref v0, k);
            s1 += wk * Unsafe.Add(ref v1, k);
            s2 += wk * Unsafe.Add(ref v2, k);
            s3 += wk * Unsafe.Add(ref v3, k);
        }
    }
}

/// <summary>The shape of a gate projection, read from span lengths and checked once; shared with the reference twin.</summary>
internal readonly record struct ProjectionShape(int Batch, int Input, int Hidden)
{
    public static ProjectionShape Validate(
        ReadOnlySpan<float> x, ReadOnlySpan<float> h, ReadOnlySpan<float> weightIh, ReadOnlySpan<float> weightHh, ReadOnlySpan<float> bias, Span<float> gates)
    {
        if (bias.Length == 0 || bias.Length % 4 != 0)
        {
            ThrowHelper.Argument(nameof(bias), $"'bias' has length {bias.Length}; it must hold 4·H values with H ≥ 1 (gate order i, f, g, o).");
        }

        int hidden = bias.Length / 4;
        int rows = bias.Length;
        if (weightIh.Length % rows != 0)
        {
            ThrowHelper.NotMultiple(nameof(weightIh), weightIh.Length, rows, $"[4H, I] with H = {hidden} from 'bias'");
        }

        int input = weightIh.Length / rows;
        ThrowHelper.CheckLength(weightHh.Length, (long)rows * hidden, nameof(weightHh), "[4H, H] with H = bias.Length / 4");
        if (gates.Length % rows != 0)
        {
            ThrowHelper.NotMultiple(nameof(gates), gates.Length, rows, $"[B, 4H] with H = {hidden} from 'bias'");
        }

        int batch = gates.Length / rows;
        ThrowHelper.CheckLength(x.Length, (long)batch * input, nameof(x), "[B, I] with B = gates.Length / 4H, I = weightIh.Length / 4H");
        ThrowHelper.CheckLength(h.Length, (long)batch * hidden, nameof(h), "[B, H] with B = gates.Length / 4H, H = bias.Length / 4");
        Aliasing.Disjoint(gates, x, nameof(gates), nameof(x));
        Aliasing.Disjoint(gates, h, nameof(gates), nameof(h));
        Aliasing.Disjoint(gates, weightIh, nameof(gates), nameof(weightIh));
        Aliasing.Disjoint(gates, weightHh, nameof(gates), nameof(weightHh));
        Aliasing.Disjoint(gates, bias, nameof(gates), nameof(bias));
        return new ProjectionShape(batch, input, hidden);
    }
}
