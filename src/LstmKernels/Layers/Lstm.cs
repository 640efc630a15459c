using System.Buffers;
using System.Numerics.Tensors;
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
public sealed class Lstm
{
    private const string HiddenStateShape = "[L·D, B, H] ([L·D, B, P] with projections), or empty";
    private const string CellStateShape = "[L·D, B, H], or empty";

    private readonly LstmParameters[]? cells;
    private readonly ProjectedLstmParameters[]? projected;
    private readonly LstmCell[]? fused;
    private readonly float[][]? peepholes;
    private readonly float[] zeroBias;
    private readonly float[] zeroProjectionBias;

    /// <summary>Builds the LSTM from one set of cell weights per layer and direction.</summary>
    /// <param name="cells">
    /// Weights of each layer and direction, index <c>layer·D + direction</c> (D = 2 for bidirectional, direction 1 the
    /// reverse one); copied. All have the same H; layer 0 has input size I, later layers D·H.
    /// </param>
    /// <param name="options">Direction, layout and ONNX options; null for <see cref="LstmOptions.Default"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="cells"/> or one of its elements is null.</exception>
    /// <exception cref="ArgumentException">The cells do not form L whole layers of D directions with matching sizes, or an option is invalid.</exception>
    public Lstm(IReadOnlyList<LstmParameters> cells, LstmOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(cells);
        options ??= LstmOptions.Default;
        int directions = options.Directions;
        CheckCellList(cells, directions);
        int hidden = cells[0].HiddenSize;
        int input = cells[0].InputSize;
        this.cells = new LstmParameters[cells.Count];
        for (int k = 0; k < cells.Count; k++)
        {
            LstmParameters p = cells[k];
            int expectedInput = k < directions ? input : directions * hidden;
            if (p.HiddenSize != hidden || p.InputSize != expectedInput)
            {
                ThrowHelper.Argument(nameof(cells), SequenceThrow.CellShape(k, p.InputSize, p.HiddenSize, expectedInput, hidden));
            }

            this.cells[k] = p.Clone();
        }

        peepholes = CheckOptions(options, cells.Count, hidden);
        Options = options;
        InputSize = input;
        HiddenSize = hidden;
        Directions = directions;
        Layers = cells.Count / directions;
        zeroBias = new float[4 * hidden];
        zeroProjectionBias = [];
        if (options.IsPlain)
        {
            fused = new LstmCell[this.cells.Length];
            for (int k = 0; k < fused.Length; k++)
            {
                fused[k] = new LstmCell(this.cells[k]);
            }
        }
    }

    /// <summary>Builds an LSTM with projections (PyTorch's <c>proj_size</c>) from one set of weights per layer and direction.</summary>
    /// <param name="cells">
    /// Weights of each layer and direction, index <c>layer·D + direction</c>; copied. All have the same H and P; layer 0
    /// has input size I, later layers D·P.
    /// </param>
    /// <param name="options">Direction, layout and ONNX options (they apply to the cell as without projections); null for <see cref="LstmOptions.Default"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="cells"/> or one of its elements is null.</exception>
    /// <exception cref="ArgumentException">The cells do not form L whole layers of D directions with matching sizes, or an option is invalid.</exception>
    public Lstm(IReadOnlyList<ProjectedLstmParameters> cells, LstmOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(cells);
        options ??= LstmOptions.Default;
        int directions = options.Directions;
        CheckCellList(cells, directions);
        int hidden = cells[0].HiddenSize;
        int input = cells[0].InputSize;
        int projection = cells[0].ProjectionSize;
        projected = new ProjectedLstmParameters[cells.Count];
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

            projected[k] = p.Clone();
        }

