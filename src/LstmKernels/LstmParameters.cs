using LstmKernels.Internal;

namespace LstmKernels;

/// <summary>
/// The weights of one LSTM cell in PyTorch's layout: the canonical form that users import, train and export,
/// and the shape of a gradient.
/// </summary>
/// <remarks>
/// Gate order i, f, g, o (input, forget, cell candidate, output). Row r of <see cref="WeightIh"/> and
/// <see cref="WeightHh"/> holds the weights of gate unit r, so block <c>[gate·H, (gate+1)·H)</c> of rows is one gate:
/// <c>z = x·WeightIhᵀ + h·WeightHhᵀ + Bias</c>. PyTorch's two biases (<c>bias_ih</c>, <c>bias_hh</c>) are summed into
/// <see cref="Bias"/>. ONNX's optional peepholes travel with the weights in <see cref="Peepholes"/> (empty unless the
/// parameters were created with them). The arrays are mutable; a <see cref="LstmCell"/> or an <see cref="Lstm"/>
/// copies (packs) them when it is built and does not see later changes. Not thread-safe for writes.
/// </remarks>
public sealed partial class LstmParameters
{
    private readonly float[] weightIh;
    private readonly float[] weightHh;
    private readonly float[] bias;
    private readonly float[] peepholes;

    /// <summary>Creates parameters of the given sizes, all zero, without peepholes.</summary>
    /// <param name="inputSize">I, the number of input features (at least 1).</param>
    /// <param name="hiddenSize">H, the number of hidden units (at least 1).</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is less than 1, or the weights would not fit in one array.</exception>
    public LstmParameters(int inputSize, int hiddenSize)
        : this(inputSize, hiddenSize, peepholes: false)
    {
    }

    /// <summary>Creates parameters of the given sizes, all zero, with or without (zero) peepholes.</summary>
    /// <param name="inputSize">I, the number of input features (at least 1).</param>
    /// <param name="hiddenSize">H, the number of hidden units (at least 1).</param>
    /// <param name="peepholes">Whether the cell has ONNX's peephole weights (<see cref="Peepholes"/>, 3H values).</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is less than 1, or the weights would not fit in one array.</exception>
    public LstmParameters(int inputSize, int hiddenSize, bool peepholes)
    {
        if (inputSize < 1)
        {
            ThrowHelper.OutOfRange(nameof(inputSize), inputSize, "must be at least 1");
        }

        ThrowHelper.CheckSize(hiddenSize, nameof(hiddenSize));

        if (4L * hiddenSize * ((long)inputSize + hiddenSize + 1) > Array.MaxLength)
        {
            string which = inputSize > hiddenSize ? nameof(inputSize) : nameof(hiddenSize);
            ThrowHelper.OutOfRange(which, which == nameof(inputSize) ? inputSize : hiddenSize, $"with inputSize {inputSize} and hiddenSize {hiddenSize} gives more weights than one array can hold");
        }

        InputSize = inputSize;
        HiddenSize = hiddenSize;
        weightIh = new float[4 * hiddenSize * inputSize];
        weightHh = new float[4 * hiddenSize * hiddenSize];
        bias = new float[4 * hiddenSize];
        this.peepholes = peepholes ? new float[3 * hiddenSize] : [];
    }

    /// <summary>I, the number of input features.</summary>
    public int InputSize { get; }

    /// <summary>H, the number of hidden units.</summary>
    public int HiddenSize { get; }

    /// <summary>Input weights <c>[4H, I]</c>, row-major, gate blocks i, f, g, o (PyTorch's <c>weight_ih</c>).</summary>
    public Span<float> WeightIh => weightIh;

    /// <summary>Recurrent weights <c>[4H, H]</c>, row-major, gate blocks i, f, g, o (PyTorch's <c>weight_hh</c>).</summary>
    public Span<float> WeightHh => weightHh;

    /// <summary>The summed bias <c>[4H]</c> (PyTorch's <c>bias_ih + bias_hh</c>), gate blocks i, f, g, o.</summary>
    public Span<float> Bias => bias;

    /// <summary>
    /// ONNX's peephole weights <c>[P_i | P_f | P_o]</c> (3H; ONNX's own <c>P</c> is <c>[P_i | P_o | P_f]</c>), or empty
    /// when the cell has none. With them, <c>i = σ(z_i + P_i⊙c_{t−1})</c>, <c>f = σ(z_f + P_f⊙c_{t−1})</c> and
    /// <c>o = σ(z_o + P_o⊙c_t)</c>. An <see cref="Lstm"/> runs them on its unfused route; <see cref="LstmCell"/> and the
    /// trainers have no peepholes and refuse such parameters.
    /// </summary>
    public Span<float> Peepholes => peepholes;

    /// <summary>Whether the cell has peepholes (<see cref="Peepholes"/> holds 3H values).</summary>
    public bool HasPeepholes => peepholes.Length != 0;

