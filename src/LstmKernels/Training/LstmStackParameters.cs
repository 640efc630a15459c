using LstmKernels.Internal;

namespace LstmKernels.Training;

/// <summary>
/// Every trainable tensor of a stack of LSTM layers (PyTorch's <c>nn.LSTM</c>: layers, directions, projections) in one
/// flat array, in the order and with the names of PyTorch's <c>named_parameters()</c>; also the shape of a gradient,
/// as <see cref="LstmParameters"/> is for one cell.
/// </summary>
/// <remarks>
/// <para>For each layer l and direction d (suffix <c>_reverse</c> for d = 1): <c>weight_ih_l{l}</c> <c>[4H, I_l]</c>,
/// <c>weight_hh_l{l}</c> <c>[4H, S]</c>, then the biases of <see cref="BiasMode"/> (<c>bias_ih_l{l}</c>,
/// <c>bias_hh_l{l}</c> <c>[4H]</c>, or only <c>bias_ih_l{l}</c> holding the sum, or none), then with projections
/// <c>weight_hr_l{l}</c> <c>[P, H]</c>. S = P with projections, else H; I_0 = I, I_l = D·S for l &gt; 0. Gate order
/// i, f, g, o as everywhere.</para>
/// <para>An optimizer built over these parameters (<see cref="SgdOptimizer(LstmStackParameters, float, float)"/>,
/// <see cref="AdamOptimizer(LstmStackParameters, float, float, float, float)"/>) and <see cref="Gradients"/> see every
/// tensor as PyTorch's do, so both biases count in the clipping norm in <see cref="LstmBiasMode.Separate"/>. The array is
/// mutable; an <see cref="LstmTrainer"/> reads it at every call. Not thread-safe for writes.</para>
/// </remarks>
public sealed partial class LstmStackParameters
{
    private const int TensorsPerCell = 5;
    private const int WeightIhSlot = 0;
    private const int WeightHhSlot = 1;
    private const int BiasIhSlot = 2;
    private const int BiasHhSlot = 3;
    private const int WeightHrSlot = 4;

    private readonly float[] values;
    private readonly int[] offsets;
    private readonly int[] lengths;
    private readonly string[] names;
    private readonly int[] slotOfName;

