using System.Diagnostics.CodeAnalysis;
using LstmKernels.Internal;

namespace LstmKernels;

/// <summary>
/// Runs one <see cref="Lstm"/> over many live streams: each stream's state lives here, and the pending steps of
/// different streams run as one batch step over the shared weights, which the step reads once for the whole batch.
/// Open a stream per client with <see cref="Open"/>.
/// </summary>
/// <remarks>
/// <para>
/// No wait when there is nothing to batch: a step that finds the batcher idle runs at once on the calling thread, as a
/// batch of one. Steps that arrive while a batch runs queue up; when it ends they run together, up to <see cref="MaxBatch"/>
/// at a time in arrival order, on the batcher's engine thread (started at the first such hand-off). An optional
/// <see cref="LstmBatcherOptions.BatchWait"/> lets that thread wait a little for more steps.
/// </para>
/// <para>
/// Every stream's outputs are bitwise those of its own <see cref="LstmSession"/> fed the same inputs, in every weight
/// precision and on every SIMD path: a row of a batch step gets the bits it would get alone. Zero allocation per step in
/// steady state, synchronous or asynchronous. See docs/serving.md.
/// </para>
/// </remarks>
public sealed partial class LstmBatcher : IDisposable, IAsyncDisposable
{
    private readonly object gate = new();
    private readonly Lstm lstm;
    private readonly LayerEngine engine;
    private readonly LstmStream?[] slots;
    private readonly Stack<int> freeSlots;
    private readonly LstmStream?[] queue;
    private readonly Timer? idleTimer;
    private int queueHead;
    private int queueCount;
    private int openCount;
    private bool running;
    private readonly BatchRunner runner;
    private readonly Action drain;
    private bool disposed;
    private long stepCount;
    private long batchCount;
    private TaskCompletionSource? drained;

    /// <summary>A batcher with the default options (<see cref="LstmBatcherOptions.Default"/>).</summary>
    /// <param name="lstm">The model; forward direction only.</param>
    /// <param name="maxBatch">The most steps run as one batch (at least 1).</param>
    /// <exception cref="ArgumentNullException"><paramref name="lstm"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="lstm"/> is reverse or bidirectional.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxBatch"/> is below 1.</exception>
    public LstmBatcher(Lstm lstm, int maxBatch)
        : this(lstm, maxBatch, LstmBatcherOptions.Default)
    {
    }

    /// <summary>A batcher with the given options.</summary>
    /// <param name="lstm">The model; forward direction only.</param>
    /// <param name="maxBatch">The most steps run as one batch (at least 1).</param>
    /// <param name="options">Stream cap, batch wait and idle timeout.</param>
    /// <exception cref="ArgumentNullException"><paramref name="lstm"/> or <paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="lstm"/> is reverse or bidirectional.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxBatch"/> is below 1, or an option is out of its range.</exception>
    public LstmBatcher(Lstm lstm, int maxBatch, LstmBatcherOptions options)
    {
        ArgumentNullException.ThrowIfNull(lstm);
        ArgumentNullException.ThrowIfNull(options);
        if (lstm.Options.Direction != LstmDirection.Forward)
        {
            ThrowHelper.Argument(
                nameof(lstm), $"The LSTM runs {lstm.Options.Direction}; only a forward LSTM can stream one step at a time (a reverse direction needs the whole sequence: use Lstm.Forward).");
        }

        if (maxBatch < 1)
        {
            ThrowHelper.OutOfRange(nameof(maxBatch), maxBatch, "must be at least 1");
        }

        CheckOptions(options);
        this.lstm = lstm;
        engine = lstm.Engine;
        Options = options;
        MaxBatch = Math.Min(maxBatch, options.MaxStreams);
        slots = new LstmStream?[options.MaxStreams];
        freeSlots = new Stack<int>(Enumerable.Range(0, options.MaxStreams).Reverse());
        queue = new LstmStream?[options.MaxStreams];
        runner = new BatchRunner(lstm, MaxBatch);
        drain = Drain;
        if (options.IdleTimeout != Timeout.InfiniteTimeSpan)
        {
            // The timer holds the batcher weakly: a batcher dropped without Dispose is still collected.
            TimeSpan period = options.IdleTimeout / 4;
            idleTimer = new Timer(static state => (((WeakReference<LstmBatcher>)state!).TryGetTarget(out LstmBatcher? b) ? b : null)?.CloseIdleStreams(), new WeakReference<LstmBatcher>(this), period, period);
        }
    }

    /// <summary>The model every stream runs.</summary>
    public Lstm Lstm => lstm;

    /// <summary>The most steps run as one batch (the constructor's value, at most <see cref="LstmBatcherOptions.MaxStreams"/>).</summary>
    public int MaxBatch { get; }

    /// <summary>The options the batcher was created with.</summary>
    public LstmBatcherOptions Options { get; }

