using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using LstmKernels.Internal;

namespace LstmKernels;

public static partial class Kernels
{
    /// <summary>
    /// A dense layer on a batch of rows, PyTorch's <c>F.linear</c>:
    /// <c>destination[b, r] = bias[r] + Σₖ x[b, k]·weight[r, k]</c>, i.e. <c>y = x·Wᵀ + b</c>.
    /// </summary>
    /// <param name="x">Inputs <c>[B, K]</c>.</param>
    /// <param name="weight">Weights <c>[N, K]</c>, row r the weights of output r.</param>
    /// <param name="bias">Bias <c>[N]</c>; its length sets N (pass zeros for a layer without bias).</param>
    /// <param name="destination">Outputs <c>[B, N]</c>; its length sets B. Must not overlap any input.</param>
    /// <remarks>
    /// Shapes come from the span lengths: N = bias.Length, K = weight.Length / N, B = destination.Length / N.
    /// The sequence route of <see cref="Lstm"/> uses it for the input projection of all T·B rows at once (one
    /// matrix-matrix pass over Wᵢₕ) and for <c>h·Wₕₕᵀ</c> per step. Each sum is accumulated in float over vector
    /// lanes, four rows of x sharing each loaded weight vector; the result is within (K + 1)·2⁻²⁴·(|b| + Σ|x·w|) of
    /// the exact value. An output whose float sum overflows (finite inputs whose products or partial sums exceed float's
    /// range) is recomputed in double as <see cref="Reference.ReferenceKernels.Linear"/> does: the exact sum rounded
    /// once, ±∞ only when that exceeds float's range, never NaN from finite inputs.
    /// </remarks>
    /// <exception cref="ArgumentException">A length does not fit the shapes above, or <paramref name="destination"/> overlaps an input.</exception>
    public static void Linear(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> destination)
    {
        (int batch, int inner) = CheckLinear(x, weight, bias, destination);
        var action = new LinearAction { Batch = batch, Inner = inner, X = x, Weight = weight, Bias = bias, Destination = destination };
        SimdDispatch.RunVector(ref action);

        // Overflow guard, as in GateProjection: an overflowed float sum is never finite again, so one scan finds them.
        if (!destination.IsEmpty && !float.IsFinite(TensorPrimitives.MaxMagnitude(destination)))
        {
            LinearExactNonFinite(batch, inner, x, weight, bias, destination);
        }
    }

    /// <summary>Recomputes every non-finite output of <see cref="Linear"/> as its reference twin does (double, rounded once).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void LinearExactNonFinite(int batch, int inner, ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> destination)
    {
        int rows = bias.Length;
        for (int b = 0; b < batch; b++)
        {
            for (int r = 0; r < rows; r++)
            {
                ref float d = ref destination[(b * rows) + r];
                if (!float.IsFinite(d))
                {
                    d = OverflowGuard.Exact(bias[r], x.Slice(b * inner, inner), weight.Slice(r * inner, inner), default, default);
                }
            }
        }
    }

    internal static (int Batch, int Inner) CheckLinear(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> destination)
    {
        int rows = bias.Length;
        if (rows == 0)
        {
            ThrowHelper.Argument(nameof(bias), "'bias' is empty; it must hold N ≥ 1 values (one per output; zeros for a layer without bias).");
        }

        if (weight.Length % rows != 0)
        {
            ThrowHelper.NotMultiple(nameof(weight), weight.Length, rows, "[N, K] with N = bias.Length");
        }

        int inner = weight.Length / rows;
        if (destination.Length % rows != 0)
        {
            ThrowHelper.NotMultiple(nameof(destination), destination.Length, rows, "[B, N] with N = bias.Length");
        }

        int batch = destination.Length / rows;
        ThrowHelper.CheckLength(x.Length, (long)batch * inner, nameof(x), "[B, K] with B = destination.Length / N, K = weight.Length / N");
        Aliasing.Disjoint(destination, x, nameof(destination), nameof(x));
        Aliasing.Disjoint(destination, weight, nameof(destination), nameof(weight));
        Aliasing.Disjoint(destination, bias, nameof(destination), nameof(bias));
        return (batch, inner);
    }

    private ref struct LinearAction : IVectorAction
    {
        public int Batch;
        public int Inner;
        public ReadOnlySpan<float> X;
        public ReadOnlySpan<float> Weight;
        public ReadOnlySpan<float> Bias;
        public Span<float> Destination;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Run<TOps, TVec>()
            where TOps : struct, ISimd<TVec>
            where TVec : struct => LinearCore<TOps, TVec>(Batch, Inner, X, Weight, Bias, Destination);
    }

    private static void LinearCore<TOps, TVec>(int batch, int inner, ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> destination)
        where TOps : struct, ISimd<TVec>
        where TVec : struct
    {
        int rows = bias.Length;
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float rw = ref MemoryMarshal.GetReference(weight);
        ref float rd = ref MemoryMarshal.GetReference(destination);
        int b = 0;

        // Four rows of x share every loaded weight vector (matrix-matrix); the rest go one by one.
        for (; b <= batch - 4; b += 4)
        {
            for (int r = 0; r < rows; r++)
            {
                Dot4<TOps, TVec>(ref Unsafe.Add(ref rw, r * inner), ref Unsafe.Add(ref rx, b * inner), inner, inner, out float s0, out float s1, out float s2, out float s3);
                float br = bias[r];
                Unsafe.Add(ref rd, (b * rows) + r) = br + s0;
                Unsafe.Add(ref rd, ((b + 1) * rows) + r) = br + s1;
                Unsafe.Add(ref rd, ((b + 2) * rows) + r) = br + s2;
                Unsafe.Add(ref rd, ((b + 3) * rows) + r) = br + s3;
            }
        }

        for (; b < batch; b++)
        {
            for (int r = 0; r < rows; r++)
            {
                Unsafe.Add(ref rd, (b * rows) + r) = bias[r] + Dot<TOps, TVec>(ref Unsafe.Add(ref rw, r * inner), ref Unsafe.Add(ref rx, b * inner), inner);
            }
        }
    }
}
