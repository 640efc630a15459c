using LstmKernels.Internal;

namespace LstmKernels;

/// <summary>Layout converters to and from ONNX, Keras, PyTorch and the numpy seed (one layer, one direction each).</summary>
public sealed partial class LstmParameters
{
    /// <summary>Our gate block k (i, f, g, o) is ONNX block <c>OnnxBlock[k]</c> (ONNX order i, o, f, c).</summary>
    internal static ReadOnlySpan<int> OnnxBlock => [0, 2, 3, 1];

    /// <summary>
    /// Imports one direction of ONNX's LSTM weights: <c>W[d] [4H, I]</c>, <c>R[d] [4H, H]</c>, <c>B[d] [8H]</c>, gate
    /// blocks i, o, f, c (ours: i, f, g, o; g is ONNX's c).
    /// </summary>
    /// <param name="inputSize">I.</param>
    /// <param name="hiddenSize">H.</param>
    /// <param name="w">One direction of <c>W</c>, <c>[4H, I]</c>.</param>
    /// <param name="r">One direction of <c>R</c>, <c>[4H, H]</c>.</param>
    /// <param name="b">One direction of <c>B</c>, <c>[Wb | Rb]</c> of <c>[8H]</c>, or empty for none; the halves are summed.</param>
    /// <returns>New parameters.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A size is less than 1.</exception>
    /// <exception cref="ArgumentException">A span has the wrong length or holds NaN or ∞, or a summed bias overflows.</exception>
    public static LstmParameters FromOnnx(int inputSize, int hiddenSize, ReadOnlySpan<float> w, ReadOnlySpan<float> r, ReadOnlySpan<float> b) =>
        FromOnnx(inputSize, hiddenSize, w, r, b, default);

    /// <summary>
    /// Imports one direction of ONNX's LSTM weights with its peepholes <c>P[d] [3H]</c> (ONNX order
    /// <c>[P_i | P_o | P_f]</c>; stored as ours, <c>[P_i | P_f | P_o]</c>, in <see cref="Peepholes"/>).
    /// </summary>
    /// <param name="inputSize">I.</param>
    /// <param name="hiddenSize">H.</param>
    /// <param name="w">One direction of <c>W</c>, <c>[4H, I]</c>.</param>
    /// <param name="r">One direction of <c>R</c>, <c>[4H, H]</c>.</param>
    /// <param name="b">One direction of <c>B</c>, <c>[8H]</c>, or empty for none.</param>
    /// <param name="p">One direction of <c>P</c>, <c>[3H]</c>, or empty for a cell without peepholes.</param>
    /// <returns>New parameters.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A size is less than 1.</exception>
    /// <exception cref="ArgumentException">A span has the wrong length or holds NaN or ∞, or a summed bias overflows.</exception>
    public static LstmParameters FromOnnx(int inputSize, int hiddenSize, ReadOnlySpan<float> w, ReadOnlySpan<float> r, ReadOnlySpan<float> b, ReadOnlySpan<float> p)
    {
        var result = new LstmParameters(inputSize, hiddenSize, peepholes: !p.IsEmpty);
        int h = hiddenSize;
        if (!p.IsEmpty)
        {
            CheckFinite(p, 3L * h, nameof(p), "[3H] = [P_i | P_o | P_f], or empty");
            SwapLastThirds(p, result.peepholes);
        }

        FillFromOnnx(result, w, r, b);
        return result;
    }

    private static void FillFromOnnx(LstmParameters p, ReadOnlySpan<float> w, ReadOnlySpan<float> r, ReadOnlySpan<float> b)
    {
        int inputSize = p.InputSize;
        int h = p.HiddenSize;
        CheckFinite(w, 4L * h * inputSize, nameof(w), "[4H, I]");
        CheckFinite(r, 4L * h * h, nameof(r), "[4H, H]");
        if (!b.IsEmpty)
        {
            CheckFinite(b, 8L * h, nameof(b), "[8H] = [Wb | Rb], or empty");
        }

        for (int gate = 0; gate < 4; gate++)
        {
            int from = OnnxBlock[gate] * h;
            w.Slice(from * inputSize, h * inputSize).CopyTo(p.weightIh.AsSpan(gate * h * inputSize));
            r.Slice(from * h, h * h).CopyTo(p.weightHh.AsSpan(gate * h * h));
            if (!b.IsEmpty)
            {
                for (int j = 0; j < h; j++)
                {
                    float sum = b[from + j] + b[(4 * h) + from + j];
                    if (!float.IsFinite(sum))
                    {
                        ThrowHelper.Argument(nameof(b), BiasOverflow(nameof(b), from + j));
                    }

                    p.bias[(gate * h) + j] = sum;
                }
            }
        }
    }