    /// <summary>The streams open now.</summary>
    public int OpenStreams => Volatile.Read(ref openCount);

    /// <summary>The steps run since creation (every stream's).</summary>
    public long StepCount => Interlocked.Read(ref stepCount);

    /// <summary>The batches run since creation; <see cref="StepCount"/> / <see cref="BatchCount"/> is the mean batch size.</summary>
    public long BatchCount => Interlocked.Read(ref batchCount);

    /// <summary>A test hook: called with the batch size on the runner's thread before each batch runs.</summary>
    internal Action<int>? OnBatch
    {
        get => runner.OnBatch;
        set => runner.OnBatch = value;
    }

    /// <summary>Whether a batch is running or queued steps are waiting for one.</summary>
    internal bool IsRunning
    {
        get
        {
            lock (gate)
            {
                return running;
            }
        }
    }

    /// <summary>Opens a stream with zero state.</summary>
    /// <exception cref="InvalidOperationException"><see cref="LstmBatcherOptions.MaxStreams"/> streams are open (<see cref="TryOpen"/> says so without an exception).</exception>
    /// <exception cref="ObjectDisposedException">The batcher is disposed.</exception>
    public LstmStream Open()
    {
        if (!TryOpen(out LstmStream? stream))
        {
            throw new InvalidOperationException(
                $"The batcher already has {Options.MaxStreams} open streams, its maximum (LstmBatcherOptions.MaxStreams); dispose a stream before opening another.");
        }

        return stream;
    }

    /// <summary>Opens a stream with zero state, or returns false when <see cref="LstmBatcherOptions.MaxStreams"/> streams are open.</summary>
    /// <param name="stream">The new stream, or null.</param>
    /// <exception cref="ObjectDisposedException">The batcher is disposed.</exception>
    public bool TryOpen([NotNullWhen(true)] out LstmStream? stream)
    {
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            if (freeSlots.Count == 0)
            {
                stream = null;
                return false;
            }

            int slot = freeSlots.Pop();
            stream = new LstmStream(this, slot, lstm.Layers, lstm.InputSize, lstm.StateSize, lstm.HiddenSize, Options.RunContinuationsAsynchronously);
            slots[slot] = stream;
            openCount++;
            return true;
        }
    }

    /// <summary>
    /// Closes every stream and stops: steps that have not joined a batch fail with <see cref="ObjectDisposedException"/>,
    /// a batch already running completes. Blocks until it has (unless called from inside that batch's completions).
    /// </summary>
    public void Dispose()
    {
        if (Shutdown())
        {
            lock (gate)
            {
                while (running && !runner.IsCurrentThread)
                {
                    Monitor.Wait(gate);
                }
            }
        }
    }

    /// <summary>As <see cref="Dispose"/>, waiting for a running batch without blocking a thread.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Shutdown())
        {
            Task idle;
            lock (gate)
            {
                idle = running && !runner.IsCurrentThread ? (drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task : Task.CompletedTask;
            }

            await idle.ConfigureAwait(false);
        }
    }

    private static void CheckOptions(LstmBatcherOptions options)
    {
        if (options.MaxStreams < 1)
        {
            ThrowHelper.OutOfRange(nameof(options), options.MaxStreams, "MaxStreams must be at least 1");
        }

        if (options.BatchWait < TimeSpan.Zero || options.BatchWait > LstmBatcherOptions.MaxBatchWait)
        {
            ThrowHelper.OutOfRange(nameof(options), options.BatchWait, $"BatchWait must be between zero and {LstmBatcherOptions.MaxBatchWait.TotalMilliseconds} ms");
        }

        if (options.IdleTimeout != Timeout.InfiniteTimeSpan && options.IdleTimeout < TimeSpan.FromMilliseconds(4))
        {
            ThrowHelper.OutOfRange(nameof(options), options.IdleTimeout, "IdleTimeout must be at least 4 ms, or Timeout.InfiniteTimeSpan for none");
        }
    }

    /// <summary>Marks the batcher disposed and fails what is queued; returns false when it already was.</summary>
    private bool Shutdown()
    {
        var failed = new List<LstmStream>();
        lock (gate)
        {
            if (disposed)
            {
                return false;
            }

            disposed = true;
            idleTimer?.Dispose();
            while (queueCount > 0)
            {
                failed.Add(Dequeue());
            }

            for (int s = 0; s < slots.Length; s++)
            {
                if (slots[s] is LstmStream stream)
                {
                    stream.Closed = LstmStreamCloseReason.BatcherDisposed;
                    slots[s] = null;
                }
            }

            openCount = 0;
            runner.Stop();
            if (!running)
            {
                drained?.TrySetResult();
            }
        }

        foreach (LstmStream stream in failed)
        {
            stream.Complete(ClosedException(stream));
        }

        return true;
    }

}
