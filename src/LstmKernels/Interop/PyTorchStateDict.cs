using System.Globalization;

namespace LstmKernels.Interop;

/// <summary>
/// Converts between an <see cref="Lstm"/> and the tensors of a PyTorch <c>nn.LSTM</c> <c>state_dict</c>
/// (<c>weight_ih_l{k}</c>, <c>weight_hh_l{k}</c>, <c>bias_ih_l{k}</c>, <c>bias_hh_l{k}</c>, and <c>weight_hr_l{k}</c> with
/// <c>proj_size</c>; <c>_reverse</c> for the second direction), e.g. as read by <see cref="SafetensorsFile"/>.
/// </summary>
public static class PyTorchStateDict
{
    private const string Format = "PyTorch state_dict";

    /// <summary>Builds an <see cref="Lstm"/> from an <c>nn.LSTM</c>'s state_dict tensors.</summary>
    /// <param name="tensors">The tensors by name.</param>
    /// <param name="prefix">The module's prefix in the state_dict (e.g. <c>"lstm."</c>), or empty.</param>
    /// <param name="batchFirst">The module's <c>batch_first</c>.</param>
    /// <returns>
    /// The LSTM: layers from <c>l0, l1, …</c>; bidirectional when <c>_reverse</c> tensors are present; with projections
    /// (<see cref="ProjectedLstmParameters"/>, P from <c>weight_hr_l0 [P, H]</c>) when <c>weight_hr_l0</c> is present.
    /// </returns>
    /// <exception cref="InvalidDataException">A tensor is missing, has the wrong shape or holds NaN or ∞.</exception>
    public static Lstm CreateLstm(IReadOnlyDictionary<string, FloatTensor> tensors, string prefix = "", bool batchFirst = false) =>
        CreateLstm(tensors, prefix, new LstmOptions { BatchFirst = batchFirst });

    /// <summary>
    /// <see cref="CreateLstm(IReadOnlyDictionary{string, FloatTensor}, string, bool)"/> with options of the library's own:
    /// the weights packed once in <see cref="LstmOptions.Precision"/>, with <see cref="LstmOptions.StepThreads"/>,
    /// <see cref="LstmOptions.BatchFirst"/> and the rest as given.
    /// </summary>
    /// <param name="tensors">The tensors by name.</param>
    /// <param name="prefix">The module's prefix in the state_dict, or empty.</param>
    /// <param name="options">
    /// The options. The direction comes from the tensors: bidirectional when <c>_reverse</c> tensors are present (then
    /// <see cref="LstmOptions.Direction"/> must be <see cref="LstmDirection.Forward"/>, the default, or
    /// <see cref="LstmDirection.Bidirectional"/>), else the options' direction.
    /// </param>
    /// <returns>The LSTM.</returns>
    /// <remarks>
    /// A state_dict without any <c>bias_ih</c> / <c>bias_hh</c> tensor (<c>nn.LSTM(bias=False)</c>) gives an LSTM with
    /// <see cref="LstmOptions.Bias"/> false, which <see cref="FromLstm"/> exports without bias keys again; a missing bias
    /// of one layer among others that have theirs is read as zero.
    /// </remarks>
    /// <exception cref="InvalidDataException">A tensor is missing, has the wrong shape or holds NaN or ∞.</exception>
    /// <exception cref="ArgumentException">The options' direction contradicts the tensors, <see cref="LstmOptions.Bias"/> is false while the state_dict holds biases, or the options do not fit the weights (e.g. a reduced precision with projections).</exception>
    public static Lstm CreateLstm(IReadOnlyDictionary<string, FloatTensor> tensors, string prefix, LstmOptions options)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentNullException.ThrowIfNull(options);
        bool bidirectional = tensors.ContainsKey(prefix + "weight_ih_l0_reverse");
        if (bidirectional && options.Direction == LstmDirection.Reverse)
        {
            throw new ArgumentException($"The state_dict holds a bidirectional LSTM ('{prefix}weight_ih_l0_reverse' is present), but the options say {options.Direction}.", nameof(options));
        }

        options = bidirectional ? options with { Direction = LstmDirection.Bidirectional } : options;
        bool hasBias = HasAnyBias(tensors, prefix);
        if (hasBias && !options.Bias)
        {
            throw new ArgumentException($"The state_dict holds bias tensors ('{prefix}bias_ih_l0', …), but 'options.Bias' is false.", nameof(options));
        }

        options = options with { Bias = hasBias };
        if (tensors.ContainsKey(prefix + "weight_hr_l0"))
        {
            return CreateProjected(tensors, prefix, options);
        }

