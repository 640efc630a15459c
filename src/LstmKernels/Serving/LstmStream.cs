using System.Diagnostics.CodeAnalysis;
using System.Threading.Tasks.Sources;
using LstmKernels.Internal;

namespace LstmKernels;

/// <summary>
/// One live stream of an <see cref="LstmBatcher"/>: its state (h, c of every layer) lives in the batcher, and each step
/// joins whatever steps of other streams are pending, as one batch over the shared weights. Open one per stream with
/// <see cref="LstmBatcher.Open"/>; dispose it to free its slot.
/// </summary>
/// <remarks>
/// A stream has at most one step in flight: a second call while one is pending throws
/// <see cref="InvalidOperationException"/>, so its steps apply in call order. Its outputs are bitwise those of an
/// <see cref="LstmSession"/> of the same <see cref="Lstm"/> fed the same inputs. Different streams may step from any
/// threads at once. See docs/serving.md.
/// </remarks>
[SuppressMessage("Naming", "CA1711", Justification = "A stream of steps, named for what it is; it is not a System.IO.Stream.")]
public sealed class LstmStream : IDisposable, IValueTaskSource
{
    private readonly LstmBatcher batcher;
    private ManualResetValueTaskSourceCore<bool> completion;
    private ManualResetEventSlim? done;

    // 0: idle; 1: a step is in flight. Changed with Interlocked by the caller, reset by whoever finishes the step.
    private int inFlight;

    internal LstmStream(LstmBatcher batcher, int slot, int layers, int input, int state, int hidden, bool asyncContinuations)
    {
        this.batcher = batcher;
        Slot = slot;
        H = new float[layers * state];
        C = new float[layers * hidden];
        StagedX = new float[input];
        StagedY = new float[state];
        completion.RunContinuationsAsynchronously = asyncContinuations;
        LastActivity = Environment.TickCount64;
    }

    /// <summary>The batcher this stream belongs to.</summary>
    public LstmBatcher Batcher => batcher;

    /// <summary>The number of steps since the stream was opened or last reset.</summary>
    public long StepCount { get; internal set; }

    /// <summary>Whether the stream is closed: disposed, timed out idle, or its batcher disposed.</summary>
    public bool IsClosed => Closed != LstmStreamCloseReason.None;

    /// <summary>Why the stream is closed (<see cref="LstmStreamCloseReason.None"/> while it is open): what a server maps to its own status.</summary>
    public LstmStreamCloseReason CloseReason => Closed;

    // State and the pending request: read and written by the batcher (under its lock, or by its one runner).
    internal int Slot { get; }

    internal float[] H { get; }

    internal float[] C { get; }

    internal float[] StagedX { get; }

    internal float[] StagedY { get; }

    internal LstmStreamCloseReason Closed { get; set; }

    internal RequestKind Kind { get; set; }

    internal ReadOnlyMemory<float> X { get; set; }

    internal Memory<float> Y { get; set; }

    internal bool WantsY { get; set; }

    internal CancellationToken Token { get; set; }

    /// <summary>The queued step's cancellation callback, removed when the step leaves the queue.</summary>
    internal CancellationTokenRegistration Registration { get; set; }

    internal bool InQueue { get; set; }

    internal long LastActivity { get; set; }

    internal bool IsInFlight => Volatile.Read(ref inFlight) != 0;

    /// <summary>One step, blocking until its batch has run.</summary>
    /// <param name="x">The input <c>[I]</c>.</param>
    /// <param name="y">The last layer's new hidden state <c>[H]</c> (<c>[P]</c> with projections), or empty.</param>
    /// <exception cref="ArgumentException">A length does not fit, or <paramref name="y"/> overlaps <paramref name="x"/> (the stream stays usable).</exception>
    /// <exception cref="InvalidOperationException">
    /// Another step of this stream is in flight, or the call comes from a <see cref="StepAsync"/> continuation running on
    /// the batcher's own thread (it would wait for itself; use <see cref="StepAsync"/> there).
    /// </exception>
    /// <exception cref="ObjectDisposedException">The stream or its batcher is closed.</exception>
    public void Step(ReadOnlySpan<float> x, Span<float> y)
    {
        batcher.CheckStep(x, y);
        batcher.StepSync(this, x, y);
    }