    /// <summary>Imports PyTorch's <c>nn.LSTMCell</c> / <c>nn.LSTM</c> layer weights.</summary>
    /// <param name="inputSize">I.</param>
    /// <param name="hiddenSize">H.</param>
    /// <param name="weightIh"><c>weight_ih</c>, <c>[4H, I]</c> row-major, gate order i, f, g, o.</param>
    /// <param name="weightHh"><c>weight_hh</c>, <c>[4H, H]</c> row-major.</param>
    /// <param name="biasIh"><c>bias_ih</c>, <c>[4H]</c>; empty for a model built with <c>bias=False</c>.</param>
    /// <param name="biasHh"><c>bias_hh</c>, <c>[4H]</c>; empty for a model built with <c>bias=False</c>.</param>
    /// <returns>New parameters with <c>Bias = biasIh + biasHh</c>.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A size is less than 1.</exception>
    /// <exception cref="ArgumentException">A span has the wrong length or holds NaN or ∞, or the summed bias overflows.</exception>
    public static LstmParameters FromPyTorch(
        int inputSize, int hiddenSize, ReadOnlySpan<float> weightIh, ReadOnlySpan<float> weightHh, ReadOnlySpan<float> biasIh, ReadOnlySpan<float> biasHh)
    {
        var p = new LstmParameters(inputSize, hiddenSize);
        int rows = 4 * hiddenSize;
        CheckFinite(weightIh, (long)rows * inputSize, nameof(weightIh), "[4H, I]");
        CheckFinite(weightHh, (long)rows * hiddenSize, nameof(weightHh), "[4H, H]");
        if (!biasIh.IsEmpty)
        {
            CheckFinite(biasIh, rows, nameof(biasIh), "[4H], or empty for no bias");
        }

        if (!biasHh.IsEmpty)
        {
            CheckFinite(biasHh, rows, nameof(biasHh), "[4H], or empty for no bias");
        }

        weightIh.CopyTo(p.weightIh);
        weightHh.CopyTo(p.weightHh);
        for (int r = 0; r < rows; r++)
        {
            float sum = (biasIh.IsEmpty ? 0f : biasIh[r]) + (biasHh.IsEmpty ? 0f : biasHh[r]);
            if (!float.IsFinite(sum))
            {
                ThrowHelper.Argument(nameof(biasHh), $"'biasIh' + 'biasHh' overflows to {sum} at index {r}; the summed bias must be finite.");
            }

            p.bias[r] = sum;
        }

        return p;
    }

    /// <summary>
    /// Imports the numpy seed's layout: four matrices <c>W_f, W_i, W_C, W_o</c> of shape <c>(H + I, H)</c>, row-major,
    /// applied to <c>concat(h_prev, x)</c> (rows 0..H−1 multiply h, rows H..H+I−1 multiply x), and four biases of H.
    /// </summary>
    /// <param name="inputSize">I.</param>
    /// <param name="hiddenSize">H.</param>
    /// <param name="wF">Forget gate weights <c>(H + I, H)</c>.</param>
    /// <param name="wI">Input gate weights <c>(H + I, H)</c>.</param>
    /// <param name="wC">Cell candidate weights <c>(H + I, H)</c>.</param>
    /// <param name="wO">Output gate weights <c>(H + I, H)</c>.</param>
    /// <param name="bF">Forget gate bias <c>(1, H)</c>.</param>
    /// <param name="bI">Input gate bias <c>(1, H)</c>.</param>
    /// <param name="bC">Cell candidate bias <c>(1, H)</c>.</param>
    /// <param name="bO">Output gate bias <c>(1, H)</c>.</param>
    /// <returns>New parameters in PyTorch layout: <c>WeightIh[g·H + j, m] = W_g[H + m, j]</c>, <c>WeightHh[g·H + j, k] = W_g[k, j]</c>.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A size is less than 1.</exception>
    /// <exception cref="ArgumentException">A span has the wrong length or holds NaN or ∞.</exception>
    public static LstmParameters FromSeed(
        int inputSize,
        int hiddenSize,
        ReadOnlySpan<float> wF,
        ReadOnlySpan<float> wI,
        ReadOnlySpan<float> wC,
        ReadOnlySpan<float> wO,
        ReadOnlySpan<float> bF,
        ReadOnlySpan<float> bI,
        ReadOnlySpan<float> bC,
        ReadOnlySpan<float> bO)
    {
        var p = new LstmParameters(inputSize, hiddenSize);
        long matrix = ((long)hiddenSize + inputSize) * hiddenSize;
        CheckFinite(wF, matrix, nameof(wF), "(H + I, H)");
        CheckFinite(wI, matrix, nameof(wI), "(H + I, H)");
        CheckFinite(wC, matrix, nameof(wC), "(H + I, H)");
        CheckFinite(wO, matrix, nameof(wO), "(H + I, H)");
        CheckFinite(bF, hiddenSize, nameof(bF), "(1, H)");
        CheckFinite(bI, hiddenSize, nameof(bI), "(1, H)");
        CheckFinite(bC, hiddenSize, nameof(bC), "(1, H)");
        CheckFinite(bO, hiddenSize, nameof(bO), "(1, H)");

        // Our gate order is i, f, g, o.
        p.SetSeedGate(0, wI, bI);
        p.SetSeedGate(1, wF, bF);
        p.SetSeedGate(2, wC, bC);
        p.SetSeedGate(3, wO, bO);
        return p;
    }

