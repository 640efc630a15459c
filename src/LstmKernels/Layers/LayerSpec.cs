using LstmKernels.Internal;

namespace LstmKernels;

/// <summary>
/// The sizes and options of a stack of LSTM layers, and the checks of a forward call against them. Shared by
/// <see cref="Lstm"/> (through its engine) and <see cref="Reference.ReferenceLstm"/>, so that the twin and the
/// optimised LSTM reject exactly the same calls.
/// </summary>
internal sealed class LayerShape
{
    private const string HiddenStateShape = "[L·D, B, H] ([L·D, B, P] with projections), or empty";
    private const string CellStateShape = "[L·D, B, H], or empty";

    public LayerShape(LstmOptions options, int count, int input, int hidden, int projection)
    {
        Options = options;
        InputSize = input;
        HiddenSize = hidden;
        ProjectionSize = projection;
        Directions = options.Directions;
        Layers = count / Directions;
    }

    public LstmOptions Options { get; }

    public int InputSize { get; }

    public int HiddenSize { get; }

    /// <summary>P with projections, else 0.</summary>
    public int ProjectionSize { get; }

    public int Layers { get; }

    public int Directions { get; }

    /// <summary>The size of the hidden state h: P with projections, else H.</summary>
    public int StateSize => ProjectionSize > 0 ? ProjectionSize : HiddenSize;

    /// <summary>D·H (D·P with projections).</summary>
    public int OutputSize => Directions * StateSize;

    /// <summary>Checks the arguments of a forward call (see <see cref="Lstm.Forward"/>) and returns T.</summary>
    public int CheckForward(
        int batchSize,
        ReadOnlySpan<float> x,
        ReadOnlySpan<float> h0,
        ReadOnlySpan<float> c0,
        Span<float> y,
        Span<float> hT,
        Span<float> cT,
        ReadOnlySpan<int> sequenceLengths)
    {
        if (batchSize < 0)
        {
            ThrowHelper.OutOfRange(nameof(batchSize), batchSize, "must be at least 0");
        }

        long row = (long)batchSize * InputSize;
        if (row == 0 ? x.Length != 0 : x.Length % row != 0)
        {
            ThrowHelper.NotMultiple(nameof(x), x.Length, Math.Max(row, 1), "steps of [B, I] with B = batchSize");
        }

        int steps = row == 0 ? 0 : (int)(x.Length / row);
        long hStates = (long)Layers * Directions * batchSize * StateSize;
        long cStates = (long)Layers * Directions * batchSize * HiddenSize;
        CheckOptional(h0.Length, hStates, nameof(h0), HiddenStateShape);
        CheckOptional(c0.Length, cStates, nameof(c0), CellStateShape);
        CheckOptional(hT.Length, hStates, nameof(hT), HiddenStateShape);
        CheckOptional(cT.Length, cStates, nameof(cT), CellStateShape);
        CheckOptional(y.Length, (long)steps * batchSize * OutputSize, nameof(y), "[T, B, D·H] (batch-first [B, T, D·H]; D·P with projections), or empty");
        if (!sequenceLengths.IsEmpty)
        {
            ThrowHelper.CheckLength(sequenceLengths.Length, batchSize, nameof(sequenceLengths), "[B], or empty for all T");
            for (int b = 0; b < sequenceLengths.Length; b++)
            {
                if ((uint)sequenceLengths[b] > (uint)steps)
                {
                    ThrowHelper.Argument(nameof(sequenceLengths), SequenceThrow.BadLength(b, sequenceLengths[b], steps));
                }
            }
        }

        Aliasing.Sequence(x, h0, c0, y, hT, cT);
        return steps;
    }

    /// <summary>Checks a (layer, direction) pair and returns its index <c>layer·D + direction</c>.</summary>
    public int Index(int layer, int direction)
    {
        if ((uint)layer >= (uint)Layers)
        {
            ThrowHelper.OutOfRange(nameof(layer), layer, "must be in 0..Layers − 1");
        }

        if ((uint)direction >= (uint)Directions)
        {
            ThrowHelper.OutOfRange(nameof(direction), direction, "must be in 0..Directions − 1");
        }

        return (layer * Directions) + direction;
    }

    private static void CheckOptional(int actual, long expected, string paramName, string what)
    {
        if (actual != 0)
        {
            ThrowHelper.CheckLength(actual, expected, paramName, what);
        }
    }

}

/// <summary>
/// A checked description of a stack of LSTM layers: its <see cref="LayerShape"/> and validated copies of each layer's
/// and direction's weights. <see cref="Lstm"/> builds its engine from one (the engine then keeps the weights in one
/// form only); <see cref="Reference.ReferenceLstm"/> keeps one as its weights.
/// </summary>
internal sealed class LayerSpec
{
    private LayerSpec(LayerShape shape, LstmParameters[]? cells, ProjectedLstmParameters[]? projected, float[]?[] peepholes)
    {
        Shape = shape;
        Cells = cells;
        Projected = projected;
        Peepholes = peepholes;
    }

