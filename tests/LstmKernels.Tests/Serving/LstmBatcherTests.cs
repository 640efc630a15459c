// The tests hold ValueTasks to look at them before awaiting (each is still consumed once).
#pragma warning disable CA2012

namespace LstmKernels.Tests;

/// <summary>
/// The batcher's rules one by one: batching happens when the engine is busy and not otherwise, one step in flight per
/// stream, cancellation before the batch leaves the state untouched, disposal fails what is pending, the stream cap,
/// the idle timeout, and bad input that fails the call and leaves the stream usable.
/// </summary>
public sealed class LstmBatcherTests
{
    internal const int InputSize = I;
    private const int I = 12, H = 20;

    [Fact]
    public void AStep_RunsAtOnce_WhenTheBatcherIsIdle()
    {
        using var batcher = new LstmBatcher(Model(), maxBatch: 8);
        using LstmStream stream = batcher.Open();
        var sizes = new List<int>();
        batcher.OnBatch = sizes.Add;
        float[] y = new float[H];
        stream.Step(Input(1), y);
        ValueTask task = stream.StepAsync(Input(2), y);

        // Ran on this thread before StepAsync returned: a completed task, two batches of one.
        Assert.True(task.IsCompletedSuccessfully);
        Assert.Equal([1, 1], sizes);
        Assert.Equal(2, stream.StepCount);
        Assert.False(batcher.IsRunning);
    }

    [Fact]
    public async Task StepsThatArriveWhileABatchRuns_RunAsOneBatch_InArrivalOrder()
    {
        using var batcher = new LstmBatcher(Model(), maxBatch: 4);
        LstmStream first = batcher.Open();
        var others = Enumerable.Range(0, 6).Select(_ => batcher.Open()).ToArray();
        var sizes = new List<int>();

        // The first step holds the engine; six more queue behind it and run as batches of 4 and 2.
        using var hold = new EngineHold(batcher, first, Input(0), sizes.Add);
        var ys = others.Select(_ => new float[H]).ToArray();
        ValueTask[] pending = others.Select((s, k) => s.StepAsync(Input(k + 1), ys[k])).ToArray();
        Assert.All(pending, p => Assert.False(p.IsCompleted));
        await hold.ReleaseAsync();
        foreach (ValueTask p in pending)
        {
            await p;
        }

        Assert.Equal([1, 4, 2], sizes);
        Assert.Equal(7, batcher.StepCount);
        Assert.Equal(3, batcher.BatchCount);
        for (int k = 0; k < others.Length; k++)
        {
            Check.BitwiseEqual(SessionOutput(batcher.Lstm, Input(k + 1)), ys[k], $"stream {k}");
        }
    }

    [Fact]
    public async Task ASecondStepInFlight_Throws_AndTheFirstCompletes()
    {
        using var batcher = new LstmBatcher(Model(), maxBatch: 4);
        using LstmStream holder = batcher.Open(), stream = batcher.Open();
        using var hold = new EngineHold(batcher, holder, Input(0));
        float[] y = new float[H];
        ValueTask first = stream.StepAsync(Input(1), y);
        var e = Assert.Throws<InvalidOperationException>(() => stream.Step(Input(2), default));
        Assert.Contains("already has a step in flight", e.Message);
        Assert.Throws<InvalidOperationException>(() => stream.Reset());
        Assert.Throws<InvalidOperationException>(() => { _ = stream.StepAsync(Input(2), default); });
        await hold.ReleaseAsync();
        await first;
        Check.BitwiseEqual(SessionOutput(batcher.Lstm, Input(1)), y, "the first step");
        Assert.Equal(1, stream.StepCount);
    }

    [Fact]
    public async Task AStepCancelledBeforeItsBatch_LeavesTheStateUntouched()
    {
        using var batcher = new LstmBatcher(Model(), maxBatch: 4);
        using LstmStream holder = batcher.Open(), stream = batcher.Open();
        stream.Step(Input(5), default);
        float[] h = new float[H], c = new float[H], h2 = new float[H], c2 = new float[H];
        stream.CopyState(h, c);
        using var hold = new EngineHold(batcher, holder, Input(0));
        using var cts = new CancellationTokenSource();
        ValueTask step = stream.StepAsync(Input(1), new float[H], cts.Token);
        Assert.False(step.IsCompleted);
        cts.Cancel();

        // Out of the queue at once, while the batch ahead of it still runs.
        Assert.True(step.IsCanceled);
        await hold.ReleaseAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await step);
        stream.CopyState(h2, c2);
        Check.BitwiseEqual(h, h2, "h after a cancelled step");
        Check.BitwiseEqual(c, c2, "c after a cancelled step");
        Assert.Equal(1, stream.StepCount);

