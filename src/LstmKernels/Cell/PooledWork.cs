using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;

namespace LstmKernels.Internal;

/// <summary>
/// Work that a calling thread hands to one thread-pool thread and then waits for: one instance per calling thread,
/// reused, so handing it over allocates nothing. The caller must not return (and unpin what the work reads) before
/// <see cref="WaitDone"/>.
/// </summary>
/// <remarks>
/// Whoever claims the work first runs it: the pool thread when it gets to the item, or the caller in
/// <see cref="WaitDone"/> if no pool thread has started it within <see cref="Patience"/> of the caller finishing its
/// own part (the pool is busy or saturated).
/// So a caller never waits for a pool thread that is not coming, and the worst case is the caller doing all the
/// work itself. A queue entry that finds the work claimed returns at once; a late entry from an earlier call may run
/// a later call's work, which is equally correct, because the fields are written before the work is published. While
/// an entry is still queued, no second one is added.
/// </remarks>
[SuppressMessage(
    "Design",
    "CA1001:Types that own disposable fields should be disposable",
    Justification = "One instance per thread, alive as long as the thread; the event's kernel handle, if it ever gets one, is a SafeHandle the finalizer releases.")]
internal abstract class PooledWork : IThreadPoolWorkItem
{
    private const int Claimed = 0;
    private const int Published = 1;

    /// <summary>How long a caller waits for a pool thread to start the work before it runs the work itself: 200 µs.</summary>
    private static readonly long Patience = Stopwatch.Frequency / 5000;

    private readonly ManualResetEventSlim done = new(initialState: false, spinCount: 2000);
    private Exception? failure;
    private int state = Claimed;
    private int queued;

    public void Execute()
    {
        // Cleared before the claim: work published after this point gets a queue entry of its own.
        Volatile.Write(ref queued, 0);
        if (Interlocked.CompareExchange(ref state, Claimed, Published) != Published)
        {
            return; // the caller ran it already, or nothing is published
        }

        try
        {
            Work();
        }
        catch (Exception e)
        {
            failure = e;
        }
        finally
        {
            done.Set();
        }
    }

    /// <summary>
    /// Publishes the work, and queues this item unless an earlier entry of it is still waiting in the pool's queue
    /// (that one will take the new work): the queue never holds this item twice, so it does not grow.
    /// </summary>
    protected void Start()
    {
        failure = null;
        done.Reset();
        Volatile.Write(ref state, Published);
        if (Interlocked.Exchange(ref queued, 1) == 0)
        {
            try
            {
                ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
            }
            catch
            {
                // Not queued (out of memory, say): take the work back, or let a late entry of an earlier call that
                // already took it finish, before the caller's pinned memory can go away; the next call queues again.
                Volatile.Write(ref queued, 0);
                if (Interlocked.CompareExchange(ref state, Claimed, Published) != Published)
                {
                    WaitUninterrupted();
                }

                throw;
            }
        }
    }

    /// <summary>
    /// Waits up to <see cref="Patience"/> for a pool thread to start the work, then runs it here if none has;
    /// otherwise blocks until it has run.
    /// </summary>
    protected void WaitDone()
    {
        // Give a pool thread that is waking up time to arrive: taking its work at once would leave it idle, and a
        // pool thread that keeps finding nothing goes to sleep, so every later hand-over would find it asleep too.
        if (Volatile.Read(ref state) == Published)
        {
            long deadline = Stopwatch.GetTimestamp() + Patience;
            var spinner = default(SpinWait);
            while (Volatile.Read(ref state) == Published && Stopwatch.GetTimestamp() < deadline)
            {
                spinner.SpinOnce(sleep1Threshold: -1);
            }
        }

        if (Interlocked.CompareExchange(ref state, Claimed, Published) == Published)
        {
            try
            {
                Work();
            }
            catch (Exception e)
            {
                failure = e;
            }

            return;
        }

        WaitUninterrupted();
    }

    /// <summary>
    /// Waits for the pool thread that claimed the work. <see cref="Thread.Interrupt"/> cannot end this wait early: the
    /// worker is using the caller's pinned memory, so the caller must not unwind before it is done. An interrupt that
    /// arrives meanwhile is raised again afterwards.
    /// </summary>
    private void WaitUninterrupted()
    {
        bool interrupted = false;
        while (true)
        {
            try
            {
                done.Wait();
                break;
            }
            catch (ThreadInterruptedException)
            {
                interrupted = true;
            }
        }

        if (interrupted)
        {
            Thread.CurrentThread.Interrupt();
        }
    }

    /// <summary>After <see cref="WaitDone"/>: rethrows what the work threw, wrapped, with <paramref name="what"/> as the message.</summary>
    protected void ThrowIfFailed(string what)
    {
        if (failure is Exception e)
        {
            failure = null;
            throw new AggregateException(what, e);
        }
    }

    /// <summary>The work, on the thread-pool thread.</summary>
    protected abstract void Work();
}
