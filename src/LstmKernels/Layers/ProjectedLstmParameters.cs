using LstmKernels.Internal;

namespace LstmKernels;

/// <summary>
/// The weights of one layer and direction of an LSTM with projections (PyTorch's <c>nn.LSTM(…, proj_size=P)</c>):
/// the cell has H units, the hidden state it carries and outputs has P.
/// </summary>
/// <remarks>
/// Gate order i, f, g, o as in <see cref="LstmParameters"/>. Per step: <c>z = x·WeightIhᵀ + h·WeightHhᵀ + Bias</c>
/// (h has P units), the usual pointwise stage gives <c>c_t</c> (H units) and <c>o_t ⊙ tanh(c_t)</c> (H units), and
/// <c>h_t = WeightHr · (o_t ⊙ tanh(c_t))</c> (P units). PyTorch requires <c>0 &lt; P &lt; H</c>, and so does this type.
/// The arrays are mutable; an <see cref="Lstm"/> copies them when it is built. Not thread-safe for writes.
/// </remarks>
public sealed class ProjectedLstmParameters
{
    private readonly float[] weightIh;
    private readonly float[] weightHh;
    private readonly float[] bias;
    private readonly float[] weightHr;

    /// <summary>Creates parameters of the given sizes, all zero.</summary>
    /// <param name="inputSize">I, the number of input features (at least 1).</param>
    /// <param name="hiddenSize">H, the number of cell units (at least 2).</param>
    /// <param name="projectionSize">P, the size of the hidden state and output (PyTorch's <c>proj_size</c>), 1..H−1.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is out of range, or the weights would not fit in one array.</exception>
    public ProjectedLstmParameters(int inputSize, int hiddenSize, int projectionSize)
    {
        if (inputSize < 1)
        {
            ThrowHelper.OutOfRange(nameof(inputSize), inputSize, "must be at least 1");
        }

        ThrowHelper.CheckSize(hiddenSize, nameof(hiddenSize));
        if (projectionSize < 1 || projectionSize >= hiddenSize)
        {
            ThrowHelper.OutOfRange(nameof(projectionSize), projectionSize, $"must be in 1..hiddenSize − 1 = {hiddenSize - 1} (PyTorch requires 0 < proj_size < hidden_size)");
        }

        if ((4L * hiddenSize * ((long)inputSize + projectionSize + 1)) + ((long)projectionSize * hiddenSize) > Array.MaxLength)
        {
            string which = inputSize > hiddenSize ? nameof(inputSize) : nameof(hiddenSize);
            ThrowHelper.OutOfRange(which, which == nameof(inputSize) ? inputSize : hiddenSize, $"with inputSize {inputSize}, hiddenSize {hiddenSize} and projectionSize {projectionSize} gives more weights than one array can hold");
        }

        InputSize = inputSize;
        HiddenSize = hiddenSize;
        ProjectionSize = projectionSize;
        weightIh = new float[4 * hiddenSize * inputSize];
        weightHh = new float[4 * hiddenSize * projectionSize];
        bias = new float[4 * hiddenSize];
        weightHr = new float[projectionSize * hiddenSize];
    }

    /// <summary>I, the number of input features.</summary>
    public int InputSize { get; }

    /// <summary>H, the number of cell units (the size of <c>c</c>).</summary>
    public int HiddenSize { get; }

    /// <summary>P, the size of the hidden state <c>h</c> and of the output (PyTorch's <c>proj_size</c>).</summary>
    public int ProjectionSize { get; }

    /// <summary>Input weights <c>[4H, I]</c>, row-major, gate blocks i, f, g, o (PyTorch's <c>weight_ih</c>).</summary>
    public Span<float> WeightIh => weightIh;

    /// <summary>Recurrent weights <c>[4H, P]</c>, row-major, gate blocks i, f, g, o (PyTorch's <c>weight_hh</c>).</summary>
    public Span<float> WeightHh => weightHh;

    /// <summary>The summed bias <c>[4H]</c> (PyTorch's <c>bias_ih + bias_hh</c>), gate blocks i, f, g, o.</summary>
    public Span<float> Bias => bias;

    /// <summary>Projection weights <c>[P, H]</c>, row-major (PyTorch's <c>weight_hr</c>): <c>h = WeightHr · (o ⊙ tanh(c))</c>.</summary>
    public Span<float> WeightHr => weightHr;