    /// <summary>Swaps the last two thirds: ONNX's peephole order <c>[P_i | P_o | P_f]</c> and ours <c>[P_i | P_f | P_o]</c> map both ways.</summary>
    internal static void SwapLastThirds(ReadOnlySpan<float> source, Span<float> destination)
    {
        int n = source.Length / 3;
        source[..n].CopyTo(destination);
        source.Slice(2 * n, n).CopyTo(destination.Slice(n, n));
        source.Slice(n, n).CopyTo(destination.Slice(2 * n, n));
    }

    /// <summary>Exports to one direction of ONNX's layout (the inverse of <c>FromOnnx</c>, with <c>Rb = 0</c>).</summary>
    /// <param name="w"><c>W[d]</c>, <c>[4H, I]</c>, gate blocks i, o, f, c.</param>
    /// <param name="r"><c>R[d]</c>, <c>[4H, H]</c>.</param>
    /// <param name="b"><c>B[d]</c>, <c>[8H]</c>: <c>Wb</c> = our bias, <c>Rb</c> = 0.</param>
    /// <exception cref="ArgumentException">A span has the wrong length.</exception>
    /// <exception cref="InvalidOperationException">The parameters have peepholes (use the overload with <c>p</c>).</exception>
    public void ToOnnx(Span<float> w, Span<float> r, Span<float> b)
    {
        ThrowIfPeepholesOnExport("this overload");
        WriteOnnx(w, r, b);
    }

    /// <summary>Exports to one direction of ONNX's layout with the peepholes (the inverse of the <c>FromOnnx</c> overload with <c>p</c>).</summary>
    /// <param name="w"><c>W[d]</c>, <c>[4H, I]</c>, gate blocks i, o, f, c.</param>
    /// <param name="r"><c>R[d]</c>, <c>[4H, H]</c>.</param>
    /// <param name="b"><c>B[d]</c>, <c>[8H]</c>: <c>Wb</c> = our bias, <c>Rb</c> = 0.</param>
    /// <param name="p"><c>P[d]</c>, <c>[3H]</c> in ONNX's order <c>[P_i | P_o | P_f]</c> (zeros when the parameters have none).</param>
    /// <exception cref="ArgumentException">A span has the wrong length.</exception>
    public void ToOnnx(Span<float> w, Span<float> r, Span<float> b, Span<float> p)
    {
        ThrowHelper.CheckLength(p.Length, 3L * HiddenSize, nameof(p), "[3H] = [P_i | P_o | P_f]");
        WriteOnnx(w, r, b);
        if (HasPeepholes)
        {
            SwapLastThirds(peepholes, p);
        }
        else
        {
            p.Clear();
        }
    }

    private void WriteOnnx(Span<float> w, Span<float> r, Span<float> b)
    {
        int h = HiddenSize, i = InputSize;
        ThrowHelper.CheckLength(w.Length, 4L * h * i, nameof(w), "[4H, I]");
        ThrowHelper.CheckLength(r.Length, 4L * h * h, nameof(r), "[4H, H]");
        ThrowHelper.CheckLength(b.Length, 8L * h, nameof(b), "[8H]");
        for (int gate = 0; gate < 4; gate++)
        {
            int to = OnnxBlock[gate] * h;
            weightIh.AsSpan(gate * h * i, h * i).CopyTo(w[(to * i)..]);
            weightHh.AsSpan(gate * h * h, h * h).CopyTo(r[(to * h)..]);
            bias.AsSpan(gate * h, h).CopyTo(b[to..]);
        }

        b[(4 * h)..].Clear();
    }

