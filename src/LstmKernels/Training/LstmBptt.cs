using LstmKernels.Internal;

namespace LstmKernels.Training;

/// <summary>
/// Backpropagation through time for one LSTM layer over a sequence <c>[T, B, I]</c>: a forward pass that caches
/// what the backward pass needs, and a backward pass that accumulates the parameter gradients and returns the
/// gradients of the inputs and of the initial states. Zero allocation per call after construction.
/// </summary>
/// <remarks>
/// <para>Forward: the input half <c>x_t·Wᵢₕᵀ + b</c> of every step at once (<see cref="Kernels.Linear"/>), then per
/// step t <c>z = that + h_{t−1}·Wₕₕᵀ</c> and <see cref="Kernels.LstmPointwiseTraining"/>, which keeps the gate
/// activations (the unfused step that <see cref="Lstm"/> and <see cref="LstmSession"/> run, with a cache). Cached: the inputs, every h_t and
/// c_t (t = 0..T) and the activations.</para>
/// <para>Backward, t = T..1: <c>dh += dY_t</c>; <see cref="Kernels.LstmPointwiseBackward"/> gives dz_t and
/// dc_{t−1}; <c>dh_{t−1} = dz_t·Wₕₕ</c> (<see cref="Kernels.AccumulateInputGradient"/>). Then, batched over all
/// T·B rows at once: <c>dWᵢₕ += dZᵀ·X</c>, <c>dWₕₕ += dZᵀ·H_{prev}</c> (<see cref="Kernels.AccumulateWeightGradient"/>),
/// <c>db += Σ dZ</c> and <c>dX = dZ·Wᵢₕ</c>.</para>
/// <para>The weights are read from <see cref="Parameters"/> at every call, so an optimizer that updates them in
/// place is seen by the next <see cref="Forward"/>. Call <see cref="Backward"/> before changing the weights: it
/// uses the weights of the forward pass. One instance is for one thread.</para>
/// </remarks>
public sealed class LstmBptt
{
    private const string SequenceShape = "[T, B, I] with B = BatchSize, T ≤ MaxSteps";
    private const string StateShape = "[B, H] with B = BatchSize";

    private readonly float[] xCache;
    private readonly float[] hidden;
    private readonly float[] cell;
    private readonly float[] activations;
    private readonly float[] dGates;
    private readonly float[] dh;
    private readonly float[] dc;
    private readonly float[] recurrent;

    /// <summary>Allocates the caches for sequences of up to <paramref name="maxSteps"/> steps of <paramref name="batchSize"/> rows.</summary>
    /// <param name="parameters">The weights to train; read (not copied) at every call.</param>
    /// <param name="batchSize">B, the rows per step (at least 1).</param>
    /// <param name="maxSteps">The longest sequence (at least 1).</param>
    /// <exception cref="ArgumentNullException"><paramref name="parameters"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A size is less than 1.</exception>
    public LstmBptt(LstmParameters parameters, int batchSize, int maxSteps)
        : this(parameters, batchSize, maxSteps, bias: true)
    {
    }

