using LstmKernels.Internal;

namespace LstmKernels.Interop;

/// <summary>
/// ONNX's LSTM layout (operator <c>LSTM</c>, opsets 7–22): gate blocks i, o, f, c in <c>W [D, 4H, I]</c>,
/// <c>R [D, 4H, H]</c>, <c>B [D, 8H]</c>; peepholes <c>P [D, 3H]</c> as <c>[P_i | P_o | P_f]</c>.
/// </summary>
/// <remarks>
/// Weights convert per direction with <c>LstmParameters.FromOnnx</c> / <c>LstmParameters.ToOnnx</c>;
/// a whole one-layer ONNX node converts with <see cref="CreateLstm"/>. Our peephole order is <c>[P_i | P_f | P_o]</c>.
/// </remarks>
public static class OnnxLayout
{
    /// <summary>Converts one direction's ONNX peepholes <c>[P_i | P_o | P_f]</c> to ours <c>[P_i | P_f | P_o]</c>.</summary>
    /// <param name="p">ONNX <c>P[d]</c>, 3H values.</param>
    /// <param name="destination">Ours, 3H values; must not overlap <paramref name="p"/>.</param>
    /// <exception cref="ArgumentException">The lengths differ or are not a multiple of 3, or the spans overlap.</exception>
    public static void PeepholesFromOnnx(ReadOnlySpan<float> p, Span<float> destination) => SwapLastTwo(p, destination, nameof(p), nameof(destination));

    /// <summary>Converts our peepholes <c>[P_i | P_f | P_o]</c> to ONNX's <c>[P_i | P_o | P_f]</c>.</summary>
    /// <param name="peepholes">Ours, 3H values.</param>
    /// <param name="p">ONNX <c>P[d]</c>, 3H values; must not overlap <paramref name="peepholes"/>.</param>
    /// <exception cref="ArgumentException">The lengths differ or are not a multiple of 3, or the spans overlap.</exception>
    public static void PeepholesToOnnx(ReadOnlySpan<float> peepholes, Span<float> p) => SwapLastTwo(peepholes, p, nameof(peepholes), nameof(p));

    /// <summary>
    /// Builds an <see cref="Lstm"/> from the inputs and attributes of one ONNX LSTM node (one layer).
    /// </summary>
    /// <param name="hiddenSize">The <c>hidden_size</c> attribute.</param>
    /// <param name="w"><c>W [D, 4H, I]</c>.</param>
    /// <param name="r"><c>R [D, 4H, H]</c>.</param>
    /// <param name="b"><c>B [D, 8H]</c>, or empty for a node without <c>B</c> (the LSTM then has <see cref="LstmOptions.Bias"/> false).</param>
    /// <param name="p"><c>P [D, 3H]</c>, or empty for no peepholes.</param>
    /// <param name="options">
    /// Direction, clip, input_forget, activations and layout (<see cref="LstmOptions.BatchFirst"/> for <c>layout = 1</c>);
    /// its <see cref="LstmOptions.Peepholes"/> must be null (they come from <paramref name="p"/>).
    /// </param>
    /// <returns>The LSTM.</returns>
    /// <exception cref="ArgumentException">A tensor has the wrong length or holds NaN or ∞.</exception>
    public static Lstm CreateLstm(int hiddenSize, ReadOnlySpan<float> w, ReadOnlySpan<float> r, ReadOnlySpan<float> b, ReadOnlySpan<float> p, LstmOptions? options = null)
    {
        options ??= LstmOptions.Default;
        ThrowHelper.CheckSize(hiddenSize, nameof(hiddenSize));

#pragma warning disable CS0618 // The obsolete options.Peepholes is refused here: ONNX's P is the one place for them.
        if (options.Peepholes is not null)
#pragma warning restore CS0618
        {
            ThrowHelper.Argument(nameof(options), "'options.Peepholes' must be null; the peepholes come from 'p'.");
        }

        int dirs = options.Directions;
        long perDir = 4L * hiddenSize;
        if (w.Length == 0 || w.Length % (dirs * perDir) != 0)
        {
            ThrowHelper.NotMultiple(nameof(w), w.Length, dirs * perDir, "[D, 4H, I] with I ≥ 1");
        }

        int input = (int)(w.Length / (dirs * perDir));
        ThrowHelper.CheckLength(r.Length, dirs * perDir * hiddenSize, nameof(r), "[D, 4H, H]");
        if (!b.IsEmpty)
        {
            ThrowHelper.CheckLength(b.Length, dirs * 2 * perDir, nameof(b), "[D, 8H], or empty");
            if (!options.Bias)
            {
                ThrowHelper.Argument(nameof(options), "'options.Bias' is false, but 'b' is given; pass an empty 'b' for a model without biases.");
            }
        }

        if (!p.IsEmpty)
        {
            ThrowHelper.CheckLength(p.Length, 3L * dirs * hiddenSize, nameof(p), "[D, 3H], or empty");
        }

        var cells = new LstmParameters[dirs];
        int wd = (int)perDir * input, rd = (int)perDir * hiddenSize, bd = 2 * (int)perDir, pd = 3 * hiddenSize;
        for (int d = 0; d < dirs; d++)
        {
            cells[d] = LstmParameters.FromOnnx(
                input, hiddenSize, w.Slice(d * wd, wd), r.Slice(d * rd, rd), b.IsEmpty ? default : b.Slice(d * bd, bd), p.IsEmpty ? default : p.Slice(d * pd, pd));
        }

        return Lstm.Create(cells, b.IsEmpty ? options with { Bias = false } : options);
    }

    private static void SwapLastTwo(ReadOnlySpan<float> source, Span<float> destination, string sourceName, string destinationName)
    {
        if (source.Length % 3 != 0)
        {
            ThrowHelper.NotMultiple(sourceName, source.Length, 3, "[3H]");
        }

        ThrowHelper.CheckLength(destination.Length, source.Length, destinationName, "[3H], the length of the source");
        Aliasing.Disjoint(destination, source, destinationName, sourceName);
        int n = source.Length / 3;
        source[..n].CopyTo(destination);
        source.Slice(2 * n, n).CopyTo(destination.Slice(n, n));
        source.Slice(n, n).CopyTo(destination.Slice(2 * n, n));
    }
}
