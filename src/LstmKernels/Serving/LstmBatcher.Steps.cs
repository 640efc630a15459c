using System.Diagnostics;
using LstmKernels.Internal;

namespace LstmKernels;

/// <summary>The step path: admission, the queue, the inline batch of one, the drain loop, and closing streams.</summary>
public sealed partial class LstmBatcher
{
    /// <summary>The argument checks of a step, before it joins anything.</summary>
    internal void CheckStep(ReadOnlySpan<float> x, Span<float> y)
    {
        ThrowHelper.CheckLength(x.Length, lstm.InputSize, nameof(x), "[I], the LSTM's input size");
        if (!y.IsEmpty)
        {
            ThrowHelper.CheckLength(y.Length, lstm.StateSize, nameof(y), "[H] ([P] with projections), or empty");
            Aliasing.Disjoint(y, x, nameof(y), nameof(x));
        }
    }

    internal void StepSync(LstmStream stream, ReadOnlySpan<float> x, Span<float> y)
    {
        if (runner.IsCurrentThread)
        {
            // Inside a StepAsync continuation on the thread that runs the batches: waiting here would wait for itself.
            throw new InvalidOperationException(
                "LstmStream.Step was called on the batcher's own thread (from a StepAsync continuation, which runs there unless LstmBatcherOptions.RunContinuationsAsynchronously is set); it would wait for itself. Use StepAsync there.");
        }

        stream.Begin();
        lock (gate)
        {
            if (!Admit(stream, out bool runNow))
            {
                stream.EndInline();
                throw ClosedException(stream);
            }

            if (!runNow)
            {
                x.CopyTo(stream.StagedX);
                stream.WantsY = !y.IsEmpty;
                stream.PrepareSync();
                Enqueue(stream);
            }
            else
            {
                stream.Kind = RequestKind.None;
            }
        }

        if (stream.Kind == RequestKind.None)
        {
            try
            {
                RunInline(stream, x, y);
            }
            finally
            {
                stream.EndInline();
            }

            return;
        }

        stream.WaitSync();
        Exception? error = stream.SyncError;
        if (error is null && !y.IsEmpty)
        {
            stream.StagedY.CopyTo(y);
        }

        stream.EndInline();
        if (error is not null)
        {
            throw error;
        }
    }

    internal ValueTask StepAsync(LstmStream stream, ReadOnlyMemory<float> x, Memory<float> y, CancellationToken cancellationToken)
    {
        stream.Begin();
        ValueTask pending = default;
        bool runNow;
        lock (gate)
        {
            if (!Admit(stream, out runNow))
            {
                stream.EndInline();
                throw ClosedException(stream);
            }

            if (!runNow)
            {
                stream.X = x;
                stream.Y = y;
                stream.Token = cancellationToken;
                pending = stream.PrepareAsync();
                Enqueue(stream);
                if (cancellationToken.CanBeCanceled)
                {
                    // Registered under the lock; a token cancelled meanwhile runs the callback here, re-entering it.
                    stream.Registration = cancellationToken.UnsafeRegister(OnCancel, stream);
                }
            }
            else
            {
                stream.Kind = RequestKind.None;
            }
        }

        if (runNow)
        {
            try
            {
                RunInline(stream, x.Span, y.Span);
            }
            finally
            {
                stream.EndInline();
            }
        }

        return pending;
    }

    internal void Reset(LstmStream stream)
    {
        stream.Begin();
        try
        {
            lock (gate)
            {
                ThrowIfClosed(stream);
                Array.Clear(stream.H);
                Array.Clear(stream.C);
                stream.StepCount = 0;
                stream.LastActivity = Environment.TickCount64;
            }
        }
        finally
        {
            stream.EndInline();
        }
    }

    internal void CopyState(LstmStream stream, Span<float> h, Span<float> c)
    {
        stream.Begin();
        try
        {
            lock (gate)
            {
                ThrowIfClosed(stream);
                stream.H.CopyTo(h);
                stream.C.CopyTo(c);
            }
        }
        finally
        {
            stream.EndInline();
        }
    }

    /// <summary>Closes <paramref name="stream"/>; a step of it still in the queue fails with <see cref="ObjectDisposedException"/>.</summary>
    internal void Close(LstmStream stream, LstmStreamCloseReason reason)
    {
        bool wasQueued;
        lock (gate)
        {
            if (stream.Closed != LstmStreamCloseReason.None)
            {
                return;
            }

            stream.Closed = reason;
            slots[stream.Slot] = null;
            freeSlots.Push(stream.Slot);
            openCount--;
            wasQueued = Remove(stream);
        }

        if (wasQueued)
        {
            stream.Complete(ClosedException(stream));
        }
    }

