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
/// <para>Backward, t = T..1: <c>dh += dOutputs_t</c>; <see cref="Kernels.LstmPointwiseBackward"/> gives dz_t and
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

    private readonly float[] inputs;
    private readonly float[] hidden;
    private readonly float[] cell;
    private readonly float[] activations;
    private readonly float[] dGates;
    private readonly float[] dh;
    private readonly float[] dc;
    private readonly float[] recurrent;
    private readonly float[] zeroBias;

    /// <summary>Allocates the caches for sequences of up to <paramref name="maxSteps"/> steps of <paramref name="batchSize"/> rows.</summary>
    /// <param name="parameters">The weights to train; read (not copied) at every call.</param>
    /// <param name="batchSize">B, the rows per step (at least 1).</param>
    /// <param name="maxSteps">The longest sequence (at least 1).</param>
    /// <exception cref="ArgumentNullException"><paramref name="parameters"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A size is less than 1.</exception>
    public LstmBptt(LstmParameters parameters, int batchSize, int maxSteps)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (batchSize < 1)
        {
            ThrowHelper.OutOfRange(nameof(batchSize), batchSize, "must be at least 1");
        }

        if (maxSteps < 1)
        {
            ThrowHelper.OutOfRange(nameof(maxSteps), maxSteps, "must be at least 1");
        }

        Parameters = parameters;
        BatchSize = batchSize;
        MaxSteps = maxSteps;
        int states = batchSize * parameters.HiddenSize;
        inputs = new float[maxSteps * batchSize * parameters.InputSize];
        hidden = new float[(maxSteps + 1) * states];
        cell = new float[(maxSteps + 1) * states];
        activations = new float[maxSteps * 4 * states];
        dGates = new float[maxSteps * 4 * states];
        dh = new float[states];
        dc = new float[states];
        recurrent = new float[4 * states];
        zeroBias = new float[4 * parameters.HiddenSize];
    }

    /// <summary>The weights being trained.</summary>
    public LstmParameters Parameters { get; }

    /// <summary>I.</summary>
    public int InputSize => Parameters.InputSize;

    /// <summary>H.</summary>
    public int HiddenSize => Parameters.HiddenSize;

    /// <summary>B, the rows per step.</summary>
    public int BatchSize { get; }

    /// <summary>The longest sequence the caches hold.</summary>
    public int MaxSteps { get; }

    /// <summary>T of the last <see cref="Forward"/> (0 before the first).</summary>
    public int Steps { get; private set; }

    /// <summary>The hidden states h_1..h_T of the last forward pass, <c>[T, B, H]</c>.</summary>
    public ReadOnlySpan<float> Outputs => hidden.AsSpan(BatchSize * HiddenSize, Steps * BatchSize * HiddenSize);

    /// <summary>h_T of the last forward pass, <c>[B, H]</c>.</summary>
    public ReadOnlySpan<float> FinalHidden => hidden.AsSpan(Steps * BatchSize * HiddenSize, BatchSize * HiddenSize);

    /// <summary>c_T of the last forward pass, <c>[B, H]</c>.</summary>
    public ReadOnlySpan<float> FinalCell => cell.AsSpan(Steps * BatchSize * HiddenSize, BatchSize * HiddenSize);

    /// <summary>Runs the sequence forward from (<paramref name="h0"/>, <paramref name="c0"/>), caching what <see cref="Backward"/> needs.</summary>
    /// <param name="inputs">The inputs <c>[T, B, I]</c>, T ≤ <see cref="MaxSteps"/>; copied into the cache.</param>
    /// <param name="h0">The initial hidden state <c>[B, H]</c>.</param>
    /// <param name="c0">The initial cell state <c>[B, H]</c>.</param>
    /// <param name="outputs">h_1..h_T <c>[T, B, H]</c>, or empty (they stay readable in <see cref="Outputs"/>).</param>
    /// <exception cref="ArgumentException">A length does not fit.</exception>
    public void Forward(ReadOnlySpan<float> inputs, ReadOnlySpan<float> h0, ReadOnlySpan<float> c0, Span<float> outputs)
    {
        int input = InputSize;
        int hs = HiddenSize;
        int stepInputs = BatchSize * input;
        int states = BatchSize * hs;
        if (inputs.Length % stepInputs != 0 || inputs.Length / stepInputs > MaxSteps)
        {
            ThrowHelper.Argument(nameof(inputs), "'inputs' must be [T, B, I] with B = BatchSize, I = InputSize and T ≤ MaxSteps.");
        }

        int steps = inputs.Length / stepInputs;
        ThrowHelper.CheckLength(h0.Length, states, nameof(h0), StateShape);
        ThrowHelper.CheckLength(c0.Length, states, nameof(c0), StateShape);
        if (!outputs.IsEmpty)
        {
            ThrowHelper.CheckLength(outputs.Length, (long)steps * states, nameof(outputs), "[T, B, H], or empty");
        }

        Steps = steps;
        inputs.CopyTo(this.inputs);
        h0.CopyTo(hidden);
        c0.CopyTo(cell);
        // The input half of every step at once (one matrix-matrix pass over Wᵢₕ, into the activations cache), then per
        // step the recurrent half and the pointwise stage: the unfused step of the layers (UnfusedStep).
        ReadOnlySpan<float> wHh = Parameters.WeightHh;
        Kernels.Linear(this.inputs.AsSpan(0, steps * stepInputs), Parameters.WeightIh, Parameters.Bias, activations.AsSpan(0, steps * 4 * states));
        for (int t = 0; t < steps; t++)
        {
            Span<float> act = activations.AsSpan(t * 4 * states, 4 * states);
            UnfusedStep.AddRecurrent(hidden.AsSpan(t * states, states), wHh, zeroBias, recurrent, act);
            Kernels.LstmPointwiseTraining(
                hs, act, cell.AsSpan(t * states, states), act, hidden.AsSpan((t + 1) * states, states), cell.AsSpan((t + 1) * states, states));
        }

        if (!outputs.IsEmpty)
        {
            Outputs.CopyTo(outputs);
        }
    }

    /// <summary>
    /// Backpropagates through the last forward pass: accumulates (+=) the gradients of every weight and bias into
    /// <paramref name="gradient"/> and writes the gradients of the inputs and of the initial states.
    /// </summary>
    /// <param name="dOutputs">∂L/∂h_t for t = 1..T <c>[T, B, H]</c>.</param>
    /// <param name="dhFinal">∂L/∂h_T from beyond the sequence <c>[B, H]</c>, or empty for zero.</param>
    /// <param name="dcFinal">∂L/∂c_T from beyond the sequence <c>[B, H]</c>, or empty for zero.</param>
    /// <param name="gradient">Gradients shaped like <see cref="Parameters"/>, accumulated (+=); clear them between batches.</param>
    /// <param name="dInputs">∂L/∂x <c>[T, B, I]</c>, written; or empty to skip that product.</param>
    /// <param name="dh0">∂L/∂h0 <c>[B, H]</c>, written; or empty.</param>
    /// <param name="dc0">∂L/∂c0 <c>[B, H]</c>, written; or empty.</param>
    /// <exception cref="ArgumentNullException"><paramref name="gradient"/> is null.</exception>
    /// <exception cref="ArgumentException">A length does not fit, or <paramref name="gradient"/> has other sizes.</exception>
    public void Backward(
        ReadOnlySpan<float> dOutputs,
        ReadOnlySpan<float> dhFinal,
        ReadOnlySpan<float> dcFinal,
        LstmParameters gradient,
        Span<float> dInputs,
        Span<float> dh0,
        Span<float> dc0)
    {
        ArgumentNullException.ThrowIfNull(gradient);
        int hs = HiddenSize;
        int states = BatchSize * hs;
        int steps = Steps;
        int stepInputs = BatchSize * InputSize;
        if (gradient.InputSize != InputSize || gradient.HiddenSize != hs)
        {
            ThrowHelper.Argument(nameof(gradient), "'gradient' must have the sizes of Parameters.");
        }

        ThrowHelper.CheckLength(dOutputs.Length, (long)steps * states, nameof(dOutputs), "[T, B, H] with T of the last Forward");
        CheckOptional(dhFinal.Length, states, nameof(dhFinal));
        CheckOptional(dcFinal.Length, states, nameof(dcFinal));
        CheckOptional(dInputs.Length, (long)steps * stepInputs, nameof(dInputs));
        CheckOptional(dh0.Length, states, nameof(dh0));
        CheckOptional(dc0.Length, states, nameof(dc0));

        ReadOnlySpan<float> wIh = Parameters.WeightIh;
        ReadOnlySpan<float> wHh = Parameters.WeightHh;
        Span<float> dhs = dh;
        Span<float> dcs = dc;
        if (dhFinal.IsEmpty)
        {
            dhs.Clear();
        }
        else
        {
            dhFinal.CopyTo(dhs);
        }

        if (dcFinal.IsEmpty)
        {
            dcs.Clear();
        }
        else
        {
            dcFinal.CopyTo(dcs);
        }

        for (int t = steps - 1; t >= 0; t--)
        {
            System.Numerics.Tensors.TensorPrimitives.Add(dhs, dOutputs.Slice(t * states, states), dhs);
            Span<float> dz = dGates.AsSpan(t * 4 * states, 4 * states);
            Kernels.LstmPointwiseBackward(
                hs, activations.AsSpan(t * 4 * states, 4 * states), cell.AsSpan(t * states, states), cell.AsSpan((t + 1) * states, states), dhs, dcs, dz, dcs);
            dhs.Clear();
            Kernels.AccumulateInputGradient(hs, dz, wHh, dhs);
        }

        if (steps > 0)
        {
            ReadOnlySpan<float> dzAll = dGates.AsSpan(0, steps * 4 * states);
            Kernels.AccumulateWeightGradient(hs, dzAll, inputs.AsSpan(0, steps * stepInputs), gradient.WeightIh);
            Kernels.AccumulateWeightGradient(hs, dzAll, hidden.AsSpan(0, steps * states), gradient.WeightHh);
            Kernels.AccumulateBiasGradient(dzAll, gradient.Bias);
            if (!dInputs.IsEmpty)
            {
                dInputs.Clear();
                Kernels.AccumulateInputGradient(hs, dzAll, wIh, dInputs);
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

    private static void CheckOptional(int actual, long expected, string paramName)
    {
        if (actual != 0)
        {
            ThrowHelper.CheckLength(actual, expected, paramName, "its shape, or empty");
        }
    }
}
