namespace LstmKernels;

/// <summary>How an <see cref="LstmBatcher"/> admits streams and forms batches. Every default is the no-surprise one: no wait, no timeout.</summary>
public sealed record class LstmBatcherOptions
{
    /// <summary>The longest <see cref="BatchWait"/> accepted: 10 ms. A wait is a spin on the thread that runs the batches; longer ones belong in the caller.</summary>
    public static readonly TimeSpan MaxBatchWait = TimeSpan.FromMilliseconds(10);

    /// <summary>The options <c>new LstmBatcher(lstm, maxBatch)</c> uses.</summary>
    public static LstmBatcherOptions Default { get; } = new();

    /// <summary>The most streams open at once (default 1024); <see cref="LstmBatcher.Open"/> beyond it throws. Each open stream holds its state, L·(S + H) floats.</summary>
    public int MaxStreams { get; init; } = 1024;

    /// <summary>
    /// How long the batch runner may wait for more steps before it starts a batch that is smaller than
    /// <c>maxBatch</c> and than the number of open streams (default zero: a batch starts with whatever is pending).
    /// At most <see cref="MaxBatchWait"/>. A step that finds the batcher idle never waits: it runs at once.
    /// </summary>
    public TimeSpan BatchWait { get; init; } = TimeSpan.Zero;

    /// <summary>
    /// A stream with no step for this long is closed and its slot freed (default <see cref="Timeout.InfiniteTimeSpan"/>:
    /// never). Its next call throws <see cref="ObjectDisposedException"/> saying so. Checked about four times per timeout.
    /// </summary>
    public TimeSpan IdleTimeout { get; init; } = Timeout.InfiniteTimeSpan;

    /// <summary>
    /// Whether the continuations of <see cref="LstmStream.StepAsync"/> go to the thread pool (true) or run on the
    /// thread that ran the batch, one after another, as soon as their step is done (false, the default; an awaiter that
    /// captured a <see cref="SynchronizationContext"/> is posted to it either way).
    /// </summary>
    /// <remarks>
    /// The default is what makes closed-loop streams batch: each continuation queues its stream's next step while the
    /// batch's other steps are still being completed, so the next batch holds every stream that came back. Measured on a
    /// 2-vCPU host with 64 streams of 512x512 (docs/serving.md), pool continuations came back one by one, found the
    /// batcher idle, and ran mostly as batches of one. The price: a continuation must not block (it holds every stream
    /// while it does), and it must not call <see cref="LstmStream.Step"/>, which would wait for the thread it runs on
    /// (that call throws <see cref="InvalidOperationException"/>). Set true when continuations do blocking work.
    /// </remarks>
    public bool RunContinuationsAsynchronously { get; init; }
}
