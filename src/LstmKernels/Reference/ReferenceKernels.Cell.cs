namespace LstmKernels.Reference;

public static partial class ReferenceKernels
{
    /// <summary>Twin of <see cref="Kernels.CellUpdate"/>: <c>c[k] = f[k]·cPrev[k] + i[k]·g[k]</c> in double.</summary>
    /// <param name="forgetGate">f.</param>
    /// <param name="cPrev">The previous cell state.</param>
    /// <param name="inputGate">i.</param>
    /// <param name="candidate">g.</param>
    /// <param name="c">The new cell state; may be the same memory as any one input.</param>
    /// <exception cref="ArgumentException">The lengths differ, or <paramref name="c"/> partially overlaps an input.</exception>
    public static void CellUpdate(
        ReadOnlySpan<float> forgetGate, ReadOnlySpan<float> cPrev, ReadOnlySpan<float> inputGate, ReadOnlySpan<float> candidate, Span<float> c)
    {
        Kernels.CheckCellUpdate(forgetGate, cPrev, inputGate, candidate, c);
        for (int k = 0; k < c.Length; k++)
        {
            c[k] = (float)(((double)forgetGate[k] * cPrev[k]) + ((double)inputGate[k] * candidate[k]));
        }
    }

    /// <summary>Twin of <see cref="Kernels.HiddenUpdate"/>: <c>h[k] = o[k]·tanh(c[k])</c> in double.</summary>
    /// <param name="outputGate">o.</param>
    /// <param name="c">The new cell state.</param>
    /// <param name="h">The new hidden state; may be the same memory as either input.</param>
    /// <exception cref="ArgumentException">The lengths differ, or <paramref name="h"/> partially overlaps an input.</exception>
    public static void HiddenUpdate(ReadOnlySpan<float> outputGate, ReadOnlySpan<float> c, Span<float> h)
    {
        Kernels.CheckHiddenUpdate(outputGate, c, h);
        for (int k = 0; k < h.Length; k++)
        {
            h[k] = (float)(outputGate[k] * Math.Tanh(c[k]));
        }
    }

    /// <summary>Twin of <see cref="Kernels.LstmPointwise"/>, one unit at a time in double.</summary>
    /// <param name="hiddenSize">H.</param>
    /// <param name="gates">Pre-activations <c>[B, 4H]</c>, gate order i, f, g, o.</param>
    /// <param name="cPrev">The previous cell state <c>[B, H]</c>.</param>
    /// <param name="h">The new hidden state <c>[B, H]</c>.</param>
    /// <param name="c">The new cell state <c>[B, H]</c>; may be the same memory as <paramref name="cPrev"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="hiddenSize"/> is less than 1.</exception>
    /// <exception cref="ArgumentException">A length does not fit, or outputs overlap where not allowed.</exception>
    public static void LstmPointwise(int hiddenSize, ReadOnlySpan<float> gates, ReadOnlySpan<float> cPrev, Span<float> h, Span<float> c)
    {
        Kernels.CheckPointwise(hiddenSize, gates, cPrev, h, c);
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
                c[s] = (float)cs;
                h[s] = (float)(o * Math.Tanh(cs));
            }
        }
    }
}
