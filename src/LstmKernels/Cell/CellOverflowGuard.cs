using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace LstmKernels.Internal;

/// <summary>
/// The overflow fallback of the fused step (see <see cref="OverflowGuard"/>): <see cref="PackedWeights.SafeInput"/> is
/// the cell's bound on max|v|, so the normal path pays two <see cref="TensorPrimitives.MaxMagnitudeNumber{T}(ReadOnlySpan{T})"/>
/// passes over x and hPrev, O(I + H), against the step's O(4H·(I + H)). A row over the bound is recomputed here in
/// double from the cell's effective weights, exactly as <see cref="Reference.ReferenceLstmCell"/> does, so its gates
/// saturate as the reference's.
/// </summary>
internal static class CellOverflowGuard
{
    [ThreadStatic]
    private static float[]? rowResults;

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
            if (OverflowGuard.MaxMagnitude(v.Slice(b * k, k)) > w.SafeInput)
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
            if (OverflowGuard.MaxMagnitude(v.Slice(b * k, k)) > w.SafeInput)
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

    /// <summary>The logistic function in double, the arithmetic of the guarded rows (the production path keeps its own copy rather than call the reference twin).</summary>
    private static double Sigmoid(double x) => 1.0 / (1.0 + Math.Exp(-x));
}