    /// <summary>Imports one layer and direction of PyTorch's <c>nn.LSTM(…, proj_size=P)</c>.</summary>
    /// <param name="inputSize">I.</param>
    /// <param name="hiddenSize">H.</param>
    /// <param name="projectionSize">P, 1..H−1.</param>
    /// <param name="weightIh"><c>weight_ih</c>, <c>[4H, I]</c> row-major, gate order i, f, g, o.</param>
    /// <param name="weightHh"><c>weight_hh</c>, <c>[4H, P]</c> row-major.</param>
    /// <param name="biasIh"><c>bias_ih</c>, <c>[4H]</c>; empty for a model built with <c>bias=False</c>.</param>
    /// <param name="biasHh"><c>bias_hh</c>, <c>[4H]</c>; empty for a model built with <c>bias=False</c>.</param>
    /// <param name="weightHr"><c>weight_hr</c>, <c>[P, H]</c> row-major.</param>
    /// <returns>New parameters with <c>Bias = biasIh + biasHh</c>.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A size is out of range.</exception>
    /// <exception cref="ArgumentException">A span has the wrong length or holds NaN or ∞, or the summed bias overflows.</exception>
    public static ProjectedLstmParameters FromPyTorch(
        int inputSize,
        int hiddenSize,
        int projectionSize,
        ReadOnlySpan<float> weightIh,
        ReadOnlySpan<float> weightHh,
        ReadOnlySpan<float> biasIh,
        ReadOnlySpan<float> biasHh,
        ReadOnlySpan<float> weightHr)
    {
        var p = new ProjectedLstmParameters(inputSize, hiddenSize, projectionSize);
        int rows = 4 * hiddenSize;
        LstmParameters.CheckFinite(weightIh, (long)rows * inputSize, nameof(weightIh), "[4H, I]");
        LstmParameters.CheckFinite(weightHh, (long)rows * projectionSize, nameof(weightHh), "[4H, P]");
        if (!biasIh.IsEmpty)
        {
            LstmParameters.CheckFinite(biasIh, rows, nameof(biasIh), "[4H], or empty for no bias");
        }

        if (!biasHh.IsEmpty)
        {
            LstmParameters.CheckFinite(biasHh, rows, nameof(biasHh), "[4H], or empty for no bias");
        }

        LstmParameters.CheckFinite(weightHr, (long)projectionSize * hiddenSize, nameof(weightHr), "[P, H]");
        weightIh.CopyTo(p.weightIh);
        weightHh.CopyTo(p.weightHh);
        weightHr.CopyTo(p.weightHr);
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
    /// Random parameters as PyTorch initialises an LSTM with projections: every weight (<c>weight_hr</c> too) and both
    /// biases from U(−1/√H, 1/√H), from a seeded generator, the same on every run.
    /// </summary>
    /// <param name="inputSize">I.</param>
    /// <param name="hiddenSize">H.</param>
    /// <param name="projectionSize">P, 1..H−1.</param>
    /// <param name="seed">The seed of the generator.</param>
    /// <returns>New parameters.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A size is out of range.</exception>
    public static ProjectedLstmParameters CreateRandom(int inputSize, int hiddenSize, int projectionSize, int seed)
    {
        var p = new ProjectedLstmParameters(inputSize, hiddenSize, projectionSize);
        var random = new Random(seed);
        float bound = 1f / MathF.Sqrt(hiddenSize);
        LstmParameters.Fill(random, p.weightIh, bound);
        LstmParameters.Fill(random, p.weightHh, bound);
        for (int r = 0; r < p.bias.Length; r++)
        {
            p.bias[r] = LstmParameters.Uniform(random, bound) + LstmParameters.Uniform(random, bound);
        }

        LstmParameters.Fill(random, p.weightHr, bound);
        return p;
    }

    /// <summary>Exports to PyTorch's layout (the inverse of <see cref="FromPyTorch"/>): <c>bias_ih</c> = our bias, <c>bias_hh</c> = 0.</summary>
    /// <param name="weightIh"><c>weight_ih</c>, <c>[4H, I]</c>.</param>
    /// <param name="weightHh"><c>weight_hh</c>, <c>[4H, P]</c>.</param>
    /// <param name="biasIh"><c>bias_ih</c>, <c>[4H]</c>.</param>
    /// <param name="biasHh"><c>bias_hh</c>, <c>[4H]</c> (set to zero), or empty to skip it.</param>
    /// <param name="weightHr"><c>weight_hr</c>, <c>[P, H]</c>.</param>
    /// <exception cref="ArgumentException">A span has the wrong length.</exception>
    public void ToPyTorch(Span<float> weightIh, Span<float> weightHh, Span<float> biasIh, Span<float> biasHh, Span<float> weightHr)
    {
        int rows = 4 * HiddenSize;
        ThrowHelper.CheckLength(weightIh.Length, (long)rows * InputSize, nameof(weightIh), "[4H, I]");
        ThrowHelper.CheckLength(weightHh.Length, (long)rows * ProjectionSize, nameof(weightHh), "[4H, P]");
        ThrowHelper.CheckLength(biasIh.Length, rows, nameof(biasIh), "[4H]");
        if (!biasHh.IsEmpty)
        {
            ThrowHelper.CheckLength(biasHh.Length, rows, nameof(biasHh), "[4H], or empty");
        }

        ThrowHelper.CheckLength(weightHr.Length, (long)ProjectionSize * HiddenSize, nameof(weightHr), "[P, H]");
        biasHh.Clear();
        this.weightIh.CopyTo(weightIh);
        this.weightHh.CopyTo(weightHh);
        bias.CopyTo(biasIh);
        this.weightHr.CopyTo(weightHr);
    }

    /// <summary>A deep copy.</summary>
    /// <returns>New parameters with the same sizes and values.</returns>
    public ProjectedLstmParameters Clone()
    {
        var p = new ProjectedLstmParameters(InputSize, HiddenSize, ProjectionSize);
        weightIh.CopyTo(p.weightIh, 0);
        weightHh.CopyTo(p.weightHh, 0);
        bias.CopyTo(p.bias, 0);
        weightHr.CopyTo(p.weightHr, 0);
        return p;
    }
}