    /// <summary>
    /// Allocates the caches, for a layer with or without a bias (PyTorch's <c>nn.LSTM(…, bias=False)</c>,
    /// <see cref="LstmOptions.Bias"/> false).
    /// </summary>
    /// <param name="parameters">The weights to train; read (not copied) at every call.</param>
    /// <param name="batchSize">B, the rows per step (at least 1).</param>
    /// <param name="maxSteps">The longest sequence (at least 1).</param>
    /// <param name="bias">False for a layer without a bias: <see cref="LstmParameters.Bias"/> must be zero, the forward pass
    /// adds none and <see cref="Backward"/> leaves the bias gradient untouched, so a cleared gradient keeps it at zero
    /// through SGD and Adam. The one-layer form of <see cref="LstmOptions.Bias"/> false and <see cref="LstmBiasMode.None"/>:
    /// pass false exactly for a model whose options have Bias false.</param>
    /// <exception cref="ArgumentNullException"><paramref name="parameters"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="bias"/> is false and the parameters' bias is not zero, or they have peepholes.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A size is less than 1.</exception>
    public LstmBptt(LstmParameters parameters, int batchSize, int maxSteps, bool bias)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!bias && !IsZero(parameters.Bias))
        {
            ThrowHelper.Argument(nameof(parameters), "'parameters.Bias' holds nonzero values, but 'bias' is false (a layer without a bias); zero it first.");
        }

        parameters.ThrowIfPeepholes(nameof(parameters), "LstmBptt");
        if (batchSize < 1)
        {
            ThrowHelper.OutOfRange(nameof(batchSize), batchSize, "must be at least 1");
        }

        if (maxSteps < 1)
        {
            ThrowHelper.OutOfRange(nameof(maxSteps), maxSteps, "must be at least 1");
        }

        Parameters = parameters;
        HasBias = bias;
        BatchSize = batchSize;
        MaxSteps = maxSteps;
        int states = batchSize * parameters.HiddenSize;
        xCache = new float[maxSteps * batchSize * parameters.InputSize];
        hidden = new float[(maxSteps + 1) * states];
        cell = new float[(maxSteps + 1) * states];
        activations = new float[maxSteps * 4 * states];
        dGates = new float[maxSteps * 4 * states];
        dh = new float[states];
        dc = new float[states];
        recurrent = new float[4 * states];
    }

    /// <summary>The weights being trained.</summary>
    public LstmParameters Parameters { get; }

    /// <summary>I.</summary>
    public int InputSize => Parameters.InputSize;

    /// <summary>H.</summary>
    public int HiddenSize => Parameters.HiddenSize;

    /// <summary>Whether the layer has a bias (false: it stays zero and takes no gradient).</summary>
    public bool HasBias { get; }

    /// <summary>B, the rows per step.</summary>
    public int BatchSize { get; }

    /// <summary>The longest sequence the caches hold.</summary>
    public int MaxSteps { get; }

    /// <summary>T of the last <see cref="Forward"/> (0 before the first).</summary>
    public int StepCount { get; private set; }

    /// <summary>The hidden states h_1..h_T of the last forward pass, <c>[T, B, H]</c>: its <c>y</c>.</summary>
    public ReadOnlySpan<float> Y => hidden.AsSpan(BatchSize * HiddenSize, StepCount * BatchSize * HiddenSize);

    /// <summary>The hidden state after the last forward pass, h_T <c>[B, H]</c>.</summary>
    public ReadOnlySpan<float> HiddenState => hidden.AsSpan(StepCount * BatchSize * HiddenSize, BatchSize * HiddenSize);

    /// <summary>The cell state after the last forward pass, c_T <c>[B, H]</c>.</summary>
    public ReadOnlySpan<float> CellState => cell.AsSpan(StepCount * BatchSize * HiddenSize, BatchSize * HiddenSize);

    /// <summary>T of the last forward pass; use <see cref="StepCount"/>.</summary>
    [Obsolete("Use StepCount. This property will be removed in the next release.")]
    public int Steps => StepCount;

    /// <summary>h_1..h_T of the last forward pass; use <see cref="Y"/>.</summary>
    [Obsolete("Use Y. This property will be removed in the next release.")]
    public ReadOnlySpan<float> Outputs => Y;

    /// <summary>h_T of the last forward pass; use <see cref="HiddenState"/>.</summary>
    [Obsolete("Use HiddenState. This property will be removed in the next release.")]
    public ReadOnlySpan<float> FinalHidden => HiddenState;

    /// <summary>c_T of the last forward pass; use <see cref="CellState"/>.</summary>
    [Obsolete("Use CellState. This property will be removed in the next release.")]
    public ReadOnlySpan<float> FinalCell => CellState;

    /// <summary>Runs the sequence forward from (<paramref name="h0"/>, <paramref name="c0"/>), caching what <see cref="Backward"/> needs.</summary>
    /// <param name="x">The x <c>[T, B, I]</c>, T ≤ <see cref="MaxSteps"/>; copied into the cache.</param>
    /// <param name="h0">The initial hidden state <c>[B, H]</c>, or empty for zeros.</param>
    /// <param name="c0">The initial cell state <c>[B, H]</c>, or empty for zeros.</param>
    /// <param name="y">h_1..h_T <c>[T, B, H]</c>, or empty (they stay readable in <see cref="Y"/>).</param>
    /// <exception cref="ArgumentException">A length does not fit.</exception>
    public void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> h0, ReadOnlySpan<float> c0, Span<float> y)
    {
        int input = InputSize;
        int hs = HiddenSize;
        int stepInputs = BatchSize * input;
        int states = BatchSize * hs;
        if (x.Length % stepInputs != 0 || x.Length / stepInputs > MaxSteps)
        {
            ThrowHelper.Argument(nameof(x), "'x' must be [T, B, I] with B = BatchSize, I = InputSize and T ≤ MaxSteps.");
        }

        int steps = x.Length / stepInputs;
        CheckOptional(h0.Length, states, nameof(h0));
        CheckOptional(c0.Length, states, nameof(c0));
        if (!y.IsEmpty)
        {
            ThrowHelper.CheckLength(y.Length, (long)steps * states, nameof(y), "[T, B, H], or empty");
        }

        StepCount = steps;
        x.CopyTo(xCache);
        CopyOrClear(h0, hidden.AsSpan(0, states));
        CopyOrClear(c0, cell.AsSpan(0, states));
        // The input half of every step at once (one matrix-matrix pass over Wᵢₕ, into the activations cache), then per
        // step the recurrent half and the pointwise stage: the unfused step of the layers (UnfusedStep).
        ReadOnlySpan<float> wHh = Parameters.WeightHh;
        Kernels.LinearUnchecked(input, xCache.AsSpan(0, steps * stepInputs), Parameters.WeightIh, HasBias ? Parameters.Bias : default, activations.AsSpan(0, steps * 4 * states));
        for (int t = 0; t < steps; t++)
        {
            Span<float> act = activations.AsSpan(t * 4 * states, 4 * states);
            UnfusedStep.AddRecurrent(hs, hidden.AsSpan(t * states, states), wHh, recurrent, act);
            Kernels.LstmPointwiseTrainingUnchecked(
                hs, act, cell.AsSpan(t * states, states), act, hidden.AsSpan((t + 1) * states, states), cell.AsSpan((t + 1) * states, states));
        }

        if (!y.IsEmpty)
        {
            Y.CopyTo(y);
        }
    }

    /// <summary>
    /// Backpropagates through the last forward pass: accumulates (+=) the gradients of every weight and bias into
    /// <paramref name="gradient"/> and writes the gradients of the inputs and of the initial states.
    /// </summary>
    /// <param name="dY">∂L/∂h_t for t = 1..T <c>[T, B, H]</c>.</param>
    /// <param name="dhT">∂L/∂h_T from beyond the sequence <c>[B, H]</c>, or empty for zero.</param>
    /// <param name="dcT">∂L/∂c_T from beyond the sequence <c>[B, H]</c>, or empty for zero.</param>
    /// <param name="gradient">Gradients shaped like <see cref="Parameters"/>, accumulated (+=); clear them between batches. Without a bias (<see cref="HasBias"/> false) its bias is left as it is.</param>
    /// <param name="dX">∂L/∂x <c>[T, B, I]</c>, written; or empty to skip that product.</param>
    /// <param name="dh0">∂L/∂h0 <c>[B, H]</c>, written; or empty.</param>
    /// <param name="dc0">∂L/∂c0 <c>[B, H]</c>, written; or empty.</param>
    /// <exception cref="ArgumentNullException"><paramref name="gradient"/> is null.</exception>
    /// <exception cref="ArgumentException">A length does not fit, or <paramref name="gradient"/> has other sizes.</exception>
    public void Backward(
        ReadOnlySpan<float> dY,
        ReadOnlySpan<float> dhT,
        ReadOnlySpan<float> dcT,
        LstmParameters gradient,
        Span<float> dX,
        Span<float> dh0,
        Span<float> dc0)
    {
        ArgumentNullException.ThrowIfNull(gradient);
        int hs = HiddenSize;
        int states = BatchSize * hs;
        int steps = StepCount;
        int stepInputs = BatchSize * InputSize;
        if (gradient.InputSize != InputSize || gradient.HiddenSize != hs)
        {
            ThrowHelper.Argument(nameof(gradient), "'gradient' must have the sizes of Parameters.");
        }

        ThrowHelper.CheckLength(dY.Length, (long)steps * states, nameof(dY), "[T, B, H] with T of the last Forward");
        CheckOptional(dhT.Length, states, nameof(dhT));
        CheckOptional(dcT.Length, states, nameof(dcT));
        CheckOptional(dX.Length, (long)steps * stepInputs, nameof(dX));
        CheckOptional(dh0.Length, states, nameof(dh0));
        CheckOptional(dc0.Length, states, nameof(dc0));

        ReadOnlySpan<float> wIh = Parameters.WeightIh;
        ReadOnlySpan<float> wHh = Parameters.WeightHh;
        Span<float> dhs = dh;
        Span<float> dcs = dc;
        if (dhT.IsEmpty)
        {
            dhs.Clear();
        }
        else
        {
            dhT.CopyTo(dhs);
        }

        if (dcT.IsEmpty)
        {
            dcs.Clear();
        }
        else
        {
            dcT.CopyTo(dcs);
        }

        for (int t = steps - 1; t >= 0; t--)
        {
            System.Numerics.Tensors.TensorPrimitives.Add(dhs, dY.Slice(t * states, states), dhs);
            Span<float> dz = dGates.AsSpan(t * 4 * states, 4 * states);
            Kernels.LstmPointwiseBackwardUnchecked(
                hs, activations.AsSpan(t * 4 * states, 4 * states), cell.AsSpan(t * states, states), cell.AsSpan((t + 1) * states, states), dhs, dcs, dz, dcs);
            dhs.Clear();
            Kernels.AccumulateInputGradientUnchecked(hs, dz, wHh, dhs);
        }

        if (steps > 0)
        {
            ReadOnlySpan<float> dzAll = dGates.AsSpan(0, steps * 4 * states);
            Kernels.AccumulateWeightGradientUnchecked(hs, dzAll, xCache.AsSpan(0, steps * stepInputs), gradient.WeightIh);
            Kernels.AccumulateWeightGradientUnchecked(hs, dzAll, hidden.AsSpan(0, steps * states), gradient.WeightHh);
            if (HasBias)
            {
                Kernels.AccumulateBiasGradientUnchecked(dzAll, gradient.Bias);
            }

            if (!dX.IsEmpty)
            {
                dX.Clear();
                Kernels.AccumulateInputGradient(hs, dzAll, wIh, dX); // checked: dX is the caller's span and must not overlap the weights
            }
        }

        if (!dh0.IsEmpty)
        {
            dhs.CopyTo(dh0);
        }

        if (!dc0.IsEmpty)
        {
            dcs.CopyTo(dc0);
        }
    }

    private static bool IsZero(ReadOnlySpan<float> values)
    {
        foreach (float v in values)
        {
            if (v != 0)
            {
                return false;
            }
        }

        return true;
    }

    private static void CopyOrClear(ReadOnlySpan<float> source, Span<float> destination)
    {
        if (source.IsEmpty)
        {
            destination.Clear();
        }
        else
        {
            source.CopyTo(destination);
        }
    }

    private static void CheckOptional(int actual, long expected, string paramName)
    {
        if (actual != 0)
        {
            ThrowHelper.CheckLength(actual, expected, paramName, "its shape, or empty");
        }
    }
}