    /// <summary>Creates parameters of the given sizes, all zero.</summary>
    /// <param name="inputSize">I, the input size of layer 0 (at least 1).</param>
    /// <param name="hiddenSize">H, the hidden size of every layer (at least 1; at least 2 with projections).</param>
    /// <param name="layers">L (at least 1).</param>
    /// <param name="directions">D: 1, or 2 for bidirectional.</param>
    /// <param name="projectionSize">P (PyTorch's <c>proj_size</c>) in 1..H−1, or 0 for none.</param>
    /// <param name="biasMode">Which bias tensors are parameters.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is out of range, the bias mode is undefined, or the tensors would not fit in one array (<see cref="Array.MaxLength"/> values; named <paramref name="hiddenSize"/> when one layer is too large, else <paramref name="layers"/>), checked before anything is allocated.</exception>
    public LstmStackParameters(int inputSize, int hiddenSize, int layers, int directions, int projectionSize, LstmBiasMode biasMode)
    {
        if (inputSize < 1)
        {
            ThrowHelper.OutOfRange(nameof(inputSize), inputSize, "must be at least 1");
        }

        ThrowHelper.CheckSize(hiddenSize, nameof(hiddenSize));
        if (layers < 1)
        {
            ThrowHelper.OutOfRange(nameof(layers), layers, "must be at least 1");
        }

        if (directions is not (1 or 2))
        {
            ThrowHelper.OutOfRange(nameof(directions), directions, "must be 1 or 2");
        }

        if (projectionSize < 0 || (projectionSize > 0 && projectionSize >= hiddenSize))
        {
            ThrowHelper.OutOfRange(nameof(projectionSize), projectionSize, $"must be 0 (none) or in 1..hiddenSize − 1 = {hiddenSize - 1}");
        }

        if (biasMode is not (LstmBiasMode.Separate or LstmBiasMode.Summed or LstmBiasMode.None))
        {
            ThrowHelper.OutOfRange(nameof(biasMode), biasMode, "must be a defined LstmBiasMode");
        }

        // Every size in 128 bits before anything is allocated: huge layer counts neither overflow nor allocate.
        int state = projectionSize > 0 ? projectionSize : hiddenSize;
        Int128 gateRows = 4 * (Int128)hiddenSize;
        Int128 perCell = (gateRows * state) + (biasMode switch { LstmBiasMode.Separate => 2, LstmBiasMode.Summed => 1, _ => 0 } * gateRows)
            + ((Int128)projectionSize * hiddenSize);
        Int128 firstLayer = directions * ((gateRows * inputSize) + perCell);
        Int128 laterLayer = directions * ((gateRows * directions * state) + perCell);
        if (firstLayer > Array.MaxLength)
        {
            ThrowHelper.OutOfRange(nameof(hiddenSize), hiddenSize, $"with inputSize {inputSize} and {directions} direction(s) gives a first layer larger than one array can hold ({Array.MaxLength} values)");
        }

        if (firstLayer + ((layers - 1) * laterLayer) > Array.MaxLength)
        {
            ThrowHelper.OutOfRange(nameof(layers), layers, $"with inputSize {inputSize}, hiddenSize {hiddenSize} and {directions} direction(s) gives more parameters than one array can hold ({Array.MaxLength} values)");
        }

        InputSize = inputSize;
        HiddenSize = hiddenSize;
        Layers = layers;
        Directions = directions;
        ProjectionSize = projectionSize;
        BiasMode = biasMode;
        int cells = layers * directions;
        offsets = new int[cells * TensorsPerCell];
        lengths = new int[cells * TensorsPerCell];
        var nameList = new List<string>(cells * TensorsPerCell);
        var slotList = new List<int>(cells * TensorsPerCell);
        long total = 0;
        long rows = 4L * hiddenSize;
        for (int layer = 0; layer < layers; layer++)
        {
            long input = layer == 0 ? inputSize : (long)directions * state;
            for (int d = 0; d < directions; d++)
            {
                int cell = (layer * directions) + d;
                string suffix = $"_l{layer}{(d == 1 ? "_reverse" : string.Empty)}";
                Add(WeightIhSlot, "weight_ih" + suffix, rows * input);
                Add(WeightHhSlot, "weight_hh" + suffix, rows * state);
                if (biasMode != LstmBiasMode.None)
                {
                    Add(BiasIhSlot, "bias_ih" + suffix, rows);
                }

                if (biasMode == LstmBiasMode.Separate)
                {
                    Add(BiasHhSlot, "bias_hh" + suffix, rows);
                }

                if (projectionSize > 0)
                {
                    Add(WeightHrSlot, "weight_hr" + suffix, (long)projectionSize * hiddenSize);
                }

                void Add(int slot, string name, long length)
                {
                    offsets[(cell * TensorsPerCell) + slot] = (int)total;
                    lengths[(cell * TensorsPerCell) + slot] = (int)length;
                    nameList.Add(name);
                    slotList.Add((cell * TensorsPerCell) + slot);
                    total += length;
                }
            }
        }

        values = new float[total];
        names = [.. nameList];
        slotOfName = [.. slotList];
    }