        // The stream goes on, and a token cancelled up front fails at once.
        await stream.StepAsync(Input(2), default);
        Assert.Equal(2, stream.StepCount);
        Assert.True(stream.StepAsync(Input(3), default, cts.Token).IsCanceled);
    }

    [Fact]
    public async Task Dispose_FailsPendingSteps_AndClosesEveryStream()
    {
        var batcher = new LstmBatcher(Model(), maxBatch: 4);
        LstmStream holder = batcher.Open(), stream = batcher.Open();
        float[] yHeld = new float[H];
        using var hold = new EngineHold(batcher, holder, Input(0), y: yHeld);
        ValueTask pending = stream.StepAsync(Input(1), new float[H]);
        Task disposing = Task.Run(batcher.DisposeAsync().AsTask);
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await pending);
        Assert.False(disposing.IsCompleted);
        await hold.ReleaseAsync();
        await disposing;

        // The running step completed; everything after fails clearly.
        Check.BitwiseEqual(SessionOutput(batcher.Lstm, Input(0)), yHeld, "the step that was running");
        Assert.True(stream.IsClosed);
        Assert.Equal(LstmStreamCloseReason.BatcherDisposed, stream.CloseReason);
        var e = Assert.Throws<ObjectDisposedException>(() => stream.Step(Input(2), default));
        Assert.Contains("batcher", e.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Throws<ObjectDisposedException>(() => batcher.Open());
        batcher.Dispose();
    }

    [Fact]
    public void Open_PastTheMaximum_Throws_AndADisposedStreamFreesItsSlot()
    {
        using var batcher = new LstmBatcher(Model(), 2, new LstmBatcherOptions { MaxStreams = 3 });
        LstmStream[] open = [batcher.Open(), batcher.Open(), batcher.Open()];
        var e = Assert.Throws<InvalidOperationException>(() => batcher.Open());
        Assert.Contains("3 open streams", e.Message);
        Assert.False(batcher.TryOpen(out LstmStream? none));
        Assert.Null(none);
        Assert.Equal(3, batcher.OpenStreams);
        Assert.Equal(LstmStreamCloseReason.None, open[1].CloseReason);
        open[1].Dispose();
        open[1].Dispose();
        Assert.Equal(LstmStreamCloseReason.Disposed, open[1].CloseReason);
        Assert.Equal(2, batcher.OpenStreams);
        Assert.Throws<ObjectDisposedException>(() => open[1].Step(Input(0), default));
        Assert.True(batcher.TryOpen(out LstmStream? again));
        using LstmStream opened = again;
        opened.Step(Input(0), default);
        Assert.Equal(3, batcher.OpenStreams);
    }

    [Fact]
    public void AnIdleStream_IsClosed_AfterTheTimeout()
    {
        using var batcher = new LstmBatcher(Model(), 2, new LstmBatcherOptions { IdleTimeout = TimeSpan.FromMilliseconds(40) });
        LstmStream idle = batcher.Open();
        idle.Step(Input(0), default);
        Assert.True(SpinWait.SpinUntil(() => idle.IsClosed, TimeSpan.FromSeconds(10)), "the idle stream was not closed");
        Assert.Equal(0, batcher.OpenStreams);
        var e = Assert.Throws<ObjectDisposedException>(() => idle.Step(Input(1), default));
        Assert.Contains("IdleTimeout", e.Message);
        Assert.Equal(LstmStreamCloseReason.IdleTimeout, idle.CloseReason);
    }

    [Fact]
    public void BadInput_FailsTheCall_AndLeavesTheStreamUsable()
    {
        using var batcher = new LstmBatcher(Model(), 4);
        using LstmStream stream = batcher.Open();
        float[] y = new float[H];
        Check.Throws<ArgumentException>("x", () => stream.Step(new float[I - 1], y));
        Check.Throws<ArgumentException>("y", () => stream.Step(Input(0), new float[H + 1]));
        Check.Throws<ArgumentException>("x", () => _ = stream.StepAsync(new float[I + 1], y));
        float[] both = new float[I + H];
        Check.Throws<ArgumentException>("y", () => stream.Step(both.AsSpan(0, I), both.AsSpan(I - 1, H)));
        Check.Throws<ArgumentException>("h", () => stream.CopyState(new float[H - 1], new float[H]));
        Assert.Equal(0, stream.StepCount);
        stream.Step(Input(0), y);
        Check.BitwiseEqual(SessionOutput(batcher.Lstm, Input(0)), y, "the step after the bad calls");
    }

    [Fact]
    public void Constructor_RefusesWhatCannotStream()
    {
        Lstm bidirectional = Lstm.Create([LstmParameters.CreateRandom(I, H, 1), LstmParameters.CreateRandom(I, H, 2)], new LstmOptions { Direction = LstmDirection.Bidirectional });
        var e = Assert.Throws<ArgumentException>(() => new LstmBatcher(bidirectional, 4));
        Assert.Equal("lstm", e.ParamName);
        Assert.Contains("only a forward LSTM can stream", e.Message);
        Assert.Throws<ArgumentNullException>(() => new LstmBatcher(null!, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LstmBatcher(Model(), 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LstmBatcher(Model(), 4, new LstmBatcherOptions { MaxStreams = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LstmBatcher(Model(), 4, new LstmBatcherOptions { BatchWait = TimeSpan.FromSeconds(1) }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LstmBatcher(Model(), 4, new LstmBatcherOptions { IdleTimeout = TimeSpan.Zero }));
        Assert.Equal(2, new LstmBatcher(Model(), 16, new LstmBatcherOptions { MaxStreams = 2 }).MaxBatch);
    }

    [Fact]
    public void ResetAndCopyState_WorkOnTheStreamsOwnState()
    {
        using var batcher = new LstmBatcher(Model(), 4);
        using LstmStream a = batcher.Open(), b = batcher.Open();
        a.Step(Input(0), default);
        b.Step(Input(0), default);
        a.Reset();
        float[] h = new float[H], c = new float[H];
        a.CopyState(h, c);
        Assert.All(h, v => Assert.Equal(0f, v));
        Assert.Equal(0, a.StepCount);
        b.CopyState(h, c);
        Assert.Contains(h, v => v != 0f);
        Assert.Equal(1, b.StepCount);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Continuations_RunOnTheBatchersThread_UnlessAskedOtherwise(bool asyncContinuations)
    {
        using var batcher = new LstmBatcher(Model(), 4, new LstmBatcherOptions { RunContinuationsAsynchronously = asyncContinuations });
        using LstmStream holder = batcher.Open(), stream = batcher.Open();
        int batchThread = 0;
        using var hold = new EngineHold(batcher, holder, Input(0), _ => batchThread = Environment.CurrentManagedThreadId);
        int continuationThread = 0;
        Exception? nestedStep = null;
        Task step = Continue(stream.StepAsync(Input(1), default));
        await hold.ReleaseAsync();
        await step;

        // Queued, the step ran on the engine thread; its continuation ran there too unless asked otherwise, and there a
        // blocking Step is refused rather than waiting for the thread it runs on. On the pool, that Step just runs.
        Assert.Equal(asyncContinuations ? 3 : 2, hold.Batches);
        if (asyncContinuations)
        {
            Assert.Null(nestedStep);
        }
        else
        {
            Assert.Equal(batchThread, continuationThread);
            Assert.IsType<InvalidOperationException>(nestedStep);
            Assert.Contains("would wait for itself", nestedStep!.Message);
        }

        async Task Continue(ValueTask pending)
        {
            await pending.ConfigureAwait(false);
            continuationThread = Environment.CurrentManagedThreadId;
            try
            {
                stream.Step(Input(2), default);
            }
            catch (InvalidOperationException e)
            {
                nestedStep = e;
            }
        }
    }

    internal static Lstm Model() => Lstm.Create([LstmParameters.CreateRandom(I, H, 7)]);

    internal static float[] Input(int seed) => Generators.Fill(I, Dist.Unit, seed);

    private static float[] SessionOutput(Lstm lstm, float[] x)
    {
        float[] y = new float[lstm.StateSize];
        lstm.CreateSession().Step(x, y);
        return y;
    }
}

/// <summary>
/// Holds a batcher's engine busy: a step of <c>holder</c> on another thread whose batch waits (in the batcher's test
/// hook) until <see cref="ReleaseAsync"/>, so that steps of other streams queue up behind it.
/// </summary>
internal sealed class EngineHold : IDisposable
{
    private readonly ManualResetEventSlim release = new();
    private int batches;

    public EngineHold(LstmBatcher batcher, LstmStream holder, float[] x, Action<int>? onBatch = null, float[]? y = null)
    {
        batcher.OnBatch = n =>
        {
            onBatch?.Invoke(n);
            if (Interlocked.Increment(ref batches) == 1)
            {
                release.Wait();
            }
        };
        Held = Task.Run(() => holder.Step(x, y));
        SpinWait.SpinUntil(() => Volatile.Read(ref batches) >= 1);
    }

    /// <summary>The holder's step.</summary>
    public Task Held { get; }

    /// <summary>The batches begun so far, the held one included.</summary>
    public int Batches => Volatile.Read(ref batches);

    /// <summary>Lets the held batch finish and returns the holder's step.</summary>
    public Task ReleaseAsync()
    {
        release.Set();
        return Held;
    }

    public void Dispose()
    {
        release.Set();
        release.Dispose();
    }
}
