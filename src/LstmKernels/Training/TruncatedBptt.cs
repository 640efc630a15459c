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
    {
        // Checked here so that the exception names this constructor's parameter, not LstmBptt's maxSteps.
        ThrowHelper.CheckSize(window, nameof(window));
        bptt = new LstmBptt(parameters, batchSize, window);
        h = new float[batchSize * parameters.HiddenSize];
        c = new float[batchSize * parameters.HiddenSize];
    }

    /// <summary>k, the longest window.</summary>
    public int Window => bptt.MaxSteps;

    /// <summary>The carried hidden state <c>[B, H]</c>.</summary>
    public Span<float> Hidden => h;

    /// <summary>The carried cell state <c>[B, H]</c>.</summary>
    public Span<float> Cell => c;

    /// <summary>The hidden states of the last window <c>[T, B, H]</c>.</summary>
    public ReadOnlySpan<float> Outputs => bptt.Outputs;

    /// <summary>Zeros the carried state (the start of a new stream).</summary>
    public void ResetState()
    {
        Array.Clear(h);
        Array.Clear(c);
    }

    /// <summary>Runs one window from the carried state and carries its final state.</summary>
    /// <param name="inputs">The window's inputs <c>[T, B, I]</c>, T ≤ <see cref="Window"/>.</param>
    /// <param name="outputs">h_1..h_T <c>[T, B, H]</c>, or empty.</param>
    /// <exception cref="ArgumentException">A length does not fit.</exception>
    public void Forward(ReadOnlySpan<float> inputs, Span<float> outputs)
    {
        bptt.Forward(inputs, h, c, outputs);
        bptt.FinalHidden.CopyTo(h);
        bptt.FinalCell.CopyTo(c);
    }

    /// <summary>Backpropagates through the last window only, accumulating (+=) into <paramref name="gradient"/>.</summary>
    /// <param name="dOutputs">∂L/∂h_t of the window <c>[T, B, H]</c>.</param>
    /// <param name="gradient">Gradients shaped like the parameters, accumulated.</param>
    /// <exception cref="ArgumentNullException"><paramref name="gradient"/> is null.</exception>
    /// <exception cref="ArgumentException">A length does not fit.</exception>
    public void Backward(ReadOnlySpan<float> dOutputs, LstmParameters gradient)
    {
        ArgumentNullException.ThrowIfNull(gradient);
        if (bptt.Steps == 0 && dOutputs.Length != 0)
        {
            ThrowHelper.Argument(nameof(dOutputs), "'dOutputs' must be empty after an empty window.");
        }

        bptt.Backward(dOutputs, default, default, gradient, default, default, default);
    }
}