    /// <summary>
    /// Random parameters as PyTorch initialises an LSTM: every weight and both biases from U(−1/√H, 1/√H)
    /// (so <see cref="Bias"/>, their sum, spans ±2/√H), from a seeded generator, the same on every run.
    /// </summary>
    /// <param name="inputSize">I.</param>
    /// <param name="hiddenSize">H.</param>
    /// <param name="seed">The seed of the generator.</param>
    /// <returns>New parameters.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A size is less than 1.</exception>
    public static LstmParameters CreateRandom(int inputSize, int hiddenSize, int seed)
    {
        var p = new LstmParameters(inputSize, hiddenSize);
        var random = new Random(seed);
        float bound = 1f / MathF.Sqrt(hiddenSize);
        Fill(random, p.weightIh, bound);
        Fill(random, p.weightHh, bound);
        for (int r = 0; r < p.bias.Length; r++)
        {
            p.bias[r] = Uniform(random, bound) + Uniform(random, bound);
        }

        return p;
    }

    /// <summary>A deep copy.</summary>
    /// <returns>New parameters with the same sizes and values.</returns>
    public LstmParameters Clone()
    {
        var p = new LstmParameters(InputSize, HiddenSize, HasPeepholes);
        weightIh.CopyTo(p.weightIh, 0);
        weightHh.CopyTo(p.weightHh, 0);
        bias.CopyTo(p.bias, 0);
        peepholes.CopyTo(p.peepholes, 0);
        return p;
    }

    /// <summary>A deep copy with the given peepholes (ours, <c>[P_i | P_f | P_o]</c>) in place of any it has.</summary>
    internal LstmParameters CloneWithPeepholes(ReadOnlySpan<float> values)
    {
        var p = new LstmParameters(InputSize, HiddenSize, peepholes: true);
        weightIh.CopyTo(p.weightIh, 0);
        weightHh.CopyTo(p.weightHh, 0);
        bias.CopyTo(p.bias, 0);
        values.CopyTo(p.peepholes);
        return p;
    }

    /// <summary>Throws when these parameters have peepholes, which <paramref name="what"/> does not run.</summary>
    internal void ThrowIfPeepholes(string paramName, string what)
    {
        if (HasPeepholes)
        {
            ThrowHelper.Argument(paramName, $"'{paramName}' has peepholes; {what} has none. Run them in an Lstm (Lstm.Create), whose unfused route has them.");
        }
    }

    /// <summary>Throws when these parameters have peepholes, which the export format <paramref name="format"/> cannot hold.</summary>
    internal void ThrowIfPeepholesOnExport(string format)
    {
        if (HasPeepholes)
        {
            throw new InvalidOperationException($"These parameters have peepholes, which {format} has no place for; export them with ToOnnx(w, r, b, p).");
        }
    }

    private void SetSeedGate(int gate, ReadOnlySpan<float> w, ReadOnlySpan<float> b)
    {
        int h = HiddenSize;
        int i = InputSize;
        for (int j = 0; j < h; j++)
        {
            int row = (gate * h) + j;
            for (int k = 0; k < h; k++)
            {
                weightHh[(row * h) + k] = w[(k * h) + j];
            }

            for (int m = 0; m < i; m++)
            {
                weightIh[(row * i) + m] = w[((h + m) * h) + j];
            }

            bias[row] = b[j];
        }
    }

    internal static void CheckFinite(ReadOnlySpan<float> values, long expected, string paramName, string shape)
    {
        ThrowHelper.CheckLength(values.Length, expected, paramName, shape);
        for (int k = 0; k < values.Length; k++)
        {
            if (!float.IsFinite(values[k]))
            {
                ThrowHelper.Argument(paramName, $"'{paramName}' holds a non-finite value ({values[k]}) at index {k}; weights must be finite.");
            }
        }
    }

    internal static void Fill(Random random, Span<float> values, float bound)
    {
        for (int k = 0; k < values.Length; k++)
        {
            values[k] = Uniform(random, bound);
        }
    }

    internal static float Uniform(Random random, float bound) => (float)(((2 * random.NextDouble()) - 1) * bound);
}
