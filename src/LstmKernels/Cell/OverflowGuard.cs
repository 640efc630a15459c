using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace LstmKernels.Internal;

/// <summary>
/// The fallback for steps whose float pre-activation sums could overflow although every weight and input is finite
/// (docs/numerics.md, "Overflow"). A step is safe when every partial sum of <c>b + Σ w·v</c> stays below
/// <see cref="Limit"/>: |partial| ≤ max|b| + K·max|w|·max|v| (times (1 + u)ᴷ for rounding, far below the factor 4 of
/// headroom). <see cref="PackedWeights.SafeInput"/> turns that into one bound on max|v| per cell, so the normal path
/// pays two <see cref="TensorPrimitives.MaxMagnitudeNumber{T}(ReadOnlySpan{T})"/> passes over x and hPrev, O(I + H),
/// against the step's O(4H·(I + H)). A row over the bound is recomputed here in double from the cell's effective
/// weights, exactly as <see cref="Reference.ReferenceLstmCell"/> does, so its gates saturate as the reference's.
/// </summary>
internal static class OverflowGuard
{
    /// <summary>The largest partial sum the float paths may reach: float.MaxValue / 4.</summary>
    public const double Limit = float.MaxValue / 4.0;

    [ThreadStatic]
    private static float[]? rowResults;

    /// <summary>
    /// The largest |v| for which <c>bias + Σ w·v</c> over <paramref name="terms"/> terms cannot overflow in float, given
    /// <paramref name="maxWeight"/> = max|w| and <paramref name="maxBias"/> = max|bias|; +∞ when nothing can overflow,
    /// negative when even v = 0 is not safe (a bias above the limit).
    /// </summary>
    public static float SafeInput(int terms, double maxWeight, double maxBias)
    {
        double room = Limit - maxBias;
        double perInput = terms * maxWeight;
        return room < 0 ? -1f : perInput == 0 ? float.PositiveInfinity : (float)Math.Min(room / perInput, float.MaxValue);
    }

    /// <summary>max |v| ignoring NaN (NaN propagates through the normal path as documented); 0 for an empty span.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxMagnitude(ReadOnlySpan<float> v) => v.IsEmpty ? 0f : Math.Abs(TensorPrimitives.MaxMagnitudeNumber(v));

    /// <summary>
    /// For a fused step over <paramref name="v"/> (B rows of K = I + H): computes in double, before the fast path
    /// overwrites cPrev, h and c of every row whose inputs exceed the cell's safe bound. Returns whether any did;
    /// then <see cref="Apply"/> writes them over the fast path's results.
    /// </summary>
    public static bool Prepare(PackedWeights w, int batch, ReadOnlySpan<float> v, ReadOnlySpan<float> cPrev)
    {
        int k = w.Input + w.Hidden;
        int hidden = w.Hidden;
        bool any = false;
        for (int b = 0; b < batch; b++)
        {
            if (MaxMagnitude(v.Slice(b * k, k)) > w.SafeInput)
            {
                Span<float> results = Results(batch * 2 * hidden);
                Row(w, v.Slice(b * k, k), cPrev.Slice(b * hidden, hidden), results.Slice(2 * b * hidden, hidden), results.Slice(((2 * b) + 1) * hidden, hidden));
                any = true;
            }
        }

        return any;
    }

    /// <summary>Writes the rows <see cref="Prepare"/> computed over the fast path's h and c.</summary>
    public static void Apply(PackedWeights w, int batch, ReadOnlySpan<float> v, Span<float> hNext, Span<float> cNext)
    {
        int k = w.Input + w.Hidden;
        int hidden = w.Hidden;
        Span<float> results = Results(batch * 2 * hidden);
        for (int b = 0; b < batch; b++)
        {
            if (MaxMagnitude(v.Slice(b * k, k)) > w.SafeInput)
            {
                results.Slice(2 * b * hidden, hidden).CopyTo(hNext.Slice(b * hidden, hidden));
                results.Slice(((2 * b) + 1) * hidden, hidden).CopyTo(cNext.Slice(b * hidden, hidden));
            }
        }
    }

    /// <summary>One row of the step in double from the effective weights: the reference's arithmetic.</summary>
    private static void Row(PackedWeights w, ReadOnlySpan<float> v, ReadOnlySpan<float> cPrev, Span<float> h, Span<float> c)
    {
        int k = w.Input + w.Hidden;
        Span<double> z = stackalloc double[4];
        for (int unit = 0; unit < w.Hidden; unit++)
        {
            for (int gate = 0; gate < 4; gate++)
            {
                double sum = Unsafe.Add(ref w.Bias(unit / PackedWeights.Width), (gate * PackedWeights.Width) + (unit % PackedWeights.Width));
                for (int j = 0; j < k; j++)
                {
                    sum += (double)v[j] * w.Effective(gate, unit, j);
                }

                z[gate] = sum;
            }

            double i = Sigmoid(z[0]);
            double f = Sigmoid(z[1]);
            double g = Math.Tanh(z[2]);
            double o = Sigmoid(z[3]);
            double cn = (f * cPrev[unit]) + (i * g);
            c[unit] = (float)cn;
            h[unit] = (float)(o * Math.Tanh(cn));
        }
    }

    private static Span<float> Results(int length)
    {
        float[]? buffer = rowResults;
        if (buffer is null || buffer.Length < length)
        {
            rowResults = buffer = new float[Math.Max(length, 256)];
        }

        return buffer.AsSpan(0, length);
    }

    /// <summary>
    /// <c>bias + Σ x·wIh + Σ h·wHh</c> in double, rounded once: <see cref="Reference.ReferenceKernels.GateProjection"/> for one
    /// output, for the outputs the float kernels left non-finite.
    /// </summary>
    public static float Exact(float bias, ReadOnlySpan<float> x, ReadOnlySpan<float> wx, ReadOnlySpan<float> h, ReadOnlySpan<float> wh)
    {
        double sum = bias;
        for (int k = 0; k < x.Length; k++)
        {
            sum += (double)x[k] * wx[k];
        }

        for (int k = 0; k < h.Length; k++)
        {
            sum += (double)h[k] * wh[k];
        }

        return (float)sum;
    }

    /// <summary>The logistic function in double, the arithmetic of the guarded rows (the production path keeps its own copy rather than call the reference twin).</summary>
    private static double Sigmoid(double x) => 1.0 / (1.0 + Math.Exp(-x));
}
