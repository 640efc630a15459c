using System.Numerics.Tensors;
using LstmKernels.Internal;

namespace LstmKernels.Training;

/// <summary>
/// Backpropagation through time for the whole shape of an <see cref="Lstm"/> (PyTorch's <c>nn.LSTM</c>): layers,
/// directions, batch-first layout, per-row sequence lengths and projections. A forward pass that caches what the
/// backward pass needs, and a backward pass that accumulates the gradient of every tensor of
/// <see cref="LstmStackParameters"/> and writes the gradients of the inputs and of the initial states. Zero allocation
/// per call after construction. Single-threaded: every call runs on the calling thread (<see cref="LstmOptions.StepThreads"/>
/// is ignored; train several models, or several shards of a batch with their own trainers, on several threads instead).
/// </summary>
/// <remarks>
/// <para>Shapes and semantics are those of <see cref="Lstm.Forward"/>: <c>x [T, B, I]</c> (<c>[B, T, I]</c> batch-first),
/// <c>y [T, B, D·S]</c>, states <c>[L·D, B, S]</c> for h and <c>[L·D, B, H]</c> for c (S = P with projections, else H).
/// A row b of length <c>L_b &lt; T</c> follows PyTorch's packed sequences (<c>pack_padded_sequence</c>): its forward
/// direction runs t = 0..L_b−1, its reverse direction starts at its own last step L_b−1, its outputs for t ≥ L_b are
/// zero and take no gradient, and its final state is the state after its L_b steps.</para>
/// <para>Forward, per layer and direction: the input half <c>x_t·W_ihᵀ + b</c> of every step at once (one
/// <see cref="Kernels.Linear"/> over all T·B rows, with <c>b = bias_ih + bias_hh</c>), then per step the recurrent half
/// <c>h·W_hhᵀ</c> for the batch and <see cref="Kernels.LstmPointwiseTraining"/>, which keeps the gate activations; with
/// projections <c>h = (o ⊙ tanh(c))·W_hrᵀ</c>.</para>
/// <para>Backward, per layer from the last, per direction, step by step back: <see cref="Kernels.LstmPointwiseBackward"/>
/// gives ∂L/∂z and ∂L/∂c_{t−1}, and <c>∂L/∂h_{t−1} = ∂L/∂z·W_hh</c>. Then, batched over all T·B rows at once (one pass
/// over each gradient matrix per call): <c>dW_ih += dZᵀ·X</c>, <c>dW_hh += dZᵀ·H_prev</c>, <c>db += Σ dZ</c> (into
/// <c>bias_ih</c> and <c>bias_hh</c> alike with <see cref="LstmBiasMode.Separate"/>), <c>dW_hr += dHᵀ·M</c> and the
/// layer's input gradient <c>dZ·W_ih</c>, which is the output gradient of the layer below.</para>
/// <para>Positions past a row's length take no part: the caches of those rows (the inputs, h_{t−1} and, with
/// projections, o ⊙ tanh(c_t)) are zeroed at every ragged <see cref="Forward"/>, so NaN or ∞ padding in x, or values an
/// earlier call left, cannot reach the batched products (0·NaN is NaN).</para>
/// <para>The weights are read from <see cref="Parameters"/> at every call, so an optimizer that updates them in place
/// is seen by the next <see cref="Forward"/>; call <see cref="Backward"/> before changing them. One instance is for one
/// thread.</para>
/// </remarks>
public sealed partial class LstmTrainer
{
    private readonly float[] xCache;
    private readonly float[][] layerOutput;
    private readonly float[][] activations;
    private readonly float[][] cellPrev;
    private readonly float[][] cellNew;
    private readonly float[][] hiddenPrev;
    private readonly float[][] hiddenFull;
    private readonly float[] dGates;
    private readonly float[] dHidden;
    private readonly float[] dLayerA;
    private readonly float[] dLayerB;
    private readonly float[] biasSum;
    private readonly float[] zStep;
    private readonly float[] dzStep;
    private readonly float[] hState;
    private readonly float[] cState;
    private readonly float[] dhState;
    private readonly float[] dcState;
    private readonly float[] dhNext;
    private readonly float[] dmStep;
    private readonly int[] lengths;

