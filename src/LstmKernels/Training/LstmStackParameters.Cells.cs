using LstmKernels.Internal;

namespace LstmKernels.Training;

/// <summary>The conversions between a stack and the per-cell weights of an <see cref="Lstm"/>.</summary>
public sealed partial class LstmStackParameters
{
    /// <summary>
    /// The weights of <paramref name="lstm"/> (with or without projections), to train: each cell's summed bias goes to
    /// <c>bias_ih</c>, <c>bias_hh</c> starts at zero. Train with <paramref name="lstm"/>'s <see cref="Lstm.Options"/>.
    /// </summary>
    /// <param name="lstm">The model; its weights are copied (with reduced precision, the rounded ones it computes with).</param>
    /// <param name="biasMode">Which bias tensors are parameters; it must agree with the model's <see cref="LstmOptions.Bias"/>: <see cref="LstmBiasMode.None"/> exactly for a model without biases (Bias false), Separate or Summed for a model with biases.</param>
    /// <returns>New parameters.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="lstm"/> is null.</exception>
    /// <exception cref="ArgumentException">The model has peepholes, or <paramref name="biasMode"/> does not agree with its <see cref="LstmOptions.Bias"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="biasMode"/> is undefined.</exception>
    public static LstmStackParameters FromLstm(Lstm lstm, LstmBiasMode biasMode)
    {
        ArgumentNullException.ThrowIfNull(lstm);
        if (!lstm.Options.Bias && biasMode != LstmBiasMode.None)
        {
            ThrowHelper.Argument(nameof(biasMode), $"The model has no biases (Options.Bias false); training it with {biasMode} biases would add some. Use LstmBiasMode.None.");
        }

        if (lstm.Options.Bias && biasMode == LstmBiasMode.None)
        {
            ThrowHelper.Argument(nameof(biasMode), "The model has biases (Options.Bias true); LstmBiasMode.None would train it without them. Use LstmBiasMode.Separate or Summed.");
        }

        int count = lstm.Layers * lstm.Directions;
        if (lstm.ProjectionSize > 0)
        {
            var projected = new ProjectedLstmParameters[count];
            for (int k = 0; k < count; k++)
            {
                projected[k] = lstm.GetProjectedParameters(k / lstm.Directions, k % lstm.Directions);
            }

            return FromProjectedCells(projected, lstm.Directions, biasMode);
        }

        var cells = new LstmParameters[count];
        for (int k = 0; k < count; k++)
        {
            cells[k] = lstm.GetParameters(k / lstm.Directions, k % lstm.Directions);
            cells[k].ThrowIfPeepholes(nameof(lstm), "training");
        }

        return FromCells(cells, lstm.Directions, biasMode);
    }

    /// <summary>
    /// Stacks the weights of an <see cref="Lstm"/> without projections (<see cref="Lstm.GetParameters"/>, or the cells given
    /// to <see cref="Lstm.Create"/>): each cell's summed bias goes to <c>bias_ih</c>, <c>bias_hh</c> starts at zero.
    /// </summary>
    /// <param name="cells">Weights per layer and direction, index <c>layer·D + direction</c>; copied. Layer 0 has input size I, later layers D·H; no peepholes.</param>
    /// <param name="directions">D: 1, or 2 for bidirectional.</param>
    /// <param name="biasMode">Which bias tensors are parameters; <see cref="LstmBiasMode.None"/> needs every bias to be zero.</param>
    /// <returns>New parameters.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="cells"/> or one of its elements is null.</exception>
    /// <exception cref="ArgumentException">The cells do not form whole layers with matching sizes, have peepholes, or have a bias that <paramref name="biasMode"/> None would drop.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="directions"/> or <paramref name="biasMode"/> is out of range.</exception>
    public static LstmStackParameters FromCells(IReadOnlyList<LstmParameters> cells, int directions, LstmBiasMode biasMode)
    {
        ArgumentNullException.ThrowIfNull(cells);
        LstmParameters first = CheckCells(cells, directions);
        var p = new LstmStackParameters(first.InputSize, first.HiddenSize, cells.Count / directions, directions, 0, biasMode);
        for (int k = 0; k < cells.Count; k++)
        {
            LstmParameters c = cells[k];
            int expectedInput = k < directions ? first.InputSize : directions * first.HiddenSize;
            if (c.HiddenSize != first.HiddenSize || c.InputSize != expectedInput)
            {
                ThrowHelper.Argument(nameof(cells), $"'cells[{k}]' has InputSize {c.InputSize} and HiddenSize {c.HiddenSize}; expected {expectedInput} and {first.HiddenSize} (layer 0 takes I, later layers D·H).");
            }

            c.ThrowIfPeepholes(nameof(cells), "training");
            p.SetCell(k, c.WeightIh, c.WeightHh, c.Bias, default, nameof(cells));
        }

        return p;
    }

