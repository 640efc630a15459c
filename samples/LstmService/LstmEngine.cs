using Grpc.Core;
using LstmKernels;

namespace LstmService;

/// <summary>
/// The served model and the streams on it: admits a stream (the cap, shutdown), gives it a <see cref="FrameStepper"/>
/// over either the shared <see cref="LstmBatcher"/> or its own <see cref="LstmSession"/>, and drains on shutdown.
/// </summary>
/// <remarks>
/// The cap is counted here, the same way with and without batching, so both refuse the stream one over
/// <see cref="MaxStreams"/> with the same status. With batching, the batcher's own cap is the same number, and a slot is
/// freed here only after the batcher's (the stream is disposed first), so <see cref="LstmBatcher.Open"/> never meets its
/// cap before this check does.
/// </remarks>
public sealed class LstmEngine : IHostedLifecycleService, IAsyncDisposable
{
    private readonly CancellationTokenSource stopping = new();
    private readonly TaskCompletionSource drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ILogger<LstmEngine> logger;
    private readonly CancellationTokenRegistration onStopping;
    private int activeStreams;
    private int draining;
    private long sessionSteps;
    private int streamsAtDrain;

    /// <summary>Builds the engine for a packed model.</summary>
    public LstmEngine(Lstm lstm, ServiceOptions options, IHostApplicationLifetime lifetime, ILogger<LstmEngine> logger)
    {
        ArgumentNullException.ThrowIfNull(lstm);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(lifetime);
        Lstm = lstm;
        this.logger = logger;
        MaxStreams = options.MaxStreams;
        DrainLinger = options.DrainLinger;
        if (options.Batching)
        {
            Batcher = new LstmBatcher(lstm, options.MaxBatch, new LstmBatcherOptions
            {
                MaxStreams = options.MaxStreams,
                BatchWait = options.BatchWait,

                // False by default: the handlers' continuations (metrics, reply, write, next read) run on the engine
                // thread, and none of them blocks; see ServiceOptions.PoolContinuations for why and what it measured.
                RunContinuationsAsynchronously = options.PoolContinuations,
            });
        }

        // One float is 4 bytes; a field tag and a length prefix add at most 6. The slack lets a frame a few values
        // too long through to the handler, which names both lengths; anything larger is refused by gRPC unread.
        MaxFrameBytes = (4 * lstm.InputSize) + 64;
        onStopping = lifetime.ApplicationStopping.Register(static e => ((LstmEngine)e!).BeginDrain(), this);
    }

    /// <summary>How long connections stay open after the drain (if it ended streams).</summary>
    public TimeSpan DrainLinger { get; }

    /// <summary>The model.</summary>
    public Lstm Lstm { get; }

    /// <summary>The batcher, or null without batching.</summary>
    public LstmBatcher? Batcher { get; }

    /// <summary>Whether the streams share one batcher.</summary>
    public bool Batching => Batcher is not null;

    /// <summary>The most streams open at once.</summary>
    public int MaxStreams { get; }

    /// <summary>The most steps in one batch (1 without batching).</summary>
    public int MaxBatch => Batcher?.MaxBatch ?? 1;

    /// <summary>The largest request message the Run and Info methods accept.</summary>
    public int MaxFrameBytes { get; }

    /// <summary>The streams open now (admitted and not yet ended).</summary>
    public int ActiveStreams => Volatile.Read(ref activeStreams);

    /// <summary>Whether new streams are admitted: the model is packed and the service is not shutting down.</summary>
    public bool IsReady => Volatile.Read(ref draining) == 0;

    /// <summary>Cancelled when shutdown starts: open streams end after their step in flight.</summary>
    public CancellationToken Stopping => stopping.Token;

    /// <summary>Steps run so far, every stream's.</summary>
    public long StepCount => Batcher?.StepCount ?? Interlocked.Read(ref sessionSteps);

    /// <summary>Batches run so far; without batching every step is a batch of one.</summary>
    public long BatchCount => Batcher?.BatchCount ?? Interlocked.Read(ref sessionSteps);