    /// <summary>Allocates the caches for sequences of up to <paramref name="maxSteps"/> steps of <paramref name="batchSize"/> rows.</summary>
    /// <param name="parameters">The tensors to train; read (not copied) at every call.</param>
    /// <param name="options">Direction and layout (<see cref="LstmOptions.Direction"/>, <see cref="LstmOptions.BatchFirst"/>); null for the default. Its number of directions must be the parameters'; <see cref="LstmOptions.Bias"/> must agree with the parameters' <see cref="LstmStackParameters.BiasMode"/>: false exactly with <see cref="LstmBiasMode.None"/> (no bias tensor, so nothing to update), true with Separate or Summed; the ONNX-only options (clip, input_forget, other activations, peepholes) and reduced precision are not trained, and <see cref="LstmOptions.StepThreads"/> is ignored (the trainer runs on the calling thread).</param>
    /// <param name="batchSize">B, the rows per step (at least 1).</param>
    /// <param name="maxSteps">The longest sequence (at least 1).</param>
    /// <exception cref="ArgumentNullException"><paramref name="parameters"/> is null.</exception>
    /// <exception cref="ArgumentException">The options do not fit the parameters (directions, or <see cref="LstmOptions.Bias"/> against the bias mode) or are not trainable.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A size is less than 1, or the caches would not fit in arrays.</exception>
    public LstmTrainer(LstmStackParameters parameters, LstmOptions? options, int batchSize, int maxSteps)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        options ??= LstmOptions.Default;
        if (options.Directions != parameters.Directions)
        {
            ThrowHelper.Argument(nameof(options), $"'options' has {options.Directions} direction(s); the parameters have {parameters.Directions}.");
        }

        if (!options.Bias && parameters.BiasMode != LstmBiasMode.None)
        {
            ThrowHelper.Argument(nameof(options), $"'options.Bias' is false (a model without biases), but the parameters have {parameters.BiasMode} biases; train LstmStackParameters with LstmBiasMode.None, which has no bias to update, or set Bias = true in the options.");
        }

        if (options.Bias && parameters.BiasMode == LstmBiasMode.None)
        {
            ThrowHelper.Argument(nameof(options), "'options.Bias' is true (a model with biases), but the parameters have LstmBiasMode.None (no bias tensor, so the model would train without biases); set Bias = false in the options (nn.LSTM(bias=False)), or train parameters with LstmBiasMode.Separate or Summed.");
        }

        if (!options.IsPlain || options.Precision != WeightPrecision.Float32)
        {
            ThrowHelper.Argument(nameof(options), "'options' asks for clip, input_forget, other activations, peepholes or reduced precision, which LstmTrainer does not train; it trains PyTorch's nn.LSTM (direction and batch_first).");
        }

        if (batchSize < 1)
        {
            ThrowHelper.OutOfRange(nameof(batchSize), batchSize, "must be at least 1");
        }

        if (maxSteps < 1)
        {
            ThrowHelper.OutOfRange(nameof(maxSteps), maxSteps, "must be at least 1");
        }

        Parameters = parameters;
        Options = options;
        BatchSize = batchSize;
        MaxSteps = maxSteps;
        int h = parameters.HiddenSize, s = parameters.StateSize, p = parameters.ProjectionSize;
        int cells = parameters.Layers * parameters.Directions;
        long rows = (long)maxSteps * batchSize;
        long widest = Math.Max((long)parameters.Directions * s, parameters.InputSize);
        if (rows * 4 * h > Array.MaxLength || rows * widest > Array.MaxLength)
        {
            ThrowHelper.OutOfRange(nameof(maxSteps), maxSteps, $"with batchSize {batchSize} gives caches larger than one array can hold");
        }

        int r = (int)rows;
        xCache = new float[r * parameters.InputSize];
        layerOutput = new float[parameters.Layers][];
        for (int l = 0; l < parameters.Layers; l++)
        {
            layerOutput[l] = new float[r * parameters.Directions * s];
        }

        activations = new float[cells][];
        cellPrev = new float[cells][];
        cellNew = new float[cells][];
        hiddenPrev = new float[cells][];
        hiddenFull = new float[cells][];
        for (int k = 0; k < cells; k++)
        {
            activations[k] = new float[r * 4 * h];
            cellPrev[k] = new float[r * h];
            cellNew[k] = new float[r * h];
            hiddenPrev[k] = new float[r * s];
            hiddenFull[k] = p > 0 ? new float[r * h] : [];
        }