    /// <summary>Stacks the weights of an <see cref="Lstm"/> with projections; each cell's summed bias goes to <c>bias_ih</c>, <c>bias_hh</c> starts at zero.</summary>
    /// <param name="cells">Weights per layer and direction, index <c>layer·D + direction</c>; copied. Layer 0 has input size I, later layers D·P.</param>
    /// <param name="directions">D: 1, or 2 for bidirectional.</param>
    /// <param name="biasMode">Which bias tensors are parameters; <see cref="LstmBiasMode.None"/> needs every bias to be zero.</param>
    /// <returns>New parameters.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="cells"/> or one of its elements is null.</exception>
    /// <exception cref="ArgumentException">The cells do not form whole layers with matching sizes, or have a bias that <paramref name="biasMode"/> None would drop.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="directions"/> or <paramref name="biasMode"/> is out of range.</exception>
    public static LstmStackParameters FromProjectedCells(IReadOnlyList<ProjectedLstmParameters> cells, int directions, LstmBiasMode biasMode)
    {
        ArgumentNullException.ThrowIfNull(cells);
        ProjectedLstmParameters first = CheckCells(cells, directions);
        var p = new LstmStackParameters(first.InputSize, first.HiddenSize, cells.Count / directions, directions, first.ProjectionSize, biasMode);
        for (int k = 0; k < cells.Count; k++)
        {
            ProjectedLstmParameters c = cells[k];
            int expectedInput = k < directions ? first.InputSize : directions * first.ProjectionSize;
            if (c.HiddenSize != first.HiddenSize || c.ProjectionSize != first.ProjectionSize || c.InputSize != expectedInput)
            {
                ThrowHelper.Argument(
                    nameof(cells),
                    $"'cells[{k}]' has InputSize {c.InputSize}, HiddenSize {c.HiddenSize} and ProjectionSize {c.ProjectionSize}; expected {expectedInput}, {first.HiddenSize} and {first.ProjectionSize} (layer 0 takes I, later layers D·P).");
            }

            p.SetCell(k, c.WeightIh, c.WeightHh, c.Bias, c.WeightHr, nameof(cells));
        }

        return p;
    }

    /// <summary>The weights of one layer and direction of a stack without projections, with the summed bias <c>bias_ih + bias_hh</c>.</summary>
    /// <param name="layer">0..L−1.</param>
    /// <param name="direction">0..D−1.</param>
    /// <returns>New parameters.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An index is out of range.</exception>
    /// <exception cref="InvalidOperationException">The stack has projections (use <see cref="GetProjectedParameters"/>).</exception>
    public LstmParameters GetParameters(int layer, int direction)
    {
        _ = CellIndex(layer, direction);
        if (ProjectionSize > 0)
        {
            throw new InvalidOperationException("These parameters have projections (proj_size); use GetProjectedParameters.");
        }

        var p = new LstmParameters(layer == 0 ? InputSize : Directions * HiddenSize, HiddenSize);
        WeightIh(layer, direction).CopyTo(p.WeightIh);
        WeightHh(layer, direction).CopyTo(p.WeightHh);
        SumBias(layer, direction, p.Bias);
        return p;
    }

    /// <summary>The weights of one layer and direction of a stack with projections, with the summed bias.</summary>
    /// <param name="layer">0..L−1.</param>
    /// <param name="direction">0..D−1.</param>
    /// <returns>New parameters.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An index is out of range.</exception>
    /// <exception cref="InvalidOperationException">The stack has no projections (use <see cref="GetParameters"/>).</exception>
    public ProjectedLstmParameters GetProjectedParameters(int layer, int direction)
    {
        _ = CellIndex(layer, direction);
        if (ProjectionSize == 0)
        {
            throw new InvalidOperationException("These parameters have no projections; use GetParameters.");
        }

        var p = new ProjectedLstmParameters(layer == 0 ? InputSize : Directions * ProjectionSize, HiddenSize, ProjectionSize);
        WeightIh(layer, direction).CopyTo(p.WeightIh);
        WeightHh(layer, direction).CopyTo(p.WeightHh);
        SumBias(layer, direction, p.Bias);
        WeightHr(layer, direction).CopyTo(p.WeightHr);
        return p;
    }

