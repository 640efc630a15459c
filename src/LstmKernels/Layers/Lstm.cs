using System.Buffers;
using LstmKernels.Internal;

namespace LstmKernels;

/// <summary>
/// A multi-layer, optionally bidirectional LSTM over whole sequences (PyTorch's <c>nn.LSTM</c>, ONNX's <c>LSTM</c>
/// operator): per-row sequence lengths, initial states, every output or only the last state. Immutable after
/// construction; <see cref="Forward"/> may run on many threads at once, and <see cref="CreateSession"/> gives
/// stateful streaming sessions over the same weights.
/// </summary>
/// <remarks>
/// <para>Layouts (PyTorch's): <c>x [T, B, I]</c> (<c>[B, T, I]</c> with <see cref="LstmOptions.BatchFirst"/>);
/// <c>y [T, B, D·H]</c> (<c>[B, T, D·H]</c>), direction d in columns <c>[d·H, (d+1)·H)</c>; states <c>h0, c0, hT, cT</c>
/// as <c>[L·D, B, H]</c>, index <c>layer·D + direction</c>. ONNX's <c>Y</c> is <c>[T, D, B, H]</c>, the same memory
/// when D = 1; see docs/interop.md.</para>
/// <para>Layer l &gt; 0 takes the previous layer's <c>y</c> as input (so its input size is D·H). A row b with
/// <c>sequenceLengths[b] = L &lt; T</c> runs steps 0..L−1 (reverse: L−1..0); its <c>y</c> is zero for t ≥ L and its
/// final state is the state after its L steps (the initial state when L = 0), as ONNX specifies.</para>
/// <para>With default options each layer and direction runs <see cref="LstmCell.ForwardSequence"/> (input projection
/// of all steps first, then the fused recurrent step). Options the fused cell does not have (peepholes, clip,
/// input_forget, other activations) take the unfused route: <see cref="Kernels.Linear"/> for the input projection
/// of all steps, then per step <c>h·Wₕₕᵀ</c> and the pointwise stage built from the span kernels.</para>
/// <para>With projections (PyTorch's <c>proj_size</c>, built from <see cref="ProjectedLstmParameters"/>) the hidden state
/// has P &lt; H units: <c>h_t = W_hr·(o_t ⊙ tanh(c_t))</c>, so <c>h0, hT</c> are <c>[L·D, B, P]</c> while <c>c0, cT</c> stay
/// <c>[L·D, B, H]</c>, <c>y</c> has D·P features per step and layer l &gt; 0 takes D·P inputs. Such an LSTM always
/// takes the unfused route, then <c>h = h_full·W_hrᵀ</c> with <see cref="Kernels.Linear"/> for the whole batch.</para>
/// <para>Twin: <see cref="Reference.ReferenceLstm"/>, the same equations in double with plain loops.</para>
/// </remarks>
public sealed partial class Lstm
{
    private readonly LayerEngine engine;
    private readonly LayerShape shape;

    /// <summary>Builds an LSTM from one set of cell weights per layer and direction.</summary>
    /// <param name="cells">
    /// Weights of each layer and direction, index <c>layer·D + direction</c> (D = 2 for bidirectional, direction 1 the
    /// reverse one); copied. All have the same H; layer 0 has input size I, later layers D·H.
    /// </param>
    /// <param name="options">Direction, layout and ONNX options; null for <see cref="LstmOptions.Default"/>.</param>
    /// <returns>The LSTM. With default options and no peepholes every cell is packed for the fused step and the LSTM keeps
    /// only the packed copy; otherwise it keeps the parameters (see <see cref="WeightBytes"/>).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="cells"/> or one of its elements is null.</exception>
    /// <exception cref="ArgumentException">The cells do not form L whole layers of D directions with matching sizes, or an option is invalid.</exception>
    public static Lstm Create(IReadOnlyList<LstmParameters> cells, LstmOptions? options = null) => new(LayerSpec.Create(cells, options).CheckRoute());

    /// <summary>Builds an LSTM with projections (PyTorch's <c>proj_size</c>) from one set of weights per layer and direction.</summary>
    /// <param name="cells">
    /// Weights of each layer and direction, index <c>layer·D + direction</c>; copied. All have the same H and P; layer 0
    /// has input size I, later layers D·P.
    /// </param>
    /// <param name="options">Direction, layout and ONNX options (they apply to the cell as without projections); null for <see cref="LstmOptions.Default"/>.</param>
    /// <returns>The LSTM.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="cells"/> or one of its elements is null.</exception>
    /// <exception cref="ArgumentException">The cells do not form L whole layers of D directions with matching sizes, or an option is invalid.</exception>
    public static Lstm CreateProjected(IReadOnlyList<ProjectedLstmParameters> cells, LstmOptions? options = null) => new(LayerSpec.CreateProjected(cells, options).CheckRoute());

    private Lstm(LayerSpec spec)
    {
        engine = new LayerEngine(spec);
        shape = spec.Shape;
    }

    /// <summary>I, the input size of layer 0.</summary>
    public int InputSize => shape.InputSize;

    /// <summary>H, the hidden size of every layer (the size of the cell state <c>c</c>).</summary>
    public int HiddenSize => shape.HiddenSize;

    /// <summary>P, the size of the hidden state <c>h</c> with projections (PyTorch's <c>proj_size</c>); 0 without.</summary>
    public int ProjectionSize => shape.ProjectionSize;

    /// <summary>L, the number of layers.</summary>
    public int Layers => shape.Layers;