        dGates = new float[r * 4 * h];
        dHidden = p > 0 ? new float[r * p] : [];
        dLayerA = new float[r * (int)widest];
        dLayerB = new float[r * (int)widest];
        biasSum = new float[4 * h];
        zStep = new float[batchSize * 4 * h];
        dzStep = new float[batchSize * 4 * h];
        hState = new float[batchSize * s];
        cState = new float[batchSize * h];
        dhState = new float[batchSize * s];
        dcState = new float[batchSize * h];
        dhNext = new float[batchSize * s];
        dmStep = new float[batchSize * h];
        lengths = new int[batchSize];
    }

    /// <summary>The tensors being trained.</summary>
    public LstmStackParameters Parameters { get; }

    /// <summary>Direction and layout.</summary>
    public LstmOptions Options { get; }

    /// <summary>B, the rows per step.</summary>
    public int BatchSize { get; }

    /// <summary>The longest sequence the caches hold.</summary>
    public int MaxSteps { get; }

    /// <summary>T of the last <see cref="Forward"/> (0 before the first).</summary>
    public int StepCount { get; private set; }

    /// <summary>Runs the sequences forward through every layer and direction, caching what <see cref="Backward"/> needs.</summary>
    /// <param name="x">Inputs <c>[T, B, I]</c> (batch-first: <c>[B, T, I]</c>), T ≤ <see cref="MaxSteps"/>; copied into the cache.</param>
    /// <param name="h0">Initial hidden states <c>[L·D, B, S]</c>, or empty for zeros.</param>
    /// <param name="c0">Initial cell states <c>[L·D, B, H]</c>, or empty for zeros.</param>
    /// <param name="y">The last layer's outputs <c>[T, B, D·S]</c> (batch-first: <c>[B, T, D·S]</c>), zero past each row's length; or empty.</param>
    /// <param name="hT">Final hidden states <c>[L·D, B, S]</c>, or empty; may be the same memory as <paramref name="h0"/>.</param>
    /// <param name="cT">Final cell states <c>[L·D, B, H]</c>, or empty; may be the same memory as <paramref name="c0"/>.</param>
    /// <param name="sequenceLengths">Each row's length <c>[B]</c>, each in 0..T, or empty for all T.</param>
    /// <exception cref="ArgumentException">A length does not fit the shapes above, a sequence length is out of range, or outputs overlap where not allowed.</exception>
    public void Forward(
        ReadOnlySpan<float> x,
        ReadOnlySpan<float> h0,
        ReadOnlySpan<float> c0,
        Span<float> y,
        Span<float> hT,
        Span<float> cT,
        ReadOnlySpan<int> sequenceLengths = default)
    {
        LstmStackParameters p = Parameters;
        int batch = BatchSize, input = p.InputSize, h = p.HiddenSize, s = p.StateSize, dirs = p.Directions;
        int stepInputs = batch * input;
        if (x.Length % stepInputs != 0 || x.Length / stepInputs > MaxSteps)
        {
            ThrowHelper.Argument(nameof(x), $"'x' has length {x.Length}; it must be [T, B, I] ([B, T, I] batch-first) with B = BatchSize = {batch}, I = {input} and T ≤ MaxSteps = {MaxSteps}.");
        }

        int steps = x.Length / stepInputs;
        long hStates = (long)p.Layers * dirs * batch * s, cStates = (long)p.Layers * dirs * batch * h;
        CheckOptional(h0.Length, hStates, nameof(h0), "[L·D, B, S], or empty for zeros");
        CheckOptional(c0.Length, cStates, nameof(c0), "[L·D, B, H], or empty for zeros");
        CheckOptional(y.Length, (long)steps * batch * dirs * s, nameof(y), "[T, B, D·S] ([B, T, D·S] batch-first), or empty");
        CheckOptional(hT.Length, hStates, nameof(hT), "[L·D, B, S], or empty");
        CheckOptional(cT.Length, cStates, nameof(cT), "[L·D, B, H], or empty");
        if (!sequenceLengths.IsEmpty)
        {
            ThrowHelper.CheckLength(sequenceLengths.Length, batch, nameof(sequenceLengths), "[B], or empty for all T");
            for (int b = 0; b < batch; b++)
            {
                if ((uint)sequenceLengths[b] > (uint)steps)
                {
                    ThrowHelper.Argument(nameof(sequenceLengths), $"'sequenceLengths[{b}]' is {sequenceLengths[b]}; each length must be in 0..T = {steps}.");
                }
            }
        }

        Aliasing.Sequence(x, h0, c0, y, hT, cT);

        StepCount = steps;
        if (sequenceLengths.IsEmpty)
        {
            lengths.AsSpan().Fill(steps);
        }
        else
        {
            sequenceLengths.CopyTo(lengths);
        }

        bool batchFirst = Options.BatchFirst;
        CopyLayout(x, xCache, steps, batch, input, toTimeMajor: batchFirst);
        int rows = steps * batch;
        bool uniform = Uniform(steps);
        if (!uniform)
        {
            // The weight-gradient products run over all T·B rows and multiply the rows past a row's length by a zero
            // gradient; 0·NaN and 0·∞ are NaN, so the caller's padding must not reach them: those rows become zero.
            ClearPastLengths(xCache, steps, input);
        }

        ReadOnlySpan<float> layerInput = xCache.AsSpan(0, rows * input);
        int inSize = input;
        for (int layer = 0; layer < p.Layers; layer++)
        {
            Span<float> output = layerOutput[layer].AsSpan(0, rows * dirs * s);
            if (!uniform)
            {
                output.Clear(); // the outputs past a row's length are zero; with every row full, each is written
            }

            for (int d = 0; d < dirs; d++)
            {
                // Cell k reads its slice of h0, c0 before it writes its slice of hT, cT, so hT = h0 in place works.
                int k = (layer * dirs) + d;
                LoadOrClear(h0.IsEmpty ? default : h0.Slice(k * batch * s, batch * s), hState);
                LoadOrClear(c0.IsEmpty ? default : c0.Slice(k * batch * h, batch * h), cState);
                ForwardCell(layer, d, steps, layerInput, inSize, output);
                StoreIfWanted(hState, hT, k);
                StoreIfWanted(cState, cT, k);
            }

            layerInput = output;
            inSize = dirs * s;
        }

        if (!y.IsEmpty)
        {
            CopyLayout(layerInput, y, steps, batch, dirs * s, toTimeMajor: false, batchFirst);
        }
    }

    /// <summary>
    /// Backpropagates through the last forward pass: accumulates (+=) the gradient of every tensor into
    /// <paramref name="gradient"/> and writes the gradients of the inputs and of the initial states.
    /// </summary>
    /// <param name="dY">∂L/∂y <c>[T, B, D·S]</c> (batch-first: <c>[B, T, D·S]</c>) with T of the last forward; or empty for zero. Values past a row's length are ignored.</param>
    /// <param name="dhT">∂L/∂hT, the gradient of the final hidden states <c>[L·D, B, S]</c>, or empty for zero.</param>
    /// <param name="dcT">∂L/∂cT <c>[L·D, B, H]</c>, or empty for zero.</param>
    /// <param name="gradient">Shaped like <see cref="Parameters"/> (<see cref="LstmStackParameters.CreateGradient"/>), accumulated (+=); clear it between batches.</param>
    /// <param name="dX">∂L/∂x <c>[T, B, I]</c> (batch-first: <c>[B, T, I]</c>), written (zero past each row's length); or empty to skip that product.</param>
    /// <param name="dh0">∂L/∂h0 <c>[L·D, B, S]</c>, written; or empty. May be the same memory as <paramref name="dhT"/>.</param>
    /// <param name="dc0">∂L/∂c0 <c>[L·D, B, H]</c>, written; or empty. May be the same memory as <paramref name="dcT"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="gradient"/> is null.</exception>
    /// <exception cref="ArgumentException">A length does not fit, <paramref name="gradient"/> has another layout, or an output overlaps another argument.</exception>
    public void Backward(
        ReadOnlySpan<float> dY,
        ReadOnlySpan<float> dhT,
        ReadOnlySpan<float> dcT,
        LstmStackParameters gradient,
        Span<float> dX,
        Span<float> dh0,
        Span<float> dc0)
    {
        ArgumentNullException.ThrowIfNull(gradient);
        LstmStackParameters p = Parameters;
        if (!p.SameLayout(gradient))
        {
            ThrowHelper.Argument(nameof(gradient), "'gradient' must have the layout of Parameters (Parameters.CreateGradient()).");
        }

        if (ReferenceEquals(gradient, p))
        {
            ThrowHelper.Argument(nameof(gradient), "'gradient' is Parameters itself; accumulate into a separate gradient (Parameters.CreateGradient()).");
        }

        int batch = BatchSize, input = p.InputSize, h = p.HiddenSize, s = p.StateSize, dirs = p.Directions;
        int steps = StepCount;
        long hStates = (long)p.Layers * dirs * batch * s, cStates = (long)p.Layers * dirs * batch * h;
        CheckOptional(dY.Length, (long)steps * batch * dirs * s, nameof(dY), "[T, B, D·S] ([B, T, D·S] batch-first) with T of the last Forward, or empty");
        CheckOptional(dhT.Length, hStates, nameof(dhT), "[L·D, B, S], or empty");
        CheckOptional(dcT.Length, cStates, nameof(dcT), "[L·D, B, H], or empty");
        CheckOptional(dX.Length, (long)steps * batch * input, nameof(dX), "[T, B, I] ([B, T, I] batch-first), or empty");
        CheckOptional(dh0.Length, hStates, nameof(dh0), "[L·D, B, S], or empty");
        CheckOptional(dc0.Length, cStates, nameof(dc0), "[L·D, B, H], or empty");
        CheckBackwardAliasing(dY, dhT, dcT, dX, dh0, dc0);

        int rows = steps * batch;
        bool batchFirst = Options.BatchFirst;
        Span<float> dOut = dLayerA.AsSpan(0, rows * dirs * s);
        if (dY.IsEmpty)
        {
            dOut.Clear();
        }
        else
        {
            CopyLayout(dY, dOut, steps, batch, dirs * s, toTimeMajor: batchFirst);
        }

        for (int layer = p.Layers - 1; layer >= 0; layer--)
        {
            int inSize = layer == 0 ? input : dirs * s;
            ReadOnlySpan<float> layerInput = layer == 0 ? xCache.AsSpan(0, rows * input) : layerOutput[layer - 1].AsSpan(0, rows * inSize);
            bool wantInput = layer > 0 || !dX.IsEmpty;
            Span<float> dIn = wantInput ? (layer % 2 == (p.Layers - 1) % 2 ? dLayerB : dLayerA).AsSpan(0, rows * inSize) : default;
            dIn.Clear();
            for (int d = 0; d < dirs; d++)
            {
                int k = (layer * dirs) + d;
                LoadOrClear(dhT.IsEmpty ? default : dhT.Slice(k * batch * s, batch * s), dhState);
                LoadOrClear(dcT.IsEmpty ? default : dcT.Slice(k * batch * h, batch * h), dcState);
                BackwardCell(layer, d, steps, layerInput, inSize, dOut, gradient, dIn);
                StoreIfWanted(dhState, dh0, k);
                StoreIfWanted(dcState, dc0, k);
            }

            dOut = dIn;
        }

        if (!dX.IsEmpty)
        {
            CopyLayout(dOut, dX, steps, batch, input, toTimeMajor: false, batchFirst);
        }
    }

    /// <summary>
    /// Outputs must not overlap inputs or each other, except that dh0 may be exactly dhT and dc0 exactly dcT (cell k reads
    /// its slice of dhT, dcT before it writes its slice of dh0, dc0).
    /// </summary>
    private static void CheckBackwardAliasing(
        ReadOnlySpan<float> dY, ReadOnlySpan<float> dhT, ReadOnlySpan<float> dcT, Span<float> dX, Span<float> dh0, Span<float> dc0)
    {
        Aliasing.Disjoint(dX, dY, nameof(dX), nameof(dY));
        Aliasing.Disjoint(dX, dhT, nameof(dX), nameof(dhT));
        Aliasing.Disjoint(dX, dcT, nameof(dX), nameof(dcT));
        Aliasing.Disjoint(dX, dh0, nameof(dX), nameof(dh0));
        Aliasing.Disjoint(dX, dc0, nameof(dX), nameof(dc0));
        Aliasing.AllowExactOnly(dh0, dhT, nameof(dh0), nameof(dhT));
        Aliasing.Disjoint(dh0, dY, nameof(dh0), nameof(dY));
        Aliasing.Disjoint(dh0, dcT, nameof(dh0), nameof(dcT));
        Aliasing.Disjoint(dh0, dc0, nameof(dh0), nameof(dc0));
        Aliasing.AllowExactOnly(dc0, dcT, nameof(dc0), nameof(dcT));
        Aliasing.Disjoint(dc0, dY, nameof(dc0), nameof(dY));
        Aliasing.Disjoint(dc0, dhT, nameof(dc0), nameof(dhT));
    }

    /// <summary>Writes one cell's <c>[B, ·]</c> state into slice <paramref name="cell"/> of <paramref name="all"/>, unless all is empty.</summary>
    private static void StoreIfWanted(ReadOnlySpan<float> state, Span<float> all, int cell)
    {
        if (!all.IsEmpty)
        {
            state.CopyTo(all.Slice(cell * state.Length, state.Length));
        }
    }

    private static void LoadOrClear(ReadOnlySpan<float> source, Span<float> destination)
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

    private static void CheckOptional(int actual, long expected, string paramName, string what)
    {
        if (actual != 0)
        {
            ThrowHelper.CheckLength(actual, expected, paramName, what);
        }
    }
}