        peepholes = CheckOptions(options, cells.Count, hidden);
        Options = options;
        InputSize = input;
        HiddenSize = hidden;
        ProjectionSize = projection;
        Directions = directions;
        Layers = cells.Count / directions;
        zeroBias = new float[4 * hidden];
        zeroProjectionBias = new float[projection];
    }

    /// <summary>I, the input size of layer 0.</summary>
    public int InputSize { get; }

    /// <summary>H, the hidden size of every layer (the size of the cell state <c>c</c>).</summary>
    public int HiddenSize { get; }

    /// <summary>P, the size of the hidden state <c>h</c> with projections (PyTorch's <c>proj_size</c>); 0 without.</summary>
    public int ProjectionSize { get; }

    /// <summary>L, the number of layers.</summary>
    public int Layers { get; }

    /// <summary>D, the number of directions (2 when bidirectional).</summary>
    public int Directions { get; }

    /// <summary>The features of one output step, D·H (D·P with projections).</summary>
    public int OutputSize => Directions * StateSize;

    /// <summary>The options this LSTM was built with.</summary>
    public LstmOptions Options { get; }

    /// <summary>True when every layer runs on the fused <see cref="LstmCell"/> (default options).</summary>
    public bool IsFused => fused is not null;

    /// <summary>A copy of the weights of one layer and direction.</summary>
    /// <param name="layer">0..L−1.</param>
    /// <param name="direction">0..D−1 (1 is the reverse direction of a bidirectional LSTM).</param>
    /// <returns>New parameters with the same values.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An index is out of range.</exception>
    /// <exception cref="InvalidOperationException">The LSTM has projections (use <see cref="GetProjectedParameters"/>).</exception>
    public LstmParameters GetParameters(int layer, int direction)
    {
        CheckIndex(layer, direction);
        if (cells is null)
        {
            throw new InvalidOperationException("This LSTM has projections (proj_size); use GetProjectedParameters.");
        }

        return cells[(layer * Directions) + direction].Clone();
    }

    /// <summary>A copy of the weights of one layer and direction of an LSTM with projections.</summary>
    /// <param name="layer">0..L−1.</param>
    /// <param name="direction">0..D−1 (1 is the reverse direction of a bidirectional LSTM).</param>
    /// <returns>New parameters with the same values.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An index is out of range.</exception>
    /// <exception cref="InvalidOperationException">The LSTM has no projections (use <see cref="GetParameters"/>).</exception>
    public ProjectedLstmParameters GetProjectedParameters(int layer, int direction)
    {
        CheckIndex(layer, direction);
        if (projected is null)
        {
            throw new InvalidOperationException("This LSTM has no projections; use GetParameters.");
        }

        return projected[(layer * Directions) + direction].Clone();
    }

    /// <summary>A copy of the peepholes <c>[P_i | P_f | P_o]</c> of one layer and direction, or null when there are none.</summary>
    /// <param name="layer">0..L−1.</param>
    /// <param name="direction">0..D−1.</param>
    /// <returns>A new array of 3H, or null.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An index is out of range.</exception>
    public float[]? GetPeepholes(int layer, int direction)
    {
        CheckIndex(layer, direction);
        return (float[]?)peepholes?[(layer * Directions) + direction].Clone();
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
        int steps = CheckForward(batchSize, x, h0, c0, y, hT, cT, sequenceLengths);
        int b = batchSize;
        int h = HiddenSize;
        int sh = StateSize;
        int dh = OutputSize;
        int maxIn = Math.Max(InputSize, dh);
        long stepRows = (long)steps * b;
        bool unfused = fused is null;
        long total =
            (Options.BatchFirst ? stepRows * InputSize : 0)
            + (2 * stepRows * dh)
            + (stepRows * maxIn) + (stepRows * h)
            + (unfused ? (stepRows * 4 * h) + (6L * b * h) + (6L * h) : 0)
            + (projected is not null ? 2L * b * h : 0)
            + (3L * b * h);
        if (total > Array.MaxLength)
        {
            ThrowHelper.Argument(nameof(x), SequenceThrow.TooLarge(total));
        }

        float[] rented = ArrayPool<float>.Shared.Rent((int)Math.Max(total, 1));
        try
        {
            var pool = new ScratchCursor(rented);
            ReadOnlySpan<float> layerInput = x;
            if (Options.BatchFirst)
            {
                Span<float> xt = pool.Take(stepRows * InputSize);
                Transpose01(x, xt, b, steps, InputSize);
                layerInput = xt;
            }

            Span<float> bufferA = pool.Take(stepRows * dh);
            Span<float> bufferB = pool.Take(stepRows * dh);
            var work = new DirectionScratch(ref pool, stepRows, maxIn, b, h, unfused, projected is not null);
            Span<float> zeros = pool.Take((long)b * h);
            zeros.Clear();
            Span<float> hScratch = pool.Take((long)b * h);
            Span<float> cScratch = pool.Take((long)b * h);
            int hStates = b * sh;
            int cStates = b * h;
            for (int layer = 0; layer < Layers; layer++)
            {
                bool last = layer == Layers - 1;
                Span<float> output = last && !Options.BatchFirst && !y.IsEmpty ? y : (layer % 2 == 0 ? bufferA : bufferB);
                for (int d = 0; d < Directions; d++)
                {
                    int index = (layer * Directions) + d;
                    ReadOnlySpan<float> h0d = h0.IsEmpty ? zeros[..hStates] : h0.Slice(index * hStates, hStates);
                    ReadOnlySpan<float> c0d = c0.IsEmpty ? zeros : c0.Slice(index * cStates, cStates);
                    Span<float> hTd = hT.IsEmpty ? hScratch[..hStates] : hT.Slice(index * hStates, hStates);
                    Span<float> cTd = cT.IsEmpty ? cScratch : cT.Slice(index * cStates, cStates);
                    bool reverse = d == 1 || Options.Direction == LstmDirection.Reverse;
                    if (unfused)
                    {
                        RunUnfused(index, reverse, steps, b, layerInput, h0d, c0d, output, d * sh, hTd, cTd, sequenceLengths, work);
                    }
                    else
                    {
                        RunFused(index, reverse, steps, b, layerInput, h0d, c0d, output, d * h, hTd, cTd, sequenceLengths, work, zeros);
                    }
                }

                layerInput = output;
            }

            if (!y.IsEmpty && Options.BatchFirst)
            {
                Transpose01(layerInput, y, steps, b, dh);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(rented);
        }
    }

    /// <summary>A streaming session over these weights: (h, c) for each layer, stepped one input at a time.</summary>
    /// <param name="batchSize">B, the number of independent streams stepped together (at least 1).</param>
    /// <returns>A new session with zero state.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is less than 1.</exception>
    /// <exception cref="NotSupportedException">The LSTM is reverse or bidirectional (a reverse direction needs the whole sequence).</exception>
    public LstmSession CreateSession(int batchSize = 1) => new(this, batchSize);

    /// <summary>The size of the hidden state h: P with projections, else H.</summary>
    internal int StateSize => ProjectionSize > 0 ? ProjectionSize : HiddenSize;

    /// <summary>Zeros <c>[4H]</c>, the bias of the recurrent product.</summary>
    internal ReadOnlySpan<float> ZeroBias => zeroBias;

    /// <summary>Zeros <c>[P]</c>, the bias of the projection (empty without projections).</summary>
    internal ReadOnlySpan<float> ZeroProjectionBias => zeroProjectionBias;

    /// <summary>The weights of cell <paramref name="index"/>; null when the LSTM has projections.</summary>
    internal LstmParameters? Cell(int index) => cells?[index];

    /// <summary>The weights of cell <paramref name="index"/> with projections; null when the LSTM has none.</summary>
    internal ProjectedLstmParameters? ProjectedCell(int index) => projected?[index];

    internal LstmCell? FusedCell(int index) => fused?[index];

    internal float[]? Peephole(int index) => peepholes?[index];

    /// <summary>
    /// The pointwise stage of one row with every option, from pre-activations <paramref name="z"/> <c>[4H]</c>
    /// (overwritten) and <paramref name="cPrev"/> to <paramref name="h"/> and <paramref name="c"/> (distinct from cPrev).
    /// </summary>
    internal void PointwiseRow(int index, Span<float> z, ReadOnlySpan<float> cPrev, Span<float> h, Span<float> c)
    {
        int n = HiddenSize;
        Span<float> zi = z[..n];
        Span<float> zf = z.Slice(n, n);
        Span<float> zg = z.Slice(2 * n, n);
        Span<float> zo = z.Slice(3 * n, n);
        float[]? p = peepholes?[index];
        LstmOptions o = Options;
        if (p is not null)
        {
            TensorPrimitives.MultiplyAdd(cPrev, p.AsSpan(0, n), zi, zi);
        }

        Activate(zi, o.GateActivation, o.Clip);
        if (o.InputForget)
        {
            TensorPrimitives.Subtract(1f, zi, zf);
        }
        else
        {
            if (p is not null)
            {
                TensorPrimitives.MultiplyAdd(cPrev, p.AsSpan(n, n), zf, zf);
            }

            Activate(zf, o.GateActivation, o.Clip);
        }

        Activate(zg, o.CellActivation, o.Clip);
        Kernels.CellUpdate(zf, cPrev, zi, zg, c);
        if (p is not null)
        {
            TensorPrimitives.MultiplyAdd(c, p.AsSpan(2 * n, n), zo, zo);
        }

        Activate(zo, o.GateActivation, o.Clip);
        if (o.HiddenActivation == LstmActivation.Tanh)
        {
            Kernels.HiddenUpdate(zo, c, h);
        }
        else
        {
            c.CopyTo(h);
            Activate(h, o.HiddenActivation, null);
            TensorPrimitives.Multiply(zo, h, h);
        }
    }

    private static void Activate(Span<float> values, LstmActivation activation, float? clip)
    {
        if (clip is float bound)
        {
            TensorPrimitives.Max(values, -bound, values);
            TensorPrimitives.Min(values, bound, values);
        }

        switch (activation)
        {
            case LstmActivation.Sigmoid: Kernels.Sigmoid(values, values); break;
            case LstmActivation.Tanh: Kernels.Tanh(values, values); break;
            default: TensorPrimitives.Max(values, 0f, values); break;
        }
    }

    private void RunFused(
        int index,
        bool reverse,
        int steps,
        int batch,
        ReadOnlySpan<float> input,
        ReadOnlySpan<float> h0,
        ReadOnlySpan<float> c0,
        Span<float> output,
        int column,
        Span<float> hT,
        Span<float> cT,
        ReadOnlySpan<int> lengths,
        DirectionScratch s,
        ReadOnlySpan<float> zeros)
    {
        LstmCell cell = fused![index];
        int inSize = cell.InputSize;
        int h = HiddenSize;
        int dh = OutputSize;
        if (AllFull(lengths, steps))
        {
            ReadOnlySpan<float> xs = input[..(steps * batch * inSize)];
            int stepFloats = batch * inSize;
            if (reverse)
            {
                Span<float> xr = s.X[..xs.Length];
                for (int t = 0; t < steps; t++)
                {
                    xs.Slice((steps - 1 - t) * stepFloats, stepFloats).CopyTo(xr.Slice(t * stepFloats, stepFloats));
                }

                xs = xr;
            }

            bool direct = dh == h && !reverse;
            Span<float> ys = direct ? output : s.Y[..(steps * batch * h)];
            cell.ForwardSequence(xs, h0, c0, ys, hT, cT);
            if (!direct)
            {
                for (int t = 0; t < steps; t++)
                {
                    int tOut = reverse ? steps - 1 - t : t;
                    for (int b = 0; b < batch; b++)
                    {
                        ys.Slice(((t * batch) + b) * h, h).CopyTo(output.Slice((((tOut * batch) + b) * dh) + column, h));
                    }
                }
            }

            return;
        }

        // Rows of different lengths: each row is its own sequence at B = 1, gathered in the order it runs.
        for (int b = 0; b < batch; b++)
        {
            int length = lengths[b];
            Span<float> xr = s.X[..(length * inSize)];
            for (int k = 0; k < length; k++)
            {
                int t = reverse ? length - 1 - k : k;
                input.Slice(((t * batch) + b) * inSize, inSize).CopyTo(xr.Slice(k * inSize, inSize));
            }

            Span<float> ys = s.Y[..(length * h)];
            cell.ForwardSequence(
                xr, h0.Slice(b * h, h), c0.Slice(b * h, h), ys, hT.Slice(b * h, h), cT.Slice(b * h, h));
            for (int k = 0; k < length; k++)
            {
                int t = reverse ? length - 1 - k : k;
                ys.Slice(k * h, h).CopyTo(output.Slice((((t * batch) + b) * dh) + column, h));
            }

            for (int t = length; t < steps; t++)
            {
                zeros[..h].CopyTo(output.Slice((((t * batch) + b) * dh) + column, h));
            }
        }
    }

    private void RunUnfused(
        int index,
        bool reverse,
        int steps,
        int batch,
        ReadOnlySpan<float> input,
        ReadOnlySpan<float> h0,
        ReadOnlySpan<float> c0,
        Span<float> output,
        int column,
        Span<float> hT,
        Span<float> cT,
        ReadOnlySpan<int> lengths,
        DirectionScratch s)
    {
        ReadOnlySpan<float> weightIh, weightHh, bias, weightHr;
        if (projected is not null)
        {
            ProjectedLstmParameters q = projected[index];
            weightIh = q.WeightIh;
            weightHh = q.WeightHh;
            bias = q.Bias;
            weightHr = q.WeightHr;
        }
        else
        {
            LstmParameters p = cells![index];
            weightIh = p.WeightIh;
            weightHh = p.WeightHh;
            bias = p.Bias;
            weightHr = default;
        }

        int h = HiddenSize;
        int sh = StateSize;
        int g4 = 4 * h;
        int inSize = weightIh.Length / g4;
        int dh = OutputSize;
        bool project = !weightHr.IsEmpty;

        // The input half of every step at once: one matrix-matrix pass over W_ih for all T·B rows.
        Span<float> projection = s.Projection[..(steps * batch * g4)];
        Kernels.Linear(input[..(steps * batch * inSize)], weightIh, bias, projection);
        Span<float> hState = s.H[..(batch * sh)];
        Span<float> cState = s.C[..(batch * h)];
        h0.CopyTo(hState);
        c0.CopyTo(cState);
        Span<float> recurrent = s.Recurrent[..(batch * g4)];

        // With projections: o ⊙ tanh(c) of every row [B, H] (rows that have stopped stay zero), then h = that·W_hrᵀ [B, P].
        Span<float> hFull = project ? s.HFull[..(batch * h)] : default;
        Span<float> hProjected = project ? s.HProjected[..(batch * sh)] : default;
        hFull.Clear();
        int maxLength = 0;
        for (int b = 0; b < batch; b++)
        {
            int length = lengths.IsEmpty ? steps : lengths[b];
            maxLength = Math.Max(maxLength, length);
            for (int t = length; t < steps; t++)
            {
                output.Slice((((t * batch) + b) * dh) + column, sh).Clear();
            }
        }

        for (int k = 0; k < maxLength; k++)
        {
            Kernels.Linear(hState, weightHh, zeroBias, recurrent);
            for (int b = 0; b < batch; b++)
            {
                int length = lengths.IsEmpty ? steps : lengths[b];
                if (k >= length)
                {
                    continue;
                }

                int t = reverse ? length - 1 - k : k;
                Span<float> z = s.Gates[..g4];
                TensorPrimitives.Add(recurrent.Slice(b * g4, g4), projection.Slice(((t * batch) + b) * g4, g4), z);
                Span<float> hNew = project ? hFull.Slice(b * h, h) : s.HNext[..h];
                Span<float> cNew = s.CNext[..h];
                PointwiseRow(index, z, cState.Slice(b * h, h), hNew, cNew);
                if (!project)
                {
                    hNew.CopyTo(output.Slice((((t * batch) + b) * dh) + column, h));
                }

                cNew.CopyTo(cState.Slice(b * h, h));
            }

            if (project)
            {
                Kernels.Linear(hFull, weightHr, zeroProjectionBias, hProjected);
            }

            // h is written after the whole batch has read it through the recurrent product above.
            for (int b = 0; b < batch; b++)
            {
                int length = lengths.IsEmpty ? steps : lengths[b];
                if (k < length)
                {
                    int t = reverse ? length - 1 - k : k;
                    Span<float> yRow = output.Slice((((t * batch) + b) * dh) + column, sh);
                    if (project)
                    {
                        hProjected.Slice(b * sh, sh).CopyTo(yRow);
                    }

                    yRow.CopyTo(hState.Slice(b * sh, sh));
                }
            }
        }

        hState.CopyTo(hT);
        cState.CopyTo(cT);
    }

    private int CheckForward(
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

        Aliasing.Disjoint(y, x, nameof(y), nameof(x));
        Aliasing.Disjoint(y, h0, nameof(y), nameof(h0));
        Aliasing.Disjoint(y, c0, nameof(y), nameof(c0));
        Aliasing.Disjoint(y, hT, nameof(y), nameof(hT));
        Aliasing.Disjoint(y, cT, nameof(y), nameof(cT));
        Aliasing.AllowExactOnly(hT, h0, nameof(hT), nameof(h0));
        Aliasing.Disjoint(hT, x, nameof(hT), nameof(x));
        Aliasing.Disjoint(hT, c0, nameof(hT), nameof(c0));
        Aliasing.Disjoint(hT, cT, nameof(hT), nameof(cT));
        Aliasing.AllowExactOnly(cT, c0, nameof(cT), nameof(c0));
        Aliasing.Disjoint(cT, x, nameof(cT), nameof(x));
        Aliasing.Disjoint(cT, h0, nameof(cT), nameof(h0));
        return steps;
    }

    private static void CheckOptional(int actual, long expected, string paramName, string what)
    {
        if (actual != 0)
        {
            ThrowHelper.CheckLength(actual, expected, paramName, what);
        }
    }

    private void CheckIndex(int layer, int direction)
    {
        if ((uint)layer >= (uint)Layers)
        {
            ThrowHelper.OutOfRange(nameof(layer), layer, "must be in 0..Layers − 1");
        }

        if ((uint)direction >= (uint)Directions)
        {
            ThrowHelper.OutOfRange(nameof(direction), direction, "must be in 0..Directions − 1");
        }
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

    private static float[][]? CheckOptions(LstmOptions options, int count, int hidden)
    {
        if (options.Clip is float clip && !(clip > 0 && float.IsFinite(clip)))
        {
            ThrowHelper.Argument(nameof(options), SequenceThrow.BadClip(clip));
        }

        if (options.Peepholes is not { } given)
        {
            return null;
        }

        if (given.Count != count)
        {
            ThrowHelper.Argument(nameof(options), SequenceThrow.PeepholeCount(given.Count, count));
        }

        var copies = new float[given.Count][];
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

    private static bool AllFull(ReadOnlySpan<int> lengths, int steps)
    {
        foreach (int length in lengths)
        {
            if (length != steps)
            {
                return false;
            }
        }

        return true;
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

    /// <summary>Swaps the first two axes: <paramref name="source"/> <c>[A, B, F]</c> to <paramref name="destination"/> <c>[B, A, F]</c>.</summary>
    internal static void Transpose01(ReadOnlySpan<float> source, Span<float> destination, int a, int b, int features)
    {
        for (int i = 0; i < a; i++)
        {
            for (int j = 0; j < b; j++)
            {
                source.Slice(((i * b) + j) * features, features).CopyTo(destination.Slice(((j * a) + i) * features, features));
            }
        }
    }

    /// <summary>Carves spans out of one rented array.</summary>
    private ref struct ScratchCursor(float[] array)
    {
        private int used;

        public Span<float> Take(long length)
        {
            Span<float> span = array.AsSpan(used, (int)length);
            used += (int)length;
            return span;
        }
    }

    /// <summary>The scratch of one layer and direction, reused by every direction of a call.</summary>
    private readonly ref struct DirectionScratch
    {
        public DirectionScratch(ref ScratchCursor pool, long stepRows, int maxIn, int batch, int hidden, bool unfused, bool projected)
        {
            X = pool.Take(stepRows * maxIn);
            Y = pool.Take(stepRows * hidden);
            if (unfused)
            {
                Projection = pool.Take(stepRows * 4 * hidden);
                Recurrent = pool.Take(4L * batch * hidden);
                Gates = pool.Take(4L * hidden);
                H = pool.Take((long)batch * hidden);
                C = pool.Take((long)batch * hidden);
                HNext = pool.Take(hidden);
                CNext = pool.Take(hidden);
            }

            if (projected)
            {
                HFull = pool.Take((long)batch * hidden);
                HProjected = pool.Take((long)batch * hidden);
            }
        }

        public Span<float> X { get; }

        public Span<float> Y { get; }

        public Span<float> Projection { get; }

        public Span<float> Recurrent { get; }

        public Span<float> Gates { get; }

        public Span<float> H { get; }

        public Span<float> C { get; }

        public Span<float> HNext { get; }

        public Span<float> CNext { get; }

        public Span<float> HFull { get; }

        public Span<float> HProjected { get; }
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

    public static string BadLength(int row, int length, int steps) =>
        $"'sequenceLengths[{row}]' is {length}; each length must be in 0..T = {steps}.";

    public static string TooLarge(long floats) =>
        $"The call needs {floats} floats of scratch, more than one array can hold; split the batch or the sequence.";
}