    /// <summary>D, the number of directions (2 when bidirectional).</summary>
    public int Directions => shape.Directions;

    /// <summary>The features of one output step, D·H (D·P with projections).</summary>
    public int OutputSize => shape.OutputSize;

    /// <summary>The options this LSTM was built with.</summary>
    public LstmOptions Options => shape.Options;

    /// <summary>
    /// Bytes of weights this LSTM holds: the packed cells on the fused route (<see cref="LstmCell.PackedBytes"/> each,
    /// about 4·4H·(I + H) bytes per cell in float32), or the parameters (and peepholes) on the unfused one. The weights
    /// are held once: <see cref="GetParameters"/> reads them back from that copy.
    /// </summary>
    public long WeightBytes => engine.WeightBytes;

    /// <summary>
    /// A copy of the weights of one layer and direction, with their peepholes if they have any: the weights this LSTM
    /// computes with, so with <see cref="LstmOptions.Precision"/> bfloat16 or int8 the rounded ones (a
    /// <see cref="Reference.ReferenceLstm"/> built from them checks the LSTM to float32 bounds; exports write them).
    /// </summary>
    /// <param name="layer">0..L−1.</param>
    /// <param name="direction">0..D−1 (1 is the reverse direction of a bidirectional LSTM).</param>
    /// <returns>New parameters.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An index is out of range.</exception>
    /// <exception cref="InvalidOperationException">The LSTM has projections (use <see cref="GetProjectedParameters"/>).</exception>
    public LstmParameters GetParameters(int layer, int direction)
    {
        int index = shape.Index(layer, direction);
        return engine.GetParameters(index)
            ?? throw new InvalidOperationException("This LSTM has projections (proj_size); use GetProjectedParameters.");
    }

    /// <summary>A copy of the weights of one layer and direction of an LSTM with projections.</summary>
    /// <param name="layer">0..L−1.</param>
    /// <param name="direction">0..D−1 (1 is the reverse direction of a bidirectional LSTM).</param>
    /// <returns>New parameters with the same values.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An index is out of range.</exception>
    /// <exception cref="InvalidOperationException">The LSTM has no projections (use <see cref="GetParameters"/>).</exception>
    public ProjectedLstmParameters GetProjectedParameters(int layer, int direction)
    {
        int index = shape.Index(layer, direction);
        return engine.GetProjectedParameters(index)
            ?? throw new InvalidOperationException("This LSTM has no projections; use GetParameters.");
    }

    /// <summary>Runs whole sequences of a batch through every layer and direction.</summary>
    /// <param name="batchSize">B, the number of sequences (at least 0).</param>
    /// <param name="x">Inputs <c>[T, B, I]</c> (batch-first: <c>[B, T, I]</c>); T = <c>x.Length / (B·I)</c>.</param>
    /// <param name="h0">Initial hidden states <c>[L·D, B, H]</c> (<c>[L·D, B, P]</c> with projections), or empty for zeros.</param>
    /// <param name="c0">Initial cell states <c>[L·D, B, H]</c>, or empty for zeros.</param>
    /// <param name="y">The last layer's outputs <c>[T, B, D·H]</c> (batch-first: <c>[B, T, D·H]</c>; P for H with projections), or empty to skip them.</param>
    /// <param name="hT">Final hidden states <c>[L·D, B, H]</c> (<c>[L·D, B, P]</c> with projections), or empty; may be the same memory as <paramref name="h0"/>.</param>
    /// <param name="cT">Final cell states <c>[L·D, B, H]</c>, or empty; may be the same memory as <paramref name="c0"/>.</param>
    /// <param name="sequenceLengths">Length of each row's sequence <c>[B]</c>, each in 0..T, or empty for all T.</param>
    /// <remarks>
    /// Zero allocation after warm-up (scratch comes from <see cref="ArrayPool{T}.Shared"/>); safe to call from many threads
    /// at once. NaN in <paramref name="x"/> at step t of row b makes row b's outputs NaN from step t on (its direction's
    /// later steps; a reverse direction's earlier ones), never another row's.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is negative.</exception>
    /// <exception cref="ArgumentException">A length does not fit the shapes above, a sequence length is out of range, or outputs overlap where not allowed.</exception>
    public void Forward(
        int batchSize,
        ReadOnlySpan<float> x,
        ReadOnlySpan<float> h0,
        ReadOnlySpan<float> c0,
        Span<float> y,
        Span<float> hT,
        Span<float> cT,
        ReadOnlySpan<int> sequenceLengths = default)
    {
        int steps = shape.CheckForward(batchSize, x, h0, c0, y, hT, cT, sequenceLengths);
        engine.Forward(batchSize, steps, x, h0, c0, y, hT, cT, sequenceLengths);
    }

    /// <summary>A streaming session over these weights: (h, c) for each layer, stepped one input at a time.</summary>
    /// <param name="batchSize">B, the number of independent streams stepped together (at least 1).</param>
    /// <returns>A new session with zero state.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is less than 1.</exception>
    /// <exception cref="NotSupportedException">The LSTM is reverse or bidirectional (a reverse direction needs the whole sequence).</exception>
    public LstmSession CreateSession(int batchSize = 1) => new(this, batchSize);

    /// <summary>The engine that runs this LSTM's weights, shared with its sessions.</summary>
    internal LayerEngine Engine => engine;

    /// <summary>The size of the hidden state h: P with projections, else H.</summary>
    internal int StateSize => shape.StateSize;
}