    /// <summary>The idle timer's sweep: closes every open stream with no step in flight and none for <see cref="LstmBatcherOptions.IdleTimeout"/>.</summary>
    private void CloseIdleStreams()
    {
        long limit = Environment.TickCount64 - (long)Options.IdleTimeout.TotalMilliseconds;
        lock (gate)
        {
            for (int s = 0; s < slots.Length; s++)
            {
                if (slots[s] is LstmStream stream && !stream.IsInFlight && stream.LastActivity < limit)
                {
                    stream.Closed = LstmStreamCloseReason.IdleTimeout;
                    slots[s] = null;
                    freeSlots.Push(s);
                    openCount--;
                }
            }
        }
    }

    /// <summary>Under the lock: whether the stream may step, and whether it runs now (the batcher was idle; it is now running).</summary>
    private bool Admit(LstmStream stream, out bool runNow)
    {
        runNow = false;
        if (stream.Closed != LstmStreamCloseReason.None)
        {
            return false;
        }

        stream.LastActivity = Environment.TickCount64;
        if (!running)
        {
            running = true;
            runNow = true;
        }

        return true;
    }

    /// <summary>A step that found the batcher idle: a batch of one on the caller's thread, then the queue goes to the engine thread.</summary>
    private void RunInline(LstmStream stream, ReadOnlySpan<float> x, Span<float> y)
    {
        runner.Enter();
        runner.Batch[0] = stream;
        try
        {
            runner.Run(1, x, y, hasInline: true);
            Interlocked.Increment(ref stepCount);
            Interlocked.Increment(ref batchCount);
        }
        finally
        {
            runner.Batch[0] = null;
            lock (gate)
            {
                runner.Exit();
                if (queueCount == 0)
                {
                    Idle();
                }
                else
                {
                    // The batcher stays running: the engine thread owns the queue from here.
                    runner.Wake(drain);
                }
            }
        }
    }

    /// <summary>The engine thread's loop: batches of up to <see cref="MaxBatch"/> queued steps until none is left.</summary>
    private void Drain()
    {
        runner.Enter();
        LstmStream?[] batch = runner.Batch;
        while (true)
        {
            WaitForMore();
            int n;
            lock (gate)
            {
                if (queueCount == 0)
                {
                    runner.Exit();
                    Idle();
                    return;
                }

                n = Math.Min(queueCount, MaxBatch);
                for (int r = 0; r < n; r++)
                {
                    batch[r] = Dequeue();
                }
            }

            n = DropCancelled(batch, n);
            Exception? failure = null;
            if (n > 0)
            {
                try
                {
                    runner.Run(n, default, default, hasInline: false);
                    Interlocked.Add(ref stepCount, n);
                    Interlocked.Increment(ref batchCount);
                }
                catch (Exception e)
                {
                    failure = e;
                }
            }

            for (int r = 0; r < n; r++)
            {
                LstmStream stream = batch[r]!;
                batch[r] = null;
                stream.Complete(failure is null ? null : new InvalidOperationException("The batch this step ran in failed; the stream's state is unchanged.", failure));
            }
        }
    }

    /// <summary>Completes the cancelled steps of batch[0, n) as cancelled (their state untouched) and packs the rest to the front.</summary>
    private static int DropCancelled(LstmStream?[] batch, int n)
    {
        int kept = 0;
        for (int r = 0; r < n; r++)
        {
            LstmStream stream = batch[r]!;
            batch[r] = null;
            if (stream.Kind == RequestKind.Async && stream.Token.IsCancellationRequested)
            {
                stream.Complete(new OperationCanceledException(stream.Token));
            }
            else
            {
                batch[kept++] = stream;
            }
        }

        return kept;
    }

    /// <summary>With a <see cref="LstmBatcherOptions.BatchWait"/>: spins until the batch is full, every open stream has a step queued, or the wait is over.</summary>
    private void WaitForMore()
    {
        if (Options.BatchWait <= TimeSpan.Zero)
        {
            return;
        }

        long end = Stopwatch.GetTimestamp() + (long)(Options.BatchWait.TotalSeconds * Stopwatch.Frequency);
        while (Volatile.Read(ref queueCount) < Math.Min(MaxBatch, Volatile.Read(ref openCount)) && Stopwatch.GetTimestamp() < end)
        {
            Thread.SpinWait(20);
        }
    }

    /// <summary>Under the lock: no batch runs any more; wakes whoever waits in <see cref="Dispose"/>.</summary>
    private void Idle()
    {
        running = false;
        Monitor.PulseAll(gate);
        drained?.TrySetResult();
    }

    private void ThrowIfClosed(LstmStream stream)
    {
        if (stream.Closed != LstmStreamCloseReason.None)
        {
            throw ClosedException(stream);
        }
    }

    private ObjectDisposedException ClosedException(LstmStream stream) => stream.Closed switch
    {
        LstmStreamCloseReason.IdleTimeout => new ObjectDisposedException(nameof(LstmStream), $"The stream was closed after no step for {Options.IdleTimeout.TotalMilliseconds} ms (LstmBatcherOptions.IdleTimeout); open a new one."),
        LstmStreamCloseReason.BatcherDisposed => new ObjectDisposedException(nameof(LstmBatcher), "The batcher of this stream is disposed."),
        _ => new ObjectDisposedException(nameof(LstmStream), "The stream is disposed."),
    };
}
