namespace LstmKernels;

/// <summary>Which way a layer of an <see cref="Lstm"/> runs over time.</summary>
public enum LstmDirection
{
    /// <summary>t = 0, 1, …, L−1 (PyTorch's default; ONNX <c>direction = "forward"</c>).</summary>
    Forward,

    /// <summary>t = L−1, …, 0, outputs stored at their original t (ONNX <c>"reverse"</c>).</summary>
    Reverse,

    /// <summary>
    /// Both: direction 0 forward, direction 1 reverse, each with its own weights; their outputs are concatenated
    /// per step (PyTorch's <c>bidirectional=True</c>; ONNX <c>"bidirectional"</c>).
    /// </summary>
    Bidirectional,
}

/// <summary>An activation function of the ONNX LSTM operator (<c>activations</c> attribute).</summary>
public enum LstmActivation
{
    /// <summary>σ(x) = 1 / (1 + e⁻ˣ).</summary>
    Sigmoid,

    /// <summary>tanh(x).</summary>
    Tanh,

    /// <summary>max(0, x).</summary>
    Relu,
}

/// <summary>
/// The options of an <see cref="Lstm"/> beyond its weights: direction, batch-first layout, and the ONNX LSTM
/// operator's peepholes, <c>clip</c>, <c>input_forget</c> and activations. The defaults are PyTorch's <c>nn.LSTM</c>.
/// </summary>
/// <remarks>
/// With the defaults (no peepholes, no clip, no input_forget, σ/tanh/tanh) every layer runs on the fused
/// <see cref="LstmCell.ForwardSequence"/>; any other option takes the unfused route (<see cref="Kernels.Linear"/>,
/// then the pointwise stage with the option), which the reference twin <see cref="Reference.ReferenceLstm"/> checks.
/// Equations with every option (ONNX's, gate order of the peepholes i, f, o here):
/// <c>i = f(z_i + P_i⊙c_{t−1})</c>, <c>f = f(z_f + P_f⊙c_{t−1})</c> (or <c>1 − i</c> with input_forget),
/// <c>g = g(z_g)</c>, <c>c_t = f⊙c_{t−1} + i⊙g</c>, <c>o = f(z_o + P_o⊙c_t)</c>, <c>h_t = o⊙h(c_t)</c>, where each
/// activation's whole argument is clamped to [−clip, clip] when a clip is set (as ONNX Runtime does).
/// </remarks>
public sealed record class LstmOptions
{
    /// <summary>The default options: one direction, forward, time-major, no extras.</summary>
    public static LstmOptions Default { get; } = new();

    /// <summary>Forward (default), reverse or bidirectional.</summary>
    public LstmDirection Direction { get; init; }

    /// <summary>
    /// When true, <c>x</c> and <c>y</c> are <c>[B, T, features]</c> (PyTorch's <c>batch_first</c>); the states stay
    /// <c>[layers·directions, B, H]</c> as in PyTorch (ONNX <c>layout = 1</c> moves them to <c>[B, directions, H]</c>).
    /// </summary>
    public bool BatchFirst { get; init; }

    /// <summary>
    /// False for a model without biases (PyTorch's <c>nn.LSTM(bias=False)</c>, an ONNX LSTM node without <c>B</c>):
    /// every cell's <see cref="LstmParameters.Bias"/> must then be zero, exports write no bias (no <c>bias_ih</c> /
    /// <c>bias_hh</c> keys, no <c>B</c>) and training keeps it at zero. Default true.
    /// </summary>
    public bool Bias { get; init; } = true;

    /// <summary>ONNX <c>clip</c>: a positive bound for every activation's input, or null (default) for none.</summary>
    public float? Clip { get; init; }

    /// <summary>ONNX <c>input_forget</c>: couple the forget gate to the input gate, <c>f = 1 − i</c>.</summary>
    public bool InputForget { get; init; }

    /// <summary>
    /// Peephole weights, one array of <c>3H</c> per layer and direction (index <c>layer·directions + direction</c>), in
    /// the order <c>[P_i | P_f | P_o]</c> (ONNX's <c>P</c> is <c>[P_i | P_o | P_f]</c>; convert with
    /// <see cref="Interop.OnnxLayout.PeepholesFromOnnx"/>); null (default) for none. Obsolete: peepholes are weights
    /// and travel with them, in <see cref="LstmParameters.Peepholes"/>.
    /// </summary>
    [Obsolete("Peepholes travel with the weights: create the cells with new LstmParameters(I, H, peepholes: true) or LstmParameters.FromOnnx(..., p) and fill LstmParameters.Peepholes. This option will be removed in the next release.")]
    public IReadOnlyList<float[]>? Peepholes { get; init; }

    /// <summary>The gate activation <c>f</c> of ONNX (for i, f, o); default <see cref="LstmActivation.Sigmoid"/>.</summary>
    public LstmActivation GateActivation { get; init; } = LstmActivation.Sigmoid;

    /// <summary>The cell-candidate activation <c>g</c> of ONNX; default <see cref="LstmActivation.Tanh"/>.</summary>
    public LstmActivation CellActivation { get; init; } = LstmActivation.Tanh;

    /// <summary>The hidden activation <c>h</c> of ONNX (applied to <c>c_t</c>); default <see cref="LstmActivation.Tanh"/>.</summary>
    public LstmActivation HiddenActivation { get; init; } = LstmActivation.Tanh;

    /// <summary>
    /// How each layer's packed weights are stored (<see cref="LstmCell(LstmParameters, WeightPrecision)"/>): float32
    /// (default), bfloat16 or int8; arithmetic stays float32. Reduced precision needs the fused route (default
    /// activations, no clip, no input_forget, no peepholes, no projections); <see cref="Lstm.GetParameters"/> then
    /// returns the rounded weights the model computes with, and that is what it exports.
    /// </summary>
    public WeightPrecision Precision { get; init; }

    /// <summary>
    /// Threads one step may use (<see cref="LstmCell.StepThreads"/>): 1 (default) or 2, for <see cref="Lstm.Forward"/>
    /// and every <see cref="LstmSession"/>. 2 needs the fused route.
    /// </summary>
    public int StepThreads { get; init; } = 1;

    /// <summary>The number of directions: 2 for <see cref="LstmDirection.Bidirectional"/>, else 1.</summary>
    public int Directions => Direction == LstmDirection.Bidirectional ? 2 : 1;

    /// <summary>True when no option needs the unfused route (the fused cell computes exactly these equations).</summary>
    internal bool IsPlain =>
#pragma warning disable CS0618 // The obsolete peepholes still count while they exist.
        Peepholes is null && Clip is null && !InputForget
#pragma warning restore CS0618
        && GateActivation == LstmActivation.Sigmoid && CellActivation == LstmActivation.Tanh && HiddenActivation == LstmActivation.Tanh;
}
