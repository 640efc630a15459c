namespace LstmKernels.Reference;

public static partial class ReferenceKernels
{
    /// <summary>Twin of <see cref="Kernels.LstmPointwiseTraining"/>, one unit at a time in double.</summary>
    /// <param name="hiddenSize">H.</param>
    /// <param name="gates">Pre-activations <c>[B, 4H]</c>, gate order i, f, g, o.</param>
    /// <param name="cPrev">The previous cell state <c>[B, H]</c>.</param>
    /// <param name="activations">The gate activations <c>[B, 4H]</c>; may be the same memory as <paramref name="gates"/>.</param>
    /// <param name="h">The new hidden state <c>[B, H]</c>.</param>
    /// <param name="c">The new cell state <c>[B, H]</c>; may be the same memory as <paramref name="cPrev"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="hiddenSize"/> is less than 1.</exception>
    /// <exception cref="ArgumentException">A length does not fit, or outputs overlap where not allowed.</exception>
    public static void LstmPointwiseTraining(
        int hiddenSize, ReadOnlySpan<float> gates, ReadOnlySpan<float> cPrev, Span<float> activations, Span<float> h, Span<float> c)
    {
        Kernels.CheckPointwiseTraining(hiddenSize, gates, cPrev, activations, h, c);
        int batch = cPrev.Length / hiddenSize;
        for (int b = 0; b < batch; b++)
        {
            for (int j = 0; j < hiddenSize; j++)
            {
                int z = (b * 4 * hiddenSize) + j;
                int s = (b * hiddenSize) + j;
                double i = Logistic(gates[z]);
                double f = Logistic(gates[z + hiddenSize]);
                double g = Math.Tanh(gates[z + (2 * hiddenSize)]);
                double o = Logistic(gates[z + (3 * hiddenSize)]);
                double cs = (f * cPrev[s]) + (i * g);
                activations[z] = (float)i;
                activations[z + hiddenSize] = (float)f;
                activations[z + (2 * hiddenSize)] = (float)g;
                activations[z + (3 * hiddenSize)] = (float)o;
                c[s] = (float)cs;
                h[s] = (float)(o * Math.Tanh(cs));
            }
        }
    }

    /// <summary>Twin of <see cref="Kernels.LstmPointwiseBackward"/>: the same equations, one unit at a time in double.</summary>
    /// <param name="hiddenSize">H.</param>
    /// <param name="activations">Gate activations <c>[B, 4H]</c> (i, f, g, o).</param>
    /// <param name="cPrev">The previous cell state <c>[B, H]</c>.</param>
    /// <param name="c">The new cell state <c>[B, H]</c>.</param>
    /// <param name="dh">∂L/∂h <c>[B, H]</c>.</param>
    /// <param name="dc">∂L/∂c <c>[B, H]</c>.</param>
    /// <param name="dGates">∂L/∂z <c>[B, 4H]</c>.</param>
    /// <param name="dcPrev">∂L/∂cPrev <c>[B, H]</c>; may be the same memory as <paramref name="dc"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="hiddenSize"/> is less than 1.</exception>
    /// <exception cref="ArgumentException">A length does not fit, or outputs overlap where not allowed.</exception>
    public static void LstmPointwiseBackward(
        int hiddenSize,
        ReadOnlySpan<float> activations,
        ReadOnlySpan<float> cPrev,
        ReadOnlySpan<float> c,
        ReadOnlySpan<float> dh,
        ReadOnlySpan<float> dc,
        Span<float> dGates,
        Span<float> dcPrev)
    {
        Kernels.CheckPointwiseBackward(hiddenSize, activations, cPrev, c, dh, dc, dGates, dcPrev);
        int batch = cPrev.Length / hiddenSize;
        for (int b = 0; b < batch; b++)
        {
            for (int j = 0; j < hiddenSize; j++)
            {
                int z = (b * 4 * hiddenSize) + j;
                int s = (b * hiddenSize) + j;
                double i = activations[z];
                double f = activations[z + hiddenSize];
                double g = activations[z + (2 * hiddenSize)];
                double o = activations[z + (3 * hiddenSize)];
                double tc = Math.Tanh(c[s]);
                double dct = dc[s] + (dh[s] * o * (1 - (tc * tc)));
                dGates[z] = (float)(dct * g * i * (1 - i));
                dGates[z + hiddenSize] = (float)(dct * cPrev[s] * f * (1 - f));
                dGates[z + (2 * hiddenSize)] = (float)(dct * i * (1 - (g * g)));
                dGates[z + (3 * hiddenSize)] = (float)(dh[s] * tc * o * (1 - o));
                dcPrev[s] = (float)(dct * f);
            }
        }
    }
}