    /// <summary>Admits a stream.</summary>
    /// <exception cref="RpcException">RESOURCE_EXHAUSTED at the cap; UNAVAILABLE while shutting down.</exception>
    internal FrameStepper Open()
    {
        if (!IsReady)
        {
            throw ShuttingDown();
        }

        if (Interlocked.Increment(ref activeStreams) > MaxStreams)
        {
            Release();
            throw new RpcException(new Status(
                StatusCode.ResourceExhausted,
                $"The service already has {MaxStreams} streams open, its maximum (--max-streams); retry when one ends."));
        }

        if (Batcher is null)
        {
            return new FrameStepper(this, Lstm.CreateSession());
        }

        LstmStream? stream;
        try
        {
            if (!Batcher.TryOpen(out stream))
            {
                // Not reached while this cap and the batcher's are the same number (see the remarks); kept for safety.
                Release();
                throw new RpcException(new Status(StatusCode.ResourceExhausted, $"The batcher has {MaxStreams} streams open, its maximum; retry when one ends."));
            }
        }
        catch (ObjectDisposedException)
        {
            // Shutdown disposed the batcher between the check above and TryOpen.
            Release();
            throw ShuttingDown();
        }

        return new FrameStepper(this, stream);
    }

    /// <summary>Counts a session step (the batcher counts its own).</summary>
    internal void CountSessionStep() => Interlocked.Increment(ref sessionSteps);

    /// <summary>Frees a stream's place; the last one out during shutdown lets <see cref="StoppingAsync"/> go on.</summary>
    internal void Release()
    {
        if (Interlocked.Decrement(ref activeStreams) == 0 && Volatile.Read(ref draining) != 0)
        {
            drained.TrySetResult();
        }
    }

    /// <summary>The status of a stream refused or ended by shutdown.</summary>
    internal static RpcException ShuttingDown() =>
        new(new Status(StatusCode.Unavailable, "The service is shutting down; open the stream again on another instance."));

    /// <inheritdoc/>
    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc/>
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc/>
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// The drain, before any hosted service stops (Kestrel included): no new streams, <c>/healthz</c> Unhealthy; each
    /// open stream completes the step it has taken, writes its output and ends with UNAVAILABLE, while its connection
    /// is still open. Waits until none is left, or until the host's shutdown timeout.
    /// </summary>
    /// <remarks>
    /// Draining here, before Kestrel stops, and lingering <see cref="DrainLinger"/> after it matter to clients. Once
    /// Kestrel stops it closes each connection as soon as its last stream ends; a .NET client (SocketsHttpHandler)
    /// that sees the connection close while a duplex call's request side is still open can fail that call's pending
    /// read with INTERNAL ("The HTTP/2 server closed the connection") although the UNAVAILABLE trailers had arrived
    /// first. The linger gives the clients time to read them.
    /// </remarks>
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        BeginDrain();
        try
        {
            await drained.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            if (Volatile.Read(ref streamsAtDrain) > 0 && DrainLinger > TimeSpan.Zero)
            {
                await Task.Delay(DrainLinger, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            Log.DrainTimedOut(logger, ActiveStreams);
        }
    }

    /// <summary>After the drain: disposes the batcher. Steps still queued (only after a drain timeout) fail with ObjectDisposedException; a running batch completes.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        BeginDrain();
        if (Batcher is not null)
        {
            await Batcher.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        BeginDrain();
        await onStopping.DisposeAsync().ConfigureAwait(false);
        if (Batcher is not null)
        {
            await Batcher.DisposeAsync().ConfigureAwait(false);
        }

        stopping.Dispose();
    }

    private void BeginDrain()
    {
        if (Interlocked.Exchange(ref draining, 1) != 0)
        {
            return;
        }

        int open = Volatile.Read(ref activeStreams);
        Volatile.Write(ref streamsAtDrain, open);
        Log.Draining(logger, open);
        if (open == 0)
        {
            drained.TrySetResult();
        }

        stopping.Cancel();
    }
}
