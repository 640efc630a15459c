using LstmKernels;

namespace LstmService;

/// <summary>
/// One gRPC stream's LSTM state: an <see cref="LstmStream"/> of the shared batcher, or its own <see cref="LstmSession"/>
/// without batching. Same calls either way, so the handler does not know which.
/// </summary>
internal sealed class FrameStepper : IDisposable
{
    private readonly LstmEngine engine;
    private readonly LstmStream? stream;
    private readonly LstmSession? session;
    private int disposed;

    public FrameStepper(LstmEngine engine, LstmStream stream)
    {
        this.engine = engine;
        this.stream = stream;
    }

    public FrameStepper(LstmEngine engine, LstmSession session)
    {
        this.engine = engine;
        this.session = session;
    }

    /// <summary>
    /// One step: <paramref name="y"/> holds the output when the task completes. With a batcher the step joins the
    /// pending steps of other streams (its continuation runs on the batcher's engine thread, or on the thread pool with
    /// <see cref="ServiceOptions.PoolContinuations"/>); with a session it runs now, on this thread, and the task is
    /// already complete.
    /// </summary>
    public ValueTask StepAsync(ReadOnlyMemory<float> x, Memory<float> y, CancellationToken cancellationToken)
    {
        if (stream is not null)
        {
            return stream.StepAsync(x, y, cancellationToken);
        }

        session!.Step(x.Span, y.Span);
        engine.CountSessionStep();
        return ValueTask.CompletedTask;
    }

    /// <summary>Why the batcher closed the stream (<see cref="LstmStreamCloseReason.None"/> while open, and always without batching).</summary>
    public LstmStreamCloseReason CloseReason => stream?.CloseReason ?? LstmStreamCloseReason.None;

    /// <summary>Frees the stream's batcher slot, then its place in the engine's count. Idempotent.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 0)
        {
            stream?.Dispose();
            engine.Release();
        }
    }
}