    /// <summary>An <see cref="Lstm"/> for inference with these weights (copied, biases summed; with <see cref="LstmBiasMode.None"/> a model without biases, <see cref="LstmOptions.Bias"/> false, so that exports write no bias).</summary>
    /// <param name="options">
    /// Direction and layout, e.g. the options the stack was trained with; or null for the stack's own: forward with one
    /// direction, bidirectional with two, time-major, <see cref="LstmOptions.Bias"/> false exactly with
    /// <see cref="LstmBiasMode.None"/>. Given options must agree with the stack: <see cref="LstmOptions.Directions"/> is
    /// <see cref="Directions"/> and <see cref="LstmOptions.Bias"/> is false exactly with <see cref="LstmBiasMode.None"/>.
    /// </param>
    /// <returns>A new LSTM.</returns>
    /// <exception cref="ArgumentException">The options' number of directions differs from <see cref="Directions"/>, their <see cref="LstmOptions.Bias"/> contradicts <see cref="BiasMode"/>, or an option is invalid.</exception>
    public Lstm ToLstm(LstmOptions? options = null)
    {
        bool bias = BiasMode != LstmBiasMode.None;
        options ??= new LstmOptions { Direction = Directions == 2 ? LstmDirection.Bidirectional : LstmDirection.Forward, Bias = bias };
        if (options.Directions != Directions)
        {
            ThrowHelper.Argument(nameof(options), $"'options' has {options.Directions} direction(s); these parameters have {Directions}.");
        }

        if (options.Bias != bias)
        {
            ThrowHelper.Argument(
                nameof(options),
                bias
                    ? $"'options.Bias' is false (a model without biases), but these parameters have {BiasMode} biases; set Bias = true in the options."
                    : "'options.Bias' is true (a model with biases), but these parameters have LstmBiasMode.None (no bias tensor); set Bias = false in the options.");
        }

        int count = Layers * Directions;
        if (ProjectionSize > 0)
        {
            var projected = new ProjectedLstmParameters[count];
            for (int k = 0; k < count; k++)
            {
                projected[k] = GetProjectedParameters(k / Directions, k % Directions);
            }

            return Lstm.CreateProjected(projected, options);
        }

        var cells = new LstmParameters[count];
        for (int k = 0; k < count; k++)
        {
            cells[k] = GetParameters(k / Directions, k % Directions);
        }

        return Lstm.Create(cells, options);
    }

    private static T CheckCells<T>(IReadOnlyList<T> cells, int directions)
        where T : class
    {
        if (directions is not (1 or 2))
        {
            ThrowHelper.OutOfRange(nameof(directions), directions, "must be 1 or 2");
        }

        if (cells.Count == 0 || cells.Count % directions != 0)
        {
            ThrowHelper.Argument(nameof(cells), $"'cells' holds {cells.Count} cell(s); it must hold L ≥ 1 layers of {directions} direction(s) (index layer·D + direction).");
        }

        for (int k = 0; k < cells.Count; k++)
        {
            if (cells[k] is null)
            {
                ThrowHelper.Argument(nameof(cells), $"'cells[{k}]' is null.");
            }
        }

        return cells[0];
    }

    private void SetCell(int cell, ReadOnlySpan<float> weightIh, ReadOnlySpan<float> weightHh, ReadOnlySpan<float> bias, ReadOnlySpan<float> weightHr, string paramName)
    {
        int layer = cell / Directions, direction = cell % Directions;
        weightIh.CopyTo(WeightIh(layer, direction));
        weightHh.CopyTo(WeightHh(layer, direction));
        weightHr.CopyTo(WeightHr(layer, direction));
        if (BiasMode == LstmBiasMode.None)
        {
            if (!IsZero(bias))
            {
                ThrowHelper.Argument(paramName, $"'{paramName}[{cell}]' has a nonzero bias, which LstmBiasMode.None would drop; use Separate or Summed.");
            }
        }
        else
        {
            bias.CopyTo(BiasIh(layer, direction));
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
}