    /// <summary>
    /// Imports Keras' <c>LSTM</c> / <c>LSTMCell</c> weights: <c>kernel [I, 4H]</c>, <c>recurrent_kernel [H, 4H]</c>,
    /// <c>bias [4H]</c>, gate order i, f, c, o (the same as ours; the matrices are transposed).
    /// </summary>
    /// <param name="inputSize">I.</param>
    /// <param name="hiddenSize">H.</param>
    /// <param name="kernel"><c>kernel</c>, <c>[I, 4H]</c> row-major.</param>
    /// <param name="recurrentKernel"><c>recurrent_kernel</c>, <c>[H, 4H]</c> row-major.</param>
    /// <param name="bias"><c>bias</c>, <c>[4H]</c>, or empty for <c>use_bias=False</c>.</param>
    /// <returns>New parameters: <c>WeightIh[r, m] = kernel[m, r]</c>, <c>WeightHh[r, k] = recurrent_kernel[k, r]</c>.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A size is less than 1.</exception>
    /// <exception cref="ArgumentException">A span has the wrong length or holds NaN or ∞.</exception>
    public static LstmParameters FromKeras(int inputSize, int hiddenSize, ReadOnlySpan<float> kernel, ReadOnlySpan<float> recurrentKernel, ReadOnlySpan<float> bias)
    {
        var p = new LstmParameters(inputSize, hiddenSize);
        int rows = 4 * hiddenSize;
        CheckFinite(kernel, (long)inputSize * rows, nameof(kernel), "[I, 4H]");
        CheckFinite(recurrentKernel, (long)hiddenSize * rows, nameof(recurrentKernel), "[H, 4H]");
        if (!bias.IsEmpty)
        {
            CheckFinite(bias, rows, nameof(bias), "[4H], or empty for no bias");
            bias.CopyTo(p.bias);
        }

        Transpose(kernel, p.weightIh, inputSize, rows);
        Transpose(recurrentKernel, p.weightHh, hiddenSize, rows);
        return p;
    }

    /// <summary>Exports to Keras' layout (the inverse of <see cref="FromKeras"/>).</summary>
    /// <param name="kernel"><c>kernel</c>, <c>[I, 4H]</c>.</param>
    /// <param name="recurrentKernel"><c>recurrent_kernel</c>, <c>[H, 4H]</c>.</param>
    /// <param name="bias"><c>bias</c>, <c>[4H]</c>.</param>
    /// <exception cref="ArgumentException">A span has the wrong length.</exception>
    /// <exception cref="InvalidOperationException">The parameters have peepholes, which this format cannot hold.</exception>
    public void ToKeras(Span<float> kernel, Span<float> recurrentKernel, Span<float> bias)
    {
        ThrowIfPeepholesOnExport("Keras' LSTM");
        int rows = 4 * HiddenSize;
        ThrowHelper.CheckLength(kernel.Length, (long)InputSize * rows, nameof(kernel), "[I, 4H]");
        ThrowHelper.CheckLength(recurrentKernel.Length, (long)HiddenSize * rows, nameof(recurrentKernel), "[H, 4H]");
        ThrowHelper.CheckLength(bias.Length, rows, nameof(bias), "[4H]");
        Transpose(weightIh, kernel, rows, InputSize);
        Transpose(weightHh, recurrentKernel, rows, HiddenSize);
        this.bias.CopyTo(bias);
    }

    /// <summary>Exports to PyTorch's layout (the inverse of <see cref="FromPyTorch"/>): <c>bias_ih</c> = our bias, <c>bias_hh</c> = 0.</summary>
    /// <param name="weightIh"><c>weight_ih</c>, <c>[4H, I]</c>.</param>
    /// <param name="weightHh"><c>weight_hh</c>, <c>[4H, H]</c>.</param>
    /// <param name="biasIh"><c>bias_ih</c>, <c>[4H]</c>.</param>
    /// <param name="biasHh"><c>bias_hh</c>, <c>[4H]</c> (set to zero), or empty to skip it.</param>
    /// <exception cref="ArgumentException">A span has the wrong length.</exception>
    /// <exception cref="InvalidOperationException">The parameters have peepholes, which this format cannot hold.</exception>
    public void ToPyTorch(Span<float> weightIh, Span<float> weightHh, Span<float> biasIh, Span<float> biasHh)
    {
        ThrowIfPeepholesOnExport("PyTorch's LSTM");
        int rows = 4 * HiddenSize;
        ThrowHelper.CheckLength(weightIh.Length, (long)rows * InputSize, nameof(weightIh), "[4H, I]");
        ThrowHelper.CheckLength(weightHh.Length, (long)rows * HiddenSize, nameof(weightHh), "[4H, H]");
        ThrowHelper.CheckLength(biasIh.Length, rows, nameof(biasIh), "[4H]");
        if (!biasHh.IsEmpty)
        {
            ThrowHelper.CheckLength(biasHh.Length, rows, nameof(biasHh), "[4H], or empty");
            biasHh.Clear();
        }

        this.weightIh.CopyTo(weightIh);
        this.weightHh.CopyTo(weightHh);
        bias.CopyTo(biasIh);
    }

