using System.Diagnostics;
using HdrHistogram;
using LstmService.V1;

namespace LstmService.LoadTest;

/// <summary>What one run (one target, N streams) measured in its window.</summary>
internal sealed record class RunResult(
    ServeMode Mode,
    string Label,
    int Streams,
    double Seconds,
    long Steps,
    HistogramBase Latency,
    HistogramBase? ServerLatency,
    long? ServerSteps,
    long? ServerBatches,
    int Gen0,
    int Gen1,
    int Gen2,
    long AllocatedBytes,
    int Errors,
    string? FirstError,
    int ServerLogEntries,
    long MinStreamSteps,
    long MaxStreamSteps,
    bool Capped,
    int PoolThreads,
    double ProcessCpu,
    double EngineCpu,
    long WorkItems,
    long Contentions)
{
    public double StepsPerSecond => Steps / Seconds;

    public double? MeanBatch => ServerSteps is long s && ServerBatches is long b && b > 0 ? (double)s / b : null;

    public double BytesPerStep => (double)AllocatedBytes / Math.Max(1, Steps);

    /// <summary>A percentile of the client's end-to-end latency, in seconds.</summary>
    public double ClientSeconds(double percentile) => Latency.TotalCount == 0 ? double.NaN : (double)Latency.GetValueAtPercentile(percentile) / Stopwatch.Frequency;

    /// <summary>A percentile of the server's step latency, in seconds, or NaN without one.</summary>
    public double ServerSeconds(double percentile) => ServerLatency is { TotalCount: > 0 } h ? h.GetValueAtPercentile(percentile) * 1e-9 : double.NaN;
}

/// <summary>One run: N closed-loop streams against one target, a warm-up, then the measured window.</summary>
internal static class LoadRun
{
    /// <summary>How far past its window a run may go before it is cancelled.</summary>
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(30);

    public static async Task<RunResult> MeasureAsync(ServiceTarget target, int streams, LoadOptions options)
    {
        // The loops first: each holds an HdrHistogram of about 0.6 MB (the large-object heap, which counts toward
        // gen 2's budget), so they are allocated before the forced collection resets that budget.
        var loops = new ClosedLoop[streams];
        for (int s = 0; s < streams; s++)
        {
            loops[s] = new ClosedLoop(s, target.Info.InputSize, target.Info.OutputSize);
        }

        // A clean heap at the start of each run, so a collection in the window is one this run caused.
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();

        long cap = Math.Max(1, options.MaxSteps / streams);
        TimeSpan limit = TimeSpan.FromSeconds(options.Warmup + options.Seconds) + Grace;
        using var abort = new CancellationTokenSource(limit);
        DateTime deadline = DateTime.UtcNow + limit;
        long windowStart = Stopwatch.GetTimestamp() + Ticks(options.Warmup);
        long windowEnd = windowStart + Ticks(options.Seconds);
        int logsBefore = target.Logs?.Count ?? 0;

        var tasks = new Task[streams];
        for (int s = 0; s < streams; s++)
        {
            ClosedLoop loop = loops[s];
            StreamingLstm.StreamingLstmClient client = target.Clients[s % target.Clients.Count];
            tasks[s] = Task.Run(() => loop.RunAsync(client, windowStart, windowEnd, cap, deadline, abort.Token));
        }

        // The window's snapshots are taken on a thread of their own, on time even when the pool is saturated.
        (Snapshot start, Snapshot end) = await Clock(target, windowStart, windowEnd).ConfigureAwait(false);
        await Task.WhenAll(tasks).ConfigureAwait(false);
        int poolThreads = ThreadPool.ThreadCount;
        await WaitForNoStreams(target).ConfigureAwait(false);

        var latency = new LongHistogram(1, Stopwatch.Frequency * 60, 3);
        long steps = 0, errors = 0, min = long.MaxValue, max = 0;
        string? firstError = null;
        foreach (ClosedLoop loop in loops)
        {
            latency.Add(loop.Latency);
            steps += loop.Counted;
            errors += loop.Errors;
            firstError ??= loop.FirstError;
            min = Math.Min(min, loop.Counted);
            max = Math.Max(max, loop.Counted);
        }

        return new RunResult(
            target.Mode,
            target.Label,
            streams,
            (double)(windowEnd - windowStart) / Stopwatch.Frequency,
            steps,
            latency,
            end.Server,
            target.Engine is null ? null : end.EngineSteps - start.EngineSteps,
            target.Engine is null ? null : end.EngineBatches - start.EngineBatches,
            end.Gen0 - start.Gen0,
            end.Gen1 - start.Gen1,
            end.Gen2 - start.Gen2,
            end.Allocated - start.Allocated,
            (int)errors,
            firstError,
            (target.Logs?.Count ?? 0) - logsBefore,
            min,
            max,
            loops.Any(l => l.Capped),
            poolThreads,
            end.ProcessCpu - start.ProcessCpu,
            end.EngineCpu - start.EngineCpu,
            end.WorkItems - start.WorkItems,
            end.Contentions - start.Contentions);
    }