    public LayerShape Shape { get; }

    /// <summary>The weights without projections, index <c>layer·D + direction</c>; null with projections.</summary>
    public LstmParameters[]? Cells { get; }

    /// <summary>The weights with projections; null without.</summary>
    public ProjectedLstmParameters[]? Projected { get; }

    /// <summary>Each cell's peepholes <c>[P_i | P_f | P_o]</c> (3H), or null for none.</summary>
    public float[]?[] Peepholes { get; }

    /// <summary>True when no cell needs the unfused route: default options, no peepholes, no projections.</summary>
    public bool IsPlain => Shape.Options.IsPlain && Projected is null && Array.TrueForAll(Peepholes, p => p is null);

    /// <summary>Throws when the options ask the unfused route for what only the fused cell has (reduced precision, two threads).</summary>
    public LayerSpec CheckRoute()
    {
        LstmOptions o = Shape.Options;
        if (!IsPlain && (o.Precision != WeightPrecision.Float32 || o.StepThreads != 1))
        {
            ThrowHelper.Argument(
                "options",
                $"'options.Precision' = {o.Precision} and 'options.StepThreads' = {o.StepThreads} need the fused route, but this LSTM takes the "
                + "unfused one (peepholes, clip, input_forget, other activations or projections): use Float32 and one thread there.");
        }

        return this;
    }

    /// <summary>Checks and copies one set of weights per layer and direction.</summary>
    public static LayerSpec Create(IReadOnlyList<LstmParameters> cells, LstmOptions? options)
    {
        ArgumentNullException.ThrowIfNull(cells);
        options ??= LstmOptions.Default;
        int directions = options.Directions;
        CheckCellList(cells, directions);
        int hidden = cells[0].HiddenSize;
        int input = cells[0].InputSize;
        // Peepholes travel with the weights (LstmParameters.Peepholes); the obsolete LstmOptions.Peepholes still works
        // for one release and is folded into the copies, so GetParameters returns them either way.
        float[]?[] peepholes = CheckOptions(options, cells.Count, hidden);
        var copies = new LstmParameters[cells.Count];
        for (int k = 0; k < cells.Count; k++)
        {
            LstmParameters p = cells[k];
            int expectedInput = k < directions ? input : directions * hidden;
            if (p.HiddenSize != hidden || p.InputSize != expectedInput)
            {
                ThrowHelper.Argument(nameof(cells), SequenceThrow.CellShape(k, p.InputSize, p.HiddenSize, expectedInput, hidden));
            }

            if (!options.Bias && !IsZero(p.Bias))
            {
                ThrowHelper.Argument(nameof(cells), SequenceThrow.BiasNotZero(k));
            }

            if (p.HasPeepholes)
            {
                if (peepholes[k] is not null)
                {
                    ThrowHelper.Argument(nameof(options), SequenceThrow.PeepholesTwice(k));
                }

                if (!AllFinite(p.Peepholes))
                {
                    ThrowHelper.Argument(nameof(cells), SequenceThrow.PeepholeValues(k));
                }

                peepholes[k] = p.Peepholes.ToArray();
                copies[k] = p.Clone();
            }
            else
            {
                copies[k] = peepholes[k] is { } given ? p.CloneWithPeepholes(given) : p.Clone();
            }
        }

        return new LayerSpec(new LayerShape(options, cells.Count, input, hidden, 0), copies, null, peepholes);
    }

    /// <summary>Checks and copies one set of weights with projections per layer and direction.</summary>
    public static LayerSpec CreateProjected(IReadOnlyList<ProjectedLstmParameters> cells, LstmOptions? options)
    {
        ArgumentNullException.ThrowIfNull(cells);
        options ??= LstmOptions.Default;
        int directions = options.Directions;
        CheckCellList(cells, directions);
        int hidden = cells[0].HiddenSize;
        int input = cells[0].InputSize;
        int projection = cells[0].ProjectionSize;
        var copies = new ProjectedLstmParameters[cells.Count];
        for (int k = 0; k < cells.Count; k++)
        {
            ProjectedLstmParameters p = cells[k];
            int expectedInput = k < directions ? input : directions * projection;
            if (p.HiddenSize != hidden || p.ProjectionSize != projection || p.InputSize != expectedInput)
            {
                ThrowHelper.Argument(
                    nameof(cells),
                    SequenceThrow.ProjectedCellShape(k, p.InputSize, p.HiddenSize, p.ProjectionSize, expectedInput, hidden, projection));
            }

            if (!options.Bias && !IsZero(p.Bias))
            {
                ThrowHelper.Argument(nameof(cells), SequenceThrow.BiasNotZero(k));
            }

            copies[k] = p.Clone();
        }

        float[]?[] peepholes = CheckOptions(options, cells.Count, hidden);
        return new LayerSpec(new LayerShape(options, cells.Count, input, hidden, projection), null, copies, peepholes);
    }