    /// <summary>
    /// Random parameters as PyTorch initialises <c>nn.LSTM</c>: every tensor from U(−1/√H, 1/√H) (both biases with
    /// <see cref="LstmBiasMode.Separate"/>; the summed bias as the sum of two such draws), from a seeded generator, the
    /// same on every run.
    /// </summary>
    /// <param name="inputSize">I (at least 1).</param>
    /// <param name="hiddenSize">H (at least 1).</param>
    /// <param name="layers">L (at least 1).</param>
    /// <param name="directions">D: 1, or 2 for bidirectional.</param>
    /// <param name="projectionSize">P in 1..H−1, or 0 for none.</param>
    /// <param name="biasMode">Which bias tensors are parameters.</param>
    /// <param name="seed">The seed of the generator.</param>
    /// <returns>New parameters.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A size or the bias mode is out of range.</exception>
    public static LstmStackParameters CreateRandom(int inputSize, int hiddenSize, int layers, int directions, int projectionSize, LstmBiasMode biasMode, int seed)
    {
        var p = new LstmStackParameters(inputSize, hiddenSize, layers, directions, projectionSize, biasMode);
        var random = new Random(seed);
        float bound = 1f / MathF.Sqrt(hiddenSize);
        for (int layer = 0; layer < layers; layer++)
        {
            for (int d = 0; d < directions; d++)
            {
                LstmParameters.Fill(random, p.WeightIh(layer, d), bound);
                LstmParameters.Fill(random, p.WeightHh(layer, d), bound);
                Span<float> bias = p.BiasIh(layer, d);
                for (int r = 0; r < bias.Length; r++)
                {
                    bias[r] = biasMode == LstmBiasMode.Summed ? LstmParameters.Uniform(random, bound) + LstmParameters.Uniform(random, bound) : LstmParameters.Uniform(random, bound);
                }

                LstmParameters.Fill(random, p.BiasHh(layer, d), bound);
                LstmParameters.Fill(random, p.WeightHr(layer, d), bound);
            }
        }

        return p;
    }

    /// <summary>I, the input size of layer 0.</summary>
    public int InputSize { get; }

    /// <summary>H, the hidden size of every layer (the size of the cell state <c>c</c>).</summary>
    public int HiddenSize { get; }

    /// <summary>P with projections (PyTorch's <c>proj_size</c>), else 0.</summary>
    public int ProjectionSize { get; }

    /// <summary>L, the number of layers.</summary>
    public int Layers { get; }

    /// <summary>D, the number of directions (2 when bidirectional).</summary>
    public int Directions { get; }

    /// <summary>Which bias tensors are parameters.</summary>
    public LstmBiasMode BiasMode { get; }

    /// <summary>The size of the hidden state h: P with projections, else H.</summary>
    public int StateSize => ProjectionSize > 0 ? ProjectionSize : HiddenSize;

    /// <summary>Every value of every tensor, in <see cref="Names"/> order (what an optimizer updates).</summary>
    public Span<float> Values => values;

    /// <summary>The tensors' names in PyTorch's <c>named_parameters()</c> order, e.g. <c>weight_ih_l0</c>, <c>bias_hh_l1_reverse</c>.</summary>
    public IReadOnlyList<string> Names => names;

    /// <summary>The tensor named <paramref name="name"/> (one of <see cref="Names"/>), as PyTorch's state_dict calls it.</summary>
    /// <param name="name">A name from <see cref="Names"/>.</param>
    /// <returns>A view of the tensor's values, row-major.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> is null.</exception>
    /// <exception cref="ArgumentException">No tensor has that name (in this bias mode, <c>bias_hh</c> exists only when Separate).</exception>
    public Span<float> Tensor(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        int index = Array.IndexOf(names, name);
        if (index < 0)
        {
            ThrowHelper.Argument(nameof(name), $"'{name}' is not a tensor of these parameters ({BiasMode} biases, {Layers} layer(s), {Directions} direction(s){(ProjectionSize > 0 ? ", projections" : string.Empty)}).");
        }

        int slot = slotOfName[index];
        return values.AsSpan(offsets[slot], lengths[slot]);
    }

