using System.Globalization;
using System.Numerics.Tensors;
using LstmKernels.Interop;
using LstmKernels.Internal;

namespace LstmKernels.Training;

/// <summary>The conversions between a stack and the tensors of a PyTorch <c>nn.LSTM</c> state_dict, both biases kept apart.</summary>
public sealed partial class LstmStackParameters
{
    /// <summary>
    /// Parameters from the tensors of an <c>nn.LSTM</c>'s state_dict (e.g. <see cref="PyTorchFile.ReadFile"/> of a
    /// <c>torch.save(model.state_dict())</c> file, or <see cref="SafetensorsFile.ReadFile"/>), to fine-tune it: the
    /// layers from <c>weight_ih_l0, l1, …</c>, two directions when <c>weight_ih_l0_reverse</c> is present, projections
    /// (P from <c>weight_hr_l0 [P, H]</c>) when <c>weight_hr_l0</c> is present. Every tensor is copied exactly; with
    /// <see cref="LstmBiasMode.Separate"/> <c>bias_ih</c> and <c>bias_hh</c> stay two tensors, as PyTorch trains them.
    /// </summary>
    /// <param name="tensors">The tensors by name; other keys (another module's, or without the prefix) are ignored.</param>
    /// <param name="prefix">The module's prefix in the state_dict (e.g. <c>"lstm."</c>), or empty.</param>
    /// <param name="mode">
    /// Which bias tensors become parameters: <see cref="LstmBiasMode.Separate"/> keeps both, <see cref="LstmBiasMode.Summed"/>
    /// trains their sum (in <c>bias_ih</c>), <see cref="LstmBiasMode.None"/> is for a state_dict without bias tensors
    /// (<c>nn.LSTM(bias=False)</c>). It must agree with the state_dict: None exactly when it holds no bias tensor.
    /// </param>
    /// <returns>New parameters.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="tensors"/> or <paramref name="prefix"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="mode"/> is None while the state_dict holds bias tensors, or Separate or Summed while it holds none.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="mode"/> is undefined.</exception>
    /// <exception cref="InvalidDataException">A tensor is missing (a weight, or one bias of a cell while others have theirs), has the wrong shape, or holds NaN or ∞.</exception>
    public static LstmStackParameters FromStateDict(IReadOnlyDictionary<string, FloatTensor> tensors, string prefix, LstmBiasMode mode)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentNullException.ThrowIfNull(prefix);
        if (mode is not (LstmBiasMode.Separate or LstmBiasMode.Summed or LstmBiasMode.None))
        {
            ThrowHelper.OutOfRange(nameof(mode), mode, "must be a defined LstmBiasMode");
        }

        FloatTensor wIh0 = GetTensor(tensors, StateDictName(prefix, "weight_ih", 0, 0));
        FloatTensor wHh0 = GetTensor(tensors, StateDictName(prefix, "weight_hh", 0, 0));
        if (wIh0.Shape.Length != 2 || wIh0.Shape[1] < 1 || wHh0.Shape.Length != 2 || wHh0.Shape[0] < 4 || wHh0.Shape[0] % 4 != 0)
        {
            throw Invalid($"'{wIh0.Name}' {wIh0.ShapeText()} and '{wHh0.Name}' {wHh0.ShapeText()} are not [4H, I] and [4H, S].");
        }

        bool hasBias = false;
        foreach (string key in tensors.Keys)
        {
            hasBias |= key.StartsWith(prefix + "bias_ih_l", StringComparison.Ordinal) || key.StartsWith(prefix + "bias_hh_l", StringComparison.Ordinal);
        }

        if (hasBias && mode == LstmBiasMode.None)
        {
            ThrowHelper.Argument(nameof(mode), $"The state_dict holds bias tensors ('{prefix}bias_ih_l0', …), which LstmBiasMode.None would drop; use Separate (PyTorch's two biases) or Summed.");
        }

        if (!hasBias && mode != LstmBiasMode.None)
        {
            ThrowHelper.Argument(nameof(mode), $"The state_dict holds no bias tensor (nn.LSTM(bias=False)); use LstmBiasMode.None, not {mode}.");
        }

        int input = wIh0.Shape[1], hidden = wHh0.Shape[0] / 4, projection = 0;
        if (tensors.TryGetValue(StateDictName(prefix, "weight_hr", 0, 0), out FloatTensor? wHr0))
        {
            if (wHr0.Shape.Length != 2 || wHr0.Shape[0] < 1 || wHr0.Shape[0] >= hidden)
            {
                throw Invalid($"'{wHr0.Name}' {wHr0.ShapeText()} is not [P, H] with H = {hidden} and P in 1..H − 1.");
            }

            projection = wHr0.Shape[0];
        }

        int directions = tensors.ContainsKey(StateDictName(prefix, "weight_ih", 0, 1)) ? 2 : 1;
        int layers = 0;
        while (tensors.ContainsKey(StateDictName(prefix, "weight_ih", layers, 0)))
        {
            layers++;
        }