    private static bool IsZero(ReadOnlySpan<float> values)
    {
        foreach (float v in values)
        {
            if (v != 0f)
            {
                return false;
            }
        }

        return true;
    }

    private static void CheckCellList<T>(IReadOnlyList<T> cells, int directions)
        where T : class
    {
        if (cells.Count == 0 || cells.Count % directions != 0)
        {
            ThrowHelper.Argument(nameof(cells), SequenceThrow.CellCount(cells.Count, directions));
        }

        for (int k = 0; k < cells.Count; k++)
        {
            if (cells[k] is null)
            {
                ThrowHelper.Argument(nameof(cells), SequenceThrow.NullCell(k));
            }
        }
    }

    private static float[]?[] CheckOptions(LstmOptions options, int count, int hidden)
    {
        if (options.Clip is float clip && !(clip > 0 && float.IsFinite(clip)))
        {
            ThrowHelper.Argument(nameof(options), SequenceThrow.BadClip(clip));
        }

        if (options.Precision is not (WeightPrecision.Float32 or WeightPrecision.BFloat16 or WeightPrecision.Int8))
        {
            ThrowHelper.Argument(nameof(options), $"'options.Precision' is {options.Precision}, not a defined WeightPrecision.");
        }

        if (options.StepThreads is not (1 or 2))
        {
            ThrowHelper.Argument(nameof(options), $"'options.StepThreads' is {options.StepThreads}; it must be 1 or 2.");
        }

        var copies = new float[]?[count];
#pragma warning disable CS0618 // The obsolete option is honoured for one release.
        if (options.Peepholes is not { } given)
#pragma warning restore CS0618
        {
            return copies;
        }

        if (given.Count != count)
        {
            ThrowHelper.Argument(nameof(options), SequenceThrow.PeepholeCount(given.Count, count));
        }

        for (int k = 0; k < given.Count; k++)
        {
            float[]? values = given[k];
            if (values is null || values.Length != 3 * hidden || !AllFinite(values))
            {
                ThrowHelper.Argument(nameof(options), SequenceThrow.PeepholeShape(k, values?.Length ?? -1, hidden));
            }

            copies[k] = (float[])values.Clone();
        }

        return copies;
    }

    private static bool AllFinite(ReadOnlySpan<float> values)
    {
        foreach (float v in values)
        {
            if (!float.IsFinite(v))
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>Messages of the sequence types; only built on the failure path.</summary>
internal static class SequenceThrow
{
    public static string CellCount(int count, int directions) =>
        $"'cells' holds {count} cell(s); it must hold L ≥ 1 layers of {directions} direction(s) (index layer·D + direction).";

    public static string NullCell(int index) => $"'cells[{index}]' is null.";

    public static string CellShape(int index, int input, int hidden, int expectedInput, int expectedHidden) =>
        $"'cells[{index}]' has InputSize {input} and HiddenSize {hidden}; expected InputSize {expectedInput} and HiddenSize {expectedHidden} (layer 0 takes I, later layers D·H).";

    public static string ProjectedCellShape(int index, int input, int hidden, int projection, int expectedInput, int expectedHidden, int expectedProjection) =>
        $"'cells[{index}]' has InputSize {input}, HiddenSize {hidden} and ProjectionSize {projection}; expected InputSize {expectedInput}, HiddenSize {expectedHidden} and ProjectionSize {expectedProjection} (layer 0 takes I, later layers D·P).";

    public static string BadClip(float clip) => $"'options.Clip' is {clip}; it must be positive and finite, or null for no clip.";

    public static string PeepholeCount(int count, int cells) =>
        $"'options.Peepholes' holds {count} array(s); it must hold one per layer and direction ({cells}), or be null.";

    public static string PeepholeShape(int index, int length, int hidden) =>
        $"'options.Peepholes[{index}]' has length {length} or non-finite values; it must hold 3·H = {3 * hidden} finite values [P_i | P_f | P_o].";

    public static string BiasNotZero(int index) =>
        $"'cells[{index}].Bias' holds nonzero values, but 'options.Bias' is false (a model without biases); zero the bias or leave 'options.Bias' true.";

    public static string PeepholesTwice(int index) =>
        $"'cells[{index}]' has peepholes and 'options.Peepholes' gives them too; give them once, in the parameters (LstmParameters.Peepholes).";

    public static string PeepholeValues(int index) => $"'cells[{index}].Peepholes' holds NaN or ∞; peepholes must be finite.";

    public static string BadLength(int row, int length, int steps) =>
        $"'sequenceLengths[{row}]' is {length}; each length must be in 0..T = {steps}.";

    public static string TooLarge(long floats) =>
        $"The call needs {floats} floats of scratch, more than one array can hold; split the batch or the sequence.";
}