        int dirs = bidirectional ? 2 : 1;
        var cells = new List<LstmParameters>();
        for (int layer = 0; tensors.ContainsKey(Name(prefix, "weight_ih", layer, 0)); layer++)
        {
            for (int d = 0; d < dirs; d++)
            {
                FloatTensor wIh = Get(tensors, Name(prefix, "weight_ih", layer, d));
                FloatTensor wHh = Get(tensors, Name(prefix, "weight_hh", layer, d));
                tensors.TryGetValue(Name(prefix, "bias_ih", layer, d), out FloatTensor? bIh);
                tensors.TryGetValue(Name(prefix, "bias_hh", layer, d), out FloatTensor? bHh);
                if (wHh.Shape.Length != 2 || wHh.Shape[0] != 4 * wHh.Shape[1] || wHh.Shape[1] < 1 || wIh.Shape.Length != 2 || wIh.Shape[0] != wHh.Shape[0] || wIh.Shape[1] < 1)
                {
                    InteropThrow.Invalid(Format, $"layer {layer}: weight_ih {wIh.ShapeText()} and weight_hh {wHh.ShapeText()} are not [4H, I] and [4H, H].");
                }

                try
                {
                    cells.Add(LstmParameters.FromPyTorch(wIh.Shape[1], wHh.Shape[1], wIh.Data, wHh.Data, bIh is null ? default : bIh.Data, bHh is null ? default : bHh.Data));
                }
                catch (ArgumentException e)
                {
                    InteropThrow.Invalid(Format, $"layer {layer} direction {d}: {e.Message}");
                }
            }
        }

        if (cells.Count == 0)
        {
            InteropThrow.Invalid(Format, $"no '{prefix}weight_ih_l0' tensor.");
        }