    /// <summary>Exports to the numpy seed's layout (the inverse of <see cref="FromSeed"/>).</summary>
    /// <param name="wF">Forget gate weights <c>(H + I, H)</c>.</param>
    /// <param name="wI">Input gate weights <c>(H + I, H)</c>.</param>
    /// <param name="wC">Cell candidate weights <c>(H + I, H)</c>.</param>
    /// <param name="wO">Output gate weights <c>(H + I, H)</c>.</param>
    /// <param name="bF">Forget gate bias <c>(1, H)</c>.</param>
    /// <param name="bI">Input gate bias <c>(1, H)</c>.</param>
    /// <param name="bC">Cell candidate bias <c>(1, H)</c>.</param>
    /// <param name="bO">Output gate bias <c>(1, H)</c>.</param>
    /// <exception cref="ArgumentException">A span has the wrong length.</exception>
    /// <exception cref="InvalidOperationException">The parameters have peepholes, which this format cannot hold.</exception>
    public void ToSeed(Span<float> wF, Span<float> wI, Span<float> wC, Span<float> wO, Span<float> bF, Span<float> bI, Span<float> bC, Span<float> bO)
    {
        ThrowIfPeepholesOnExport("the numpy seed");
        long matrix = ((long)HiddenSize + InputSize) * HiddenSize;
        ThrowHelper.CheckLength(wF.Length, matrix, nameof(wF), "(H + I, H)");
        ThrowHelper.CheckLength(wI.Length, matrix, nameof(wI), "(H + I, H)");
        ThrowHelper.CheckLength(wC.Length, matrix, nameof(wC), "(H + I, H)");
        ThrowHelper.CheckLength(wO.Length, matrix, nameof(wO), "(H + I, H)");
        ThrowHelper.CheckLength(bF.Length, HiddenSize, nameof(bF), "(1, H)");
        ThrowHelper.CheckLength(bI.Length, HiddenSize, nameof(bI), "(1, H)");
        ThrowHelper.CheckLength(bC.Length, HiddenSize, nameof(bC), "(1, H)");
        ThrowHelper.CheckLength(bO.Length, HiddenSize, nameof(bO), "(1, H)");
        GetSeedGate(0, wI, bI);
        GetSeedGate(1, wF, bF);
        GetSeedGate(2, wC, bC);
        GetSeedGate(3, wO, bO);
    }

    private void GetSeedGate(int gate, Span<float> w, Span<float> b)
    {
        int h = HiddenSize;
        int i = InputSize;
        for (int j = 0; j < h; j++)
        {
            int row = (gate * h) + j;
            for (int k = 0; k < h; k++)
            {
                w[(k * h) + j] = weightHh[(row * h) + k];
            }

            for (int m = 0; m < i; m++)
            {
                w[((h + m) * h) + j] = weightIh[(row * i) + m];
            }

            b[j] = bias[row];
        }
    }

    /// <summary><paramref name="destination"/> <c>[cols, rows]</c> = transpose of <paramref name="source"/> <c>[rows, cols]</c>.</summary>
    private static void Transpose(ReadOnlySpan<float> source, Span<float> destination, int rows, int cols)
    {
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++)
            {
                destination[(c * rows) + r] = source[(r * cols) + c];
            }
        }
    }

    private static string BiasOverflow(string paramName, int index) =>
        $"'{paramName}': the two bias halves sum to a non-finite value at index {index}; the summed bias must be finite.";
}
