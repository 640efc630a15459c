using LstmKernels.Internal;

namespace LstmKernels;

/// <summary>
/// A stateful stream over an <see cref="Lstm"/>'s weights: holds (h, c) for every layer and B rows, and steps one
/// input at a time with zero allocation. Create one per stream (or per group of B streams) with
/// <see cref="Lstm.CreateSession"/>; any number of sessions share one <see cref="Lstm"/>.
/// </summary>
/// <remarks>
/// A session is not thread-safe (it owns its state and scratch); different sessions may step on different threads
/// at once. Only forward LSTMs stream: a reverse direction needs the whole sequence, so reverse and bidirectional
/// LSTMs are refused. Stepping T inputs gives the same result as <see cref="Lstm.Forward"/> over the T-step
/// sequence, up to float rounding order. A NaN in row b of an input makes row b's state and outputs NaN from that step
/// on (reset the session to recover); other rows are unaffected. See docs/threading.md and docs/numerics.md.
/// </remarks>
public sealed class LstmSession
{
    private readonly Lstm lstm;
    private readonly LayerEngine engine;
    private readonly float[] h;
    private readonly float[] c;
    private readonly float[] scratch;

    internal LstmSession(Lstm lstm, int batchSize)
    {
        if (batchSize < 1)
        {
            ThrowHelper.OutOfRange(nameof(batchSize), batchSize, "must be at least 1");
        }

        if (lstm.Options.Direction != LstmDirection.Forward)
        {
            throw new NotSupportedException("Only forward LSTMs can stream one step at a time; a reverse direction needs the whole sequence (use Lstm.Forward).");
        }

        this.lstm = lstm;
        engine = lstm.Engine;
        BatchSize = batchSize;
        h = new float[lstm.Layers * batchSize * lstm.StateSize];
        c = new float[lstm.Layers * batchSize * lstm.HiddenSize];
        scratch = new float[engine.StepScratchLength(batchSize)];
    }

    /// <summary>B, the number of rows stepped together.</summary>
    public int BatchSize { get; }

    /// <summary>The LSTM whose weights this session runs.</summary>
    public Lstm Lstm => lstm;

    /// <summary>The number of steps since creation or the last reset.</summary>
    public long StepCount { get; private set; }

    /// <summary>The hidden states <c>[L, B, H]</c> (<c>[L, B, P]</c> with projections); writable (e.g. to restore a saved state).</summary>
    public Span<float> HiddenState => h;

    /// <summary>The cell states <c>[L, B, H]</c>; writable.</summary>
    public Span<float> CellState => c;

    /// <summary>The number of steps; use <see cref="StepCount"/>.</summary>
    [Obsolete("Use StepCount. This property will be removed in the next release.")]
    public long Steps => StepCount;

    /// <summary>The hidden states; use <see cref="HiddenState"/>.</summary>
    [Obsolete("Use HiddenState. This property will be removed in the next release.")]
    public Span<float> H => h;

    /// <summary>The cell states; use <see cref="CellState"/>.</summary>
    [Obsolete("Use CellState. This property will be removed in the next release.")]
    public Span<float> C => c;

    /// <summary>Sets every state to zero.</summary>
    public void Reset()
    {
        Array.Clear(h);
        Array.Clear(c);
        StepCount = 0;
    }

    /// <summary>Sets the states to the given ones.</summary>
    /// <param name="h0">Hidden states <c>[L, B, H]</c> (<c>[L, B, P]</c> with projections).</param>
    /// <param name="c0">Cell states <c>[L, B, H]</c>.</param>
    /// <exception cref="ArgumentException">A length does not fit.</exception>
    public void Reset(ReadOnlySpan<float> h0, ReadOnlySpan<float> c0)
    {
        ThrowHelper.CheckLength(h0.Length, h.Length, nameof(h0), "[L, B, H] ([L, B, P] with projections)");
        ThrowHelper.CheckLength(c0.Length, c.Length, nameof(c0), "[L, B, H]");
        h0.CopyTo(h);
        c0.CopyTo(c);
        StepCount = 0;
    }

    /// <summary>One step of every layer for the B rows.</summary>
    /// <param name="x">Inputs <c>[B, I]</c>.</param>
    /// <param name="y">The last layer's new hidden state <c>[B, H]</c> (<c>[B, P]</c> with projections), or empty.</param>
    /// <exception cref="ArgumentException">A length does not fit, or <paramref name="y"/> overlaps <paramref name="x"/>.</exception>
    public void Step(ReadOnlySpan<float> x, Span<float> y)
    {
        int hidden = lstm.HiddenSize;
        int states = BatchSize * lstm.StateSize;
        int cells = BatchSize * hidden;
        ThrowHelper.CheckLength(x.Length, (long)BatchSize * lstm.InputSize, nameof(x), "[B, I] with B = BatchSize");
        if (!y.IsEmpty)
        {
            ThrowHelper.CheckLength(y.Length, states, nameof(y), "[B, H] ([B, P] with projections), or empty");
            Aliasing.Disjoint(y, x, nameof(y), nameof(x));
        }

        ReadOnlySpan<float> input = x;
        for (int layer = 0; layer < lstm.Layers; layer++)
        {
            Span<float> hl = h.AsSpan(layer * states, states);
            engine.Step(layer, BatchSize, input, hl, c.AsSpan(layer * cells, cells), scratch);
            input = hl;
        }

        if (!y.IsEmpty)
        {
            input.CopyTo(y);
        }

        StepCount++;
    }
}