        try
        {
            return Lstm.Create(cells, options);
        }
        catch (ArgumentException e) when (e.ParamName != "options")
        {
            // The weights do not chain into layers: the file is at fault. An options error stays the caller's.
            return InteropThrow.Invalid<Lstm>(Format, e.Message);
        }
    }

    /// <summary>
    /// The state_dict tensors of an <see cref="Lstm"/> (<c>bias_hh</c> zero; the biases are summed in ours), with
    /// <c>weight_hr_l{k}[_reverse] [P, H]</c> after each cell's biases when it has projections, as PyTorch orders them.
    /// A model without biases (<see cref="LstmOptions.Bias"/> false) gets no bias keys, as <c>nn.LSTM(bias=False)</c>'s
    /// state_dict, so that PyTorch's strict <c>load_state_dict</c> accepts it.
    /// </summary>
    /// <param name="lstm">The LSTM; its options must be the defaults apart from direction and layout.</param>
    /// <param name="prefix">A prefix for every name, or empty.</param>
    /// <returns>The tensors in PyTorch's order.</returns>
    /// <exception cref="ArgumentException">The LSTM has options PyTorch's <c>nn.LSTM</c> does not (peepholes, clip, …).</exception>
    public static IReadOnlyList<FloatTensor> FromLstm(Lstm lstm, string prefix = "")
    {
        ArgumentNullException.ThrowIfNull(lstm);
        ArgumentNullException.ThrowIfNull(prefix);
        if (!lstm.Options.IsPlain || lstm.Engine.HasPeepholes)
        {
            Internal.ThrowHelper.Argument(nameof(lstm), "'lstm' has options (peepholes, clip, input_forget or activations) that nn.LSTM does not have.");
        }

        bool bias = lstm.Options.Bias;
        var list = new List<FloatTensor>();
        for (int layer = 0; layer < lstm.Layers; layer++)
        {
            for (int d = 0; d < lstm.Directions; d++)
            {
                if (lstm.ProjectionSize > 0)
                {
                    ProjectedLstmParameters q = lstm.GetProjectedParameters(layer, d);
                    int gateRows = 4 * q.HiddenSize;
                    float[] wIhP = new float[q.WeightIh.Length], wHhP = new float[q.WeightHh.Length], bIhP = new float[gateRows], bHhP = new float[gateRows];
                    float[] wHr = new float[q.WeightHr.Length];
                    q.ToPyTorch(wIhP, wHhP, bIhP, bHhP, wHr);
                    list.Add(new FloatTensor(Name(prefix, "weight_ih", layer, d), [gateRows, q.InputSize], wIhP));
                    list.Add(new FloatTensor(Name(prefix, "weight_hh", layer, d), [gateRows, q.ProjectionSize], wHhP));
                    if (bias)
                    {
                        list.Add(new FloatTensor(Name(prefix, "bias_ih", layer, d), [gateRows], bIhP));
                        list.Add(new FloatTensor(Name(prefix, "bias_hh", layer, d), [gateRows], bHhP));
                    }

                    list.Add(new FloatTensor(Name(prefix, "weight_hr", layer, d), [q.ProjectionSize, q.HiddenSize], wHr));
                    continue;
                }

                LstmParameters p = lstm.GetParameters(layer, d);
                int rows = 4 * p.HiddenSize;
                float[] wIh = new float[p.WeightIh.Length], wHh = new float[p.WeightHh.Length], bIh = new float[rows], bHh = new float[rows];
                p.ToPyTorch(wIh, wHh, bIh, bHh);
                list.Add(new FloatTensor(Name(prefix, "weight_ih", layer, d), [rows, p.InputSize], wIh));
                list.Add(new FloatTensor(Name(prefix, "weight_hh", layer, d), [rows, p.HiddenSize], wHh));
                if (bias)
                {
                    list.Add(new FloatTensor(Name(prefix, "bias_ih", layer, d), [rows], bIh));
                    list.Add(new FloatTensor(Name(prefix, "bias_hh", layer, d), [rows], bHh));
                }
            }
        }

        return list;
    }

    /// <summary>An <c>nn.LSTM(…, proj_size=P)</c>: <c>weight_hh [4H, P]</c> and <c>weight_hr [P, H]</c> per layer and direction.</summary>
    private static Lstm CreateProjected(IReadOnlyDictionary<string, FloatTensor> tensors, string prefix, LstmOptions options)
    {
        int dirs = options.Directions;
        var cells = new List<ProjectedLstmParameters>();
        for (int layer = 0; tensors.ContainsKey(Name(prefix, "weight_ih", layer, 0)); layer++)
        {
            for (int d = 0; d < dirs; d++)
            {
                FloatTensor wIh = Get(tensors, Name(prefix, "weight_ih", layer, d));
                FloatTensor wHh = Get(tensors, Name(prefix, "weight_hh", layer, d));
                FloatTensor wHr = Get(tensors, Name(prefix, "weight_hr", layer, d));
                tensors.TryGetValue(Name(prefix, "bias_ih", layer, d), out FloatTensor? bIh);
                tensors.TryGetValue(Name(prefix, "bias_hh", layer, d), out FloatTensor? bHh);
                bool shapes = wHr.Shape.Length == 2 && wHr.Shape[0] >= 1 && wHr.Shape[1] >= 1
                    && wHh.Shape.Length == 2 && wHh.Shape[0] == 4L * wHr.Shape[1] && wHh.Shape[1] == wHr.Shape[0]
                    && wIh.Shape.Length == 2 && wIh.Shape[0] == wHh.Shape[0] && wIh.Shape[1] >= 1;
                if (!shapes)
                {
                    InteropThrow.Invalid(
                        Format,
                        $"layer {layer}: weight_ih {wIh.ShapeText()}, weight_hh {wHh.ShapeText()} and weight_hr {wHr.ShapeText()} are not [4H, I], [4H, P] and [P, H].");
                }

                try
                {
                    cells.Add(ProjectedLstmParameters.FromPyTorch(
                        wIh.Shape[1], wHr.Shape[1], wHr.Shape[0], wIh.Data, wHh.Data, bIh is null ? default : bIh.Data, bHh is null ? default : bHh.Data, wHr.Data));
                }
                catch (ArgumentException e)
                {
                    InteropThrow.Invalid(Format, $"layer {layer} direction {d}: {e.Message}");
                }
            }
        }

        try
        {
            return Lstm.CreateProjected(cells, options);
        }
        catch (ArgumentException e) when (e.ParamName != "options")
        {
            // The weights do not chain into layers: the file is at fault. An options error stays the caller's.
            return InteropThrow.Invalid<Lstm>(Format, e.Message);
        }
    }

    private static bool HasAnyBias(IReadOnlyDictionary<string, FloatTensor> tensors, string prefix)
    {
        foreach (string key in tensors.Keys)
        {
            if (key.StartsWith(prefix + "bias_ih_l", StringComparison.Ordinal) || key.StartsWith(prefix + "bias_hh_l", StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private static string Name(string prefix, string kind, int layer, int direction) =>
        string.Create(CultureInfo.InvariantCulture, $"{prefix}{kind}_l{layer}{(direction == 1 ? "_reverse" : string.Empty)}");

    private static FloatTensor Get(IReadOnlyDictionary<string, FloatTensor> tensors, string name) =>
        tensors.TryGetValue(name, out FloatTensor? t) ? t : InteropThrow.Invalid<FloatTensor>(Format, $"tensor '{name}' is missing.");
}