    /// <summary><c>weight_ih</c> of one layer and direction, <c>[4H, I_l]</c>.</summary>
    /// <param name="layer">0..L−1.</param>
    /// <param name="direction">0..D−1.</param>
    /// <returns>A view of the tensor.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An index is out of range.</exception>
    public Span<float> WeightIh(int layer, int direction) => Slot(layer, direction, WeightIhSlot);

    /// <summary><c>weight_hh</c> of one layer and direction, <c>[4H, S]</c>.</summary>
    /// <param name="layer">0..L−1.</param>
    /// <param name="direction">0..D−1.</param>
    /// <returns>A view of the tensor.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An index is out of range.</exception>
    public Span<float> WeightHh(int layer, int direction) => Slot(layer, direction, WeightHhSlot);

    /// <summary><c>bias_ih</c> of one layer and direction, <c>[4H]</c> (with <see cref="LstmBiasMode.Summed"/> the summed bias; empty with <see cref="LstmBiasMode.None"/>).</summary>
    /// <param name="layer">0..L−1.</param>
    /// <param name="direction">0..D−1.</param>
    /// <returns>A view of the tensor, or empty.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An index is out of range.</exception>
    public Span<float> BiasIh(int layer, int direction) => Slot(layer, direction, BiasIhSlot);

    /// <summary><c>bias_hh</c> of one layer and direction, <c>[4H]</c> with <see cref="LstmBiasMode.Separate"/>, else empty.</summary>
    /// <param name="layer">0..L−1.</param>
    /// <param name="direction">0..D−1.</param>
    /// <returns>A view of the tensor, or empty.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An index is out of range.</exception>
    public Span<float> BiasHh(int layer, int direction) => Slot(layer, direction, BiasHhSlot);

    /// <summary><c>weight_hr</c> of one layer and direction, <c>[P, H]</c> with projections, else empty.</summary>
    /// <param name="layer">0..L−1.</param>
    /// <param name="direction">0..D−1.</param>
    /// <returns>A view of the tensor, or empty.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An index is out of range.</exception>
    public Span<float> WeightHr(int layer, int direction) => Slot(layer, direction, WeightHrSlot);

    /// <summary>A deep copy.</summary>
    /// <returns>New parameters with the same layout and values.</returns>
    public LstmStackParameters Clone()
    {
        var p = new LstmStackParameters(InputSize, HiddenSize, Layers, Directions, ProjectionSize, BiasMode);
        values.CopyTo(p.values, 0);
        return p;
    }

    /// <summary>Parameters (or a gradient) of the same layout, all zero: the shape of this one's gradient.</summary>
    /// <returns>New zero parameters.</returns>
    public LstmStackParameters CreateGradient() => new(InputSize, HiddenSize, Layers, Directions, ProjectionSize, BiasMode);

    /// <summary>Whether <paramref name="other"/> has the same sizes and bias mode (so the same tensors).</summary>
    internal bool SameLayout(LstmStackParameters other) =>
        other.InputSize == InputSize && other.HiddenSize == HiddenSize && other.Layers == Layers && other.Directions == Directions
        && other.ProjectionSize == ProjectionSize && other.BiasMode == BiasMode;

    /// <summary>The summed bias of cell (layer, direction) into <paramref name="destination"/> <c>[4H]</c> (zeros without biases).</summary>
    internal void SumBias(int layer, int direction, Span<float> destination)
    {
        Span<float> ih = BiasIh(layer, direction);
        Span<float> hh = BiasHh(layer, direction);
        if (ih.IsEmpty)
        {
            destination.Clear();
        }
        else if (hh.IsEmpty)
        {
            ih.CopyTo(destination);
        }
        else
        {
            System.Numerics.Tensors.TensorPrimitives.Add(ih, hh, destination);
        }
    }

    private int CellIndex(int layer, int direction)
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

    private Span<float> Slot(int layer, int direction, int slot)
    {
        int index = (CellIndex(layer, direction) * TensorsPerCell) + slot;
        return values.AsSpan(offsets[index], lengths[index]);
    }
}
