using System.Diagnostics;
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
    /// <param name="bias">Bias <c>[N]</c>; its length sets N. Empty for a layer without bias (the same bits as N zeros).</param>
    /// <param name="destination">Outputs <c>[B, N]</c>; its length sets B. Must not overlap any input.</param>
    /// <remarks>
    /// Shapes come from the span lengths: N = bias.Length, K = weight.Length / N, B = destination.Length / N. With an
    /// empty bias the three lengths x = B·K, weight = N·K, destination = B·N still fix the shape:
    /// K = √(x.Length·weight.Length / destination.Length), N = weight.Length / K, B = x.Length / K (when destination is
    /// empty there is nothing to compute; when x and weight are both empty, K = 0 and every output is 0).
    /// The sequence route of <see cref="Lstm"/> uses it for the input projection of all T·B rows at once (one
    /// matrix-matrix pass over Wᵢₕ) and for <c>h·Wₕₕᵀ</c> per step. Each sum is accumulated in float over vector
    /// lanes, four rows of x sharing each loaded weight vector (the rows past the last four: four weight rows sharing
    /// each loaded vector of x), every output in the same order wherever its row sits, so row b of a batch has the bits
    /// of that row alone (batch 1) on each path. The result is within (K + 1)·2⁻²⁴·(|b| + Σ|x·w|) of the exact value.
    /// An output whose float sum overflows (finite inputs whose products or partial sums exceed float's range) is
    /// recomputed in double as <see cref="Reference.ReferenceKernels.Linear"/> does: the exact sum rounded once, ±∞
    /// only when that exceeds float's range, never NaN from finite inputs.
    /// </remarks>
    /// <exception cref="ArgumentException">A length does not fit the shapes above, or <paramref name="destination"/> overlaps an input.</exception>
    public static void Linear(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> destination)
    {
        (int batch, int inner, int rows) = CheckLinear(x, weight, bias, destination);
        LinearUnchecked(batch, inner, rows, x, weight, bias, destination);
    }

    /// <summary><see cref="Linear"/> without its checks, for internal callers that checked their arguments once (the layers, the trainers).</summary>
    /// <param name="inner">K, the length of one row of x (at least 1).</param>
    /// <param name="x">Inputs <c>[B, K]</c>.</param>
    /// <param name="weight">Weights <c>[N, K]</c>.</param>
    /// <param name="bias">Bias <c>[N]</c>, or empty for none.</param>
    /// <param name="destination">Outputs <c>[B, N]</c>, not overlapping an input.</param>
    internal static void LinearUnchecked(int inner, ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> destination)
    {
        Debug.Assert(inner > 0 && x.Length % inner == 0 && weight.Length % inner == 0);
        int rows = weight.Length / inner;
        Debug.Assert(destination.Length == (long)(x.Length / inner) * rows && (bias.IsEmpty || bias.Length == rows));
        LinearUnchecked(x.Length / inner, inner, rows, x, weight, bias, destination);
    }

    private static void LinearUnchecked(
        int batch, int inner, int rows, ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> destination)
    {
        var action = new LinearAction { Batch = batch, Inner = inner, Rows = rows, X = x, Weight = weight, Bias = bias, Destination = destination };
        SimdDispatch.RunVector(ref action);

        // Overflow guard, as in GateProjection: an overflowed float sum is never finite again, so one scan finds them.
        if (!destination.IsEmpty && !float.IsFinite(TensorPrimitives.MaxMagnitude(destination)))
        {
            LinearExactNonFinite(batch, inner, rows, x, weight, bias, destination);
        }
    }

    /// <summary>Recomputes every non-finite output of <see cref="Linear"/> as its reference twin does (double, rounded once).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void LinearExactNonFinite(
        int batch, int inner, int rows, ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> destination)
    {
        for (int b = 0; b < batch; b++)
        {
            for (int r = 0; r < rows; r++)
            {
                ref float d = ref destination[(b * rows) + r];
                if (!float.IsFinite(d))
                {
                    d = OverflowGuard.Exact(bias.IsEmpty ? 0f : bias[r], x.Slice(b * inner, inner), weight.Slice(r * inner, inner), default, default);
                }
            }
        }
    }

    internal static (int Batch, int Inner, int Rows) CheckLinear(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> destination)
    {
        int rows = bias.Length;
        int inner;
        int batch;
        if (rows == 0)
        {
            (batch, inner, rows) = LinearShapeWithoutBias(x.Length, weight.Length, destination.Length);
        }
        else
        {
            if (weight.Length % rows != 0)
            {
                ThrowHelper.NotMultiple(nameof(weight), weight.Length, rows, "[N, K] with N = bias.Length");
            }

            inner = weight.Length / rows;
            if (destination.Length % rows != 0)
            {
                ThrowHelper.NotMultiple(nameof(destination), destination.Length, rows, "[B, N] with N = bias.Length");
            }

            batch = destination.Length / rows;
            ThrowHelper.CheckLength(x.Length, (long)batch * inner, nameof(x), "[B, K] with B = destination.Length / N, K = weight.Length / N");
        }

        Aliasing.Disjoint(destination, x, nameof(destination), nameof(x));
        Aliasing.Disjoint(destination, weight, nameof(destination), nameof(weight));
        Aliasing.Disjoint(destination, bias, nameof(destination), nameof(bias));
        return (batch, inner, rows);
    }

    /// <summary>
    /// B, K and N of a layer without bias, from x = B·K, weight = N·K and destination = B·N floats:
    /// K² = x·weight / destination, one whole K or none.
    /// </summary>
    private static (int Batch, int Inner, int Rows) LinearShapeWithoutBias(int xLength, int weightLength, int destinationLength)
    {
        if (destinationLength == 0)
        {
            // B = 0 (x empty) or N = 0 (weight empty): nothing to compute.
            if (xLength != 0 && weightLength != 0)
            {
                ThrowHelper.Argument(
                    "destination", $"'destination' is empty but 'x' ({xLength}) and 'weight' ({weightLength}) are not; without bias it must hold B·N outputs with x = B·K, weight = N·K.");
            }

            return (0, 0, 0);
        }

        if (xLength == 0 || weightLength == 0)
        {
            // K = 0: every output is an empty sum.
            if (xLength != weightLength)
            {
                string empty = xLength == 0 ? "x" : "weight";
                string other = xLength == 0 ? "weight" : "x";
                ThrowHelper.Argument(other, $"'{empty}' is empty (K = 0), so '{other}' must be empty too; without bias x = B·K, weight = N·K, destination = B·N.");
            }

            return (1, 0, destinationLength);
        }

        long product = (long)xLength * weightLength;
        long squared = product / destinationLength;
        long k = (long)Math.Sqrt(squared);
        while (k * k > squared)
        {
            k--;
        }

        while ((k + 1) * (k + 1) <= squared)
        {
            k++;
        }

        if (product % destinationLength != 0 || k * k != squared || xLength % k != 0 || weightLength % k != 0)
        {
            ThrowHelper.Argument(
                "destination",
                $"Without bias the lengths must be x = B·K, weight = N·K, destination = B·N; no whole K fits x = {xLength}, weight = {weightLength}, destination = {destinationLength}.");
        }

        return ((int)(xLength / k), (int)k, (int)(weightLength / k));
    }

    private ref struct LinearAction : IVectorAction
    {
        public int Batch;
        public int Inner;
        public int Rows;
        public ReadOnlySpan<float> X;
        public ReadOnlySpan<float> Weight;
        public ReadOnlySpan<float> Bias;
        public Span<float> Destination;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Run<TOps, TVec>()
            where TOps : struct, ISimd<TVec>
            where TVec : struct => LinearCore<TOps, TVec>(Batch, Inner, Rows, X, Weight, Bias, Destination);
    }

    private static void LinearCore<TOps, TVec>(
        int batch, int inner, int rows, ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> destination)
        where TOps : struct, ISimd<TVec>
        where TVec : struct
    {
        // No bias adds 0f, as a zero bias would: the same bits (−0 sums become +0).
        bool hasBias = !bias.IsEmpty;
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float rw = ref MemoryMarshal.GetReference(weight);
        ref float rd = ref MemoryMarshal.GetReference(destination);
        int b = 0;

        // Four rows of x share every loaded weight vector (matrix-matrix). Every output, in the tile or not, is one
        // chain of vector FMAs, its lane sum, then the scalar tail: a row's bits do not depend on its place in the batch.
        for (; b <= batch - 4; b += 4)
        {
            for (int r = 0; r < rows; r++)
            {
                Dot4<TOps, TVec>(ref Unsafe.Add(ref rw, r * inner), ref Unsafe.Add(ref rx, b * inner), inner, inner, out float s0, out float s1, out float s2, out float s3);
                float br = hasBias ? bias[r] : 0f;
                Unsafe.Add(ref rd, (b * rows) + r) = br + s0;
                Unsafe.Add(ref rd, ((b + 1) * rows) + r) = br + s1;
                Unsafe.Add(ref rd, ((b + 2) * rows) + r) = br + s2;
                Unsafe.Add(ref rd, ((b + 3) * rows) + r) = br + s3;
            }
        }

        // The rest of the rows (all of them below batch 4): four weight rows share each loaded vector of the x row.
        for (; b < batch; b++)
        {
            ref float xb = ref Unsafe.Add(ref rx, b * inner);
            ref float db = ref Unsafe.Add(ref rd, b * rows);
            int r = 0;
            for (; r <= rows - 4; r += 4)
            {
                DotRows4<TOps, TVec>(ref Unsafe.Add(ref rw, r * inner), ref xb, inner, inner, out float s0, out float s1, out float s2, out float s3);
                Unsafe.Add(ref db, r) = (hasBias ? bias[r] : 0f) + s0;
                Unsafe.Add(ref db, r + 1) = (hasBias ? bias[r + 1] : 0f) + s1;
                Unsafe.Add(ref db, r + 2) = (hasBias ? bias[r + 2] : 0f) + s2;
                Unsafe.Add(ref db, r + 3) = (hasBias ? bias[r + 3] : 0f) + s3;
            }

            for (; r < rows; r++)
            {
                Unsafe.Add(ref db, r) = (hasBias ? bias[r] : 0f) + DotRow<TOps, TVec>(ref Unsafe.Add(ref rw, r * inner), ref xb, inner);
            }
        }
    }

    /// <summary>
    /// Four dot products of four weight rows (row stride <paramref name="stride"/>) with one row <paramref name="v"/>,
    /// each with <see cref="Dot4"/>'s arithmetic: <c>MultiplyAdd(w, v, acc)</c> per vector, the lane sum, the tail in order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void DotRows4<TOps, TVec>(ref float w, ref float v, int n, int stride, out float s0, out float s1, out float s2, out float s3)
        where TOps : struct, ISimd<TVec>
        where TVec : struct
    {
        int c = TOps.Count;
        ref float w0 = ref w;
        ref float w1 = ref Unsafe.Add(ref w, stride);
        ref float w2 = ref Unsafe.Add(ref w, 2 * stride);
        ref float w3 = ref Unsafe.Add(ref w, 3 * stride);
        TVec a0 = TOps.Create(0f), a1 = a0, a2 = a0, a3 = a0;
        int k = 0;
        for (; k <= n - c; k += c)
        {
            TVec vk = TOps.Load(ref Unsafe.Add(ref v, k));
            a0 = TOps.MultiplyAdd(TOps.Load(ref Unsafe.Add(ref w0, k)), vk, a0);
            a1 = TOps.MultiplyAdd(TOps.Load(ref Unsafe.Add(ref w1, k)), vk, a1);
            a2 = TOps.MultiplyAdd(TOps.Load(ref Unsafe.Add(ref w2, k)), vk, a2);
            a3 = TOps.MultiplyAdd(TOps.Load(ref Unsafe.Add(ref w3, k)), vk, a3);
        }

        s0 = TOps.Sum(a0);
        s1 = TOps.Sum(a1);
        s2 = TOps.Sum(a2);
        s3 = TOps.Sum(a3);
        for (; k < n; k++)
        {
            float vk = Unsafe.Add(ref v, k);
            s0 += Unsafe.Add(ref w0, k) * vk;
            s1 += Unsafe.Add(ref w1, k) * vk;
            s2 += Unsafe.Add(ref w2, k) * vk;
            s3 += Unsafe.Add(ref w3, k) * vk;
        }
    }

    /// <summary>One dot product of weight row <paramref name="w"/> with row <paramref name="v"/>, with <see cref="Dot4"/>'s arithmetic.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float DotRow<TOps, TVec>(ref float w, ref float v, int n)
        where TOps : struct, ISimd<TVec>
        where TVec : struct
    {
        int c = TOps.Count;
        TVec a = TOps.Create(0f);
        int k = 0;
        for (; k <= n - c; k += c)
        {
            a = TOps.MultiplyAdd(TOps.Load(ref Unsafe.Add(ref w, k)), TOps.Load(ref Unsafe.Add(ref v, k)), a);
        }

        float s = TOps.Sum(a);
        for (; k < n; k++)
        {
            s += Unsafe.Add(ref w, k) * Unsafe.Add(ref v, k);
        }

        return s;
    }
}
