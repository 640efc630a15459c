using LstmKernels.Internal;

namespace LstmKernels.Training;

/// <summary>
/// Truncated backpropagation through time for a stream: the stream is fed in windows of at most
/// <see cref="Window"/> steps; the state (h, c) is carried from one window to the next, and gradients flow back
/// only to the start of the current window (TBPTT(k, k)).
/// </summary>
/// <remarks>
/// Per window: <see cref="Forward"/> (from the carried state; the window's final state becomes the carried state),
/// then the caller's loss on the outputs, then <see cref="Backward"/> with ∂L/∂outputs, then an optimizer step.
/// Zero allocation per window after construction.
/// </remarks>
public sealed class TruncatedBptt
{
    private readonly LstmBptt bptt;
    private readonly float[] h;
    private readonly float[] c;

    /// <summary>Allocates the caches for windows of up to <paramref name="window"/> steps.</summary>
    /// <param name="parameters">The weights to train; read (not copied) at every call.</param>
    /// <param name="batchSize">B, the number of parallel streams (at least 1).</param>
    /// <param name="window">k, the longest window (at least 1).</param>
    /// <exception cref="ArgumentNullException"><paramref name="parameters"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A size is less than 1.</exception>
    public TruncatedBptt(LstmParameters parameters, int batchSize, int window)
        : this(parameters, batchSize, window, bias: true)
    {
    }

    /// <summary>Allocates the caches, for a layer with or without a bias (see <see cref="LstmBptt(LstmParameters, int, int, bool)"/>).</summary>
    /// <param name="parameters">The weights to train; read (not copied) at every call.</param>
    /// <param name="batchSize">B, the number of parallel streams (at least 1).</param>
    /// <param name="window">k, the longest window (at least 1).</param>
    /// <param name="bias">False for a layer without a bias: it must be zero, and it stays zero (no gradient).</param>
    /// <exception cref="ArgumentNullException"><paramref name="parameters"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="bias"/> is false and the parameters' bias is not zero.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A size is less than 1.</exception>
    public TruncatedBptt(LstmParameters parameters, int batchSize, int window, bool bias)
    {
        // Checked here so that the exception names this constructor's parameter, not LstmBptt's maxSteps.
        ThrowHelper.CheckSize(window, nameof(window));
        bptt = new LstmBptt(parameters, batchSize, window, bias);
        h = new float[batchSize * parameters.HiddenSize];
        c = new float[batchSize * parameters.HiddenSize];
    }

    /// <summary>k, the longest window.</summary>
    public int Window => bptt.MaxSteps;

    /// <summary>Whether the layer has a bias (false: it stays zero and takes no gradient).</summary>
    public bool HasBias => bptt.HasBias;

    /// <summary>The carried hidden state <c>[B, H]</c>; writable.</summary>
    public Span<float> HiddenState => h;

    /// <summary>The carried cell state <c>[B, H]</c>; writable.</summary>
    public Span<float> CellState => c;

    /// <summary>The hidden states of the last window <c>[T, B, H]</c>: its <c>y</c>.</summary>
    public ReadOnlySpan<float> Y => bptt.Y;

    /// <summary>The carried hidden state; use <see cref="HiddenState"/>.</summary>
    [Obsolete("Use HiddenState. This property will be removed in the next release.")]
    public Span<float> Hidden => h;

    /// <summary>The carried cell state; use <see cref="CellState"/>.</summary>
    [Obsolete("Use CellState. This property will be removed in the next release.")]
    public Span<float> Cell => c;

    /// <summary>The hidden states of the last window; use <see cref="Y"/>.</summary>
    [Obsolete("Use Y. This property will be removed in the next release.")]
    public ReadOnlySpan<float> Outputs => Y;

    /// <summary>Zeros the carried state (the start of a new stream).</summary>
    public void Reset()
    {
        Array.Clear(h);
        Array.Clear(c);
    }

    /// <summary>Zeros the carried state; use <see cref="Reset"/>.</summary>
    [Obsolete("Use Reset. This method will be removed in the next release.")]
    public void ResetState() => Reset();

    /// <summary>Runs one window from the carried state and carries its final state.</summary>
    /// <param name="x">The window's inputs <c>[T, B, I]</c>, T ≤ <see cref="Window"/>.</param>
    /// <param name="y">h_1..h_T <c>[T, B, H]</c>, or empty.</param>
    /// <exception cref="ArgumentException">A length does not fit.</exception>
    public void Forward(ReadOnlySpan<float> x, Span<float> y)
    {
        bptt.Forward(x, h, c, y);
        bptt.HiddenState.CopyTo(h);
        bptt.CellState.CopyTo(c);
    }

    /// <summary>Backpropagates through the last window only, accumulating (+=) into <paramref name="gradient"/>.</summary>
    /// <param name="dY">∂L/∂h_t of the window <c>[T, B, H]</c>.</param>
    /// <param name="gradient">Gradients shaped like the parameters, accumulated.</param>
    /// <exception cref="ArgumentNullException"><paramref name="gradient"/> is null.</exception>
    /// <exception cref="ArgumentException">A length does not fit.</exception>
    public void Backward(ReadOnlySpan<float> dY, LstmParameters gradient)
    {
        ArgumentNullException.ThrowIfNull(gradient);
        if (bptt.StepCount == 0 && dY.Length != 0)
        {
            ThrowHelper.Argument(nameof(dY), "'dY' must be empty after an empty window.");
        }

        bptt.Backward(dY, default, default, gradient, default, default, default);
    }
}