        LstmStackParameters p;
        try
        {
            p = new LstmStackParameters(input, hidden, layers, directions, projection, mode);
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw Invalid(e.Message);
        }
        int gateRows = 4 * hidden, state = p.StateSize;
        float[]? bias = mode == LstmBiasMode.Summed ? new float[gateRows] : null;
        for (int layer = 0; layer < layers; layer++)
        {
            int layerInput = layer == 0 ? input : directions * state;
            for (int d = 0; d < directions; d++)
            {
                CopyTensor(tensors, StateDictName(prefix, "weight_ih", layer, d), [gateRows, layerInput], p.WeightIh(layer, d));
                CopyTensor(tensors, StateDictName(prefix, "weight_hh", layer, d), [gateRows, state], p.WeightHh(layer, d));
                if (mode == LstmBiasMode.Separate)
                {
                    CopyTensor(tensors, StateDictName(prefix, "bias_ih", layer, d), [gateRows], p.BiasIh(layer, d));
                    CopyTensor(tensors, StateDictName(prefix, "bias_hh", layer, d), [gateRows], p.BiasHh(layer, d));
                }
                else if (bias is not null)
                {
                    CopyTensor(tensors, StateDictName(prefix, "bias_ih", layer, d), [gateRows], p.BiasIh(layer, d));
                    CopyTensor(tensors, StateDictName(prefix, "bias_hh", layer, d), [gateRows], bias);
                    TensorPrimitives.Add(p.BiasIh(layer, d), bias, p.BiasIh(layer, d));
                }

                if (projection > 0)
                {
                    CopyTensor(tensors, StateDictName(prefix, "weight_hr", layer, d), [projection, hidden], p.WeightHr(layer, d));
                }
            }
        }

        return p;
    }

    /// <summary>
    /// The tensors of an <c>nn.LSTM</c>'s state_dict with these values, with PyTorch's names (after
    /// <paramref name="prefix"/>), shapes and order (per layer and direction: <c>weight_ih</c>, <c>weight_hh</c>,
    /// <c>bias_ih</c>, <c>bias_hh</c>, <c>weight_hr</c>), so that PyTorch's strict <c>load_state_dict</c> resumes from them
    /// (write them with <see cref="SafetensorsFile.Write"/>): with <see cref="LstmBiasMode.Separate"/> both biases as
    /// trained, with <see cref="LstmBiasMode.Summed"/> the sum as <c>bias_ih</c> and <c>bias_hh</c> zero, with
    /// <see cref="LstmBiasMode.None"/> no bias keys (<c>nn.LSTM(bias=False)</c>).
    /// </summary>
    /// <param name="prefix">A prefix for every name (e.g. <c>"lstm."</c> for a module inside another), or empty.</param>
    /// <returns>The tensors in PyTorch's order; copies of the values.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="prefix"/> is null.</exception>
    public IReadOnlyList<FloatTensor> ToStateDict(string prefix = "")
    {
        ArgumentNullException.ThrowIfNull(prefix);
        int gateRows = 4 * HiddenSize, state = StateSize;
        var list = new List<FloatTensor>(names.Length + Layers * Directions);
        for (int layer = 0; layer < Layers; layer++)
        {
            int layerInput = layer == 0 ? InputSize : Directions * state;
            for (int d = 0; d < Directions; d++)
            {
                list.Add(new FloatTensor(StateDictName(prefix, "weight_ih", layer, d), [gateRows, layerInput], WeightIh(layer, d)));
                list.Add(new FloatTensor(StateDictName(prefix, "weight_hh", layer, d), [gateRows, state], WeightHh(layer, d)));
                if (BiasMode != LstmBiasMode.None)
                {
                    list.Add(new FloatTensor(StateDictName(prefix, "bias_ih", layer, d), [gateRows], BiasIh(layer, d)));
                    list.Add(new FloatTensor(StateDictName(prefix, "bias_hh", layer, d), [gateRows], BiasMode == LstmBiasMode.Separate ? BiasHh(layer, d) : new float[gateRows]));
                }

                if (ProjectionSize > 0)
                {
                    list.Add(new FloatTensor(StateDictName(prefix, "weight_hr", layer, d), [ProjectionSize, HiddenSize], WeightHr(layer, d)));
                }
            }
        }

        return list;
    }

    /// <summary>The exception for a state_dict that is not an <c>nn.LSTM</c>'s, worded as the interop readers word theirs.</summary>
    private static InvalidDataException Invalid(string problem) => new($"Invalid PyTorch state_dict file: {problem}");

    private static string StateDictName(string prefix, string kind, int layer, int direction) =>
        string.Create(CultureInfo.InvariantCulture, $"{prefix}{kind}_l{layer}{(direction == 1 ? "_reverse" : string.Empty)}");

    private static FloatTensor GetTensor(IReadOnlyDictionary<string, FloatTensor> tensors, string name) =>
        tensors.TryGetValue(name, out FloatTensor? t) ? t : throw Invalid($"tensor '{name}' is missing.");

    /// <summary>Copies the tensor <paramref name="name"/> into <paramref name="destination"/> after checking its shape and values.</summary>
    private static void CopyTensor(IReadOnlyDictionary<string, FloatTensor> tensors, string name, int[] shape, Span<float> destination)
    {
        FloatTensor t = GetTensor(tensors, name);
        if (!t.Shape.SequenceEqual(shape))
        {
            throw Invalid($"'{name}' is {t.ShapeText()}; expected [{string.Join(", ", shape)}].");
        }

        if (!IsFinite(t.Data))
        {
            throw Invalid($"'{name}' holds NaN or ∞.");
        }

        t.Data.CopyTo(destination);
    }

    private static bool IsFinite(ReadOnlySpan<float> values)
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
