using System.Diagnostics.CodeAnalysis;

namespace LstmKernels.Internal;

/// <summary>
/// Work that a calling thread hands to one thread-pool thread and then waits for: one instance per calling thread,
/// reused, so handing it over allocates nothing. The caller must not return (and unpin what the work reads) before
/// <see cref="WaitDone"/>.
/// </summary>
[SuppressMessage(
    "Design",
    "CA1001:Types that own disposable fields should be disposable",
    Justification = "One instance per thread, alive as long as the thread; the event's kernel handle, if it ever gets one, is a SafeHandle the finalizer releases.")]
internal abstract class PooledWork : IThreadPoolWorkItem
{
    private readonly ManualResetEventSlim done = new(initialState: false, spinCount: 2000);
    private Exception? failure;

    protected PooledWork()
    {
        // Create the event's kernel handle now: were it created lazily, the first wait that had to block would allocate.
        _ = done.WaitHandle;
    }

    public void Execute()
    {
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

    /// <summary>Queues the work; the fields it reads must be set before.</summary>
    protected void Start()
    {
        failure = null;
        done.Reset();
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    /// <summary>Blocks until the work has run.</summary>
    protected void WaitDone() => done.Wait();

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