    private static Task<(Snapshot Start, Snapshot End)> Clock(ServiceTarget target, long windowStart, long windowEnd)
    {
        var done = new TaskCompletionSource<(Snapshot, Snapshot)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            SleepUntil(windowStart);
            target.Probe?.Start();
            Snapshot start = Snapshot.Take(target.Engine, server: null);
            SleepUntil(windowEnd);
            Snapshot end = Snapshot.Take(target.Engine, server: null);

            // After the snapshot: the copy of the server's histogram is a large-object allocation of the load test's
            // own, which must not count in the window (it once pushed a gen-2 collection into it).
            done.SetResult((start, end with { Server = target.Probe?.Stop() }));
        })
        {
            IsBackground = true,
            Name = "load test clock",
            Priority = ThreadPriority.AboveNormal,
        };
        thread.Start();
        return done.Task;
    }

    private static void SleepUntil(long timestamp)
    {
        while (true)
        {
            long left = timestamp - Stopwatch.GetTimestamp();
            if (left <= 0)
            {
                return;
            }

            // Sleep to within 2 ms, then spin on short sleeps: the snapshot lands within about a millisecond.
            double ms = (double)left * 1e3 / Stopwatch.Frequency;
            Thread.Sleep(ms > 3 ? (int)(ms - 2) : 0);
        }
    }

    private static async Task WaitForNoStreams(ServiceTarget target)
    {
        if (target.Engine is null)
        {
            return;
        }

        long end = Stopwatch.GetTimestamp() + Ticks(10);
        while (target.Engine.ActiveStreams != 0 && Stopwatch.GetTimestamp() < end)
        {
            await Task.Delay(5).ConfigureAwait(false);
        }
    }

    private static long Ticks(double seconds) => (long)(seconds * Stopwatch.Frequency);

    /// <summary>The process's GC counts and allocated bytes, and the engine's counts, at one moment.</summary>
    private readonly record struct Snapshot(
        int Gen0,
        int Gen1,
        int Gen2,
        long Allocated,
        long EngineSteps,
        long EngineBatches,
        HistogramBase? Server,
        double ProcessCpu,
        double EngineCpu,
        long WorkItems,
        long Contentions)
    {
        public static Snapshot Take(LstmEngine? engine, HistogramBase? server) => new(
            GC.CollectionCount(0),
            GC.CollectionCount(1),
            GC.CollectionCount(2),
            GC.GetTotalAllocatedBytes(precise: true),
            engine?.StepCount ?? 0,
            engine?.BatchCount ?? 0,
            server,
            CpuTime.Process(),
            CpuTime.EngineThreads(),
            ThreadPool.CompletedWorkItemCount,
            Monitor.LockContentionCount);
    }
}