    /// <summary>
    /// One step: completes when its batch has run and <paramref name="y"/> holds the output. Runs at once, on the
    /// calling thread, when the batcher is idle (the task is then already complete). <paramref name="x"/> and
    /// <paramref name="y"/> must stay untouched until then. Unless <see cref="LstmBatcherOptions.RunContinuationsAsynchronously"/>
    /// is set, the continuation of a queued step runs on the batcher's thread: it must not block.
    /// </summary>
    /// <param name="x">The input <c>[I]</c>.</param>
    /// <param name="y">The last layer's new hidden state <c>[H]</c> (<c>[P]</c> with projections), or empty.</param>
    /// <param name="cancellationToken">
    /// Cancels the step if it has not joined a batch yet: it leaves the queue at once, the task is cancelled and the state
    /// is untouched. A step whose batch has started completes.
    /// </param>
    /// <exception cref="ArgumentException">Thrown synchronously: a length does not fit, or <paramref name="y"/> overlaps <paramref name="x"/>.</exception>
    /// <exception cref="InvalidOperationException">Thrown synchronously: another step of this stream is in flight.</exception>
    /// <exception cref="ObjectDisposedException">The stream or its batcher is closed (synchronously, or for a pending step when the batcher is disposed).</exception>
    public ValueTask StepAsync(ReadOnlyMemory<float> x, Memory<float> y, CancellationToken cancellationToken = default)
    {
        batcher.CheckStep(x.Span, y.Span);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        return batcher.StepAsync(this, x, y, cancellationToken);
    }

    /// <summary>Sets the stream's state to zero.</summary>
    /// <exception cref="InvalidOperationException">A step of this stream is in flight.</exception>
    /// <exception cref="ObjectDisposedException">The stream is closed.</exception>
    public void Reset() => batcher.Reset(this);

    /// <summary>Copies the stream's state out: <paramref name="h"/> <c>[L, H]</c> (<c>[L, P]</c> with projections) and <paramref name="c"/> <c>[L, H]</c>.</summary>
    /// <exception cref="ArgumentException">A length does not fit.</exception>
    /// <exception cref="InvalidOperationException">A step of this stream is in flight.</exception>
    /// <exception cref="ObjectDisposedException">The stream is closed.</exception>
    public void CopyState(Span<float> h, Span<float> c)
    {
        ThrowHelper.CheckLength(h.Length, H.Length, nameof(h), "[L, H] ([L, P] with projections)");
        ThrowHelper.CheckLength(c.Length, C.Length, nameof(c), "[L, H]");
        batcher.CopyState(this, h, c);
    }

    /// <summary>Closes the stream and frees its slot. A pending step that has not joined a batch fails with <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose() => batcher.Close(this, LstmStreamCloseReason.Disposed);

    void IValueTaskSource.GetResult(short token) => completion.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => completion.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        completion.OnCompleted(continuation, state, token, flags);

    /// <summary>Marks a step in flight, or throws when one already is.</summary>
    internal void Begin()
    {
        if (Interlocked.Exchange(ref inFlight, 1) != 0)
        {
            throw new InvalidOperationException("This stream already has a step in flight; a stream takes one step at a time (await or wait for the previous one).");
        }
    }

    /// <summary>Ends a step that never joined the queue (it ran inline, or it was refused).</summary>
    internal void EndInline() => Volatile.Write(ref inFlight, 0);

    /// <summary>Prepares the completion of an asynchronous step about to be queued and returns its value task.</summary>
    internal ValueTask PrepareAsync()
    {
        Kind = RequestKind.Async;
        completion.Reset();
        return new ValueTask(this, completion.Version);
    }

    /// <summary>Prepares the signal a synchronous caller waits on while its step is queued.</summary>
    internal void PrepareSync()
    {
        Kind = RequestKind.Sync;
        (done ??= new ManualResetEventSlim(false, 64)).Reset();
    }

    /// <summary>Finishes a queued step: frees the stream for its next step, then wakes the caller with the outcome.</summary>
    internal void Complete(Exception? error)
    {
        RequestKind kind = Kind;
        X = default;
        Y = default;
        Token = default;
        if (kind == RequestKind.Sync)
        {
            // The waiting caller copies its output, then ends the step itself.
            SyncError = error;
            done!.Set();
            return;
        }

        Volatile.Write(ref inFlight, 0);
        if (error is null)
        {
            completion.SetResult(true);
        }
        else
        {
            completion.SetException(error);
        }
    }

    internal Exception? SyncError { get; private set; }

    /// <summary>Blocks a synchronous caller until <see cref="Complete"/>.</summary>
    internal void WaitSync() => done!.Wait();
}

/// <summary>What the pending step of a stream is.</summary>
internal enum RequestKind
{
    None,
    Sync,
    Async,
}
