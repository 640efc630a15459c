using System.Diagnostics;
using System.Threading.Tasks.Sources;
using HdrHistogram;

namespace LstmKernels.Benchmarks;

/// <summary>
/// N closed-loop streams on the thread pool, each one async loop that takes one step, waits for it, and takes the
/// next, as N request handlers would. The loops live as long as this object and run in rounds: <see cref="Run"/>
/// releases them all at once and blocks until every loop has hit the round's shared deadline or its step count.
/// </summary>
/// <remarks>
/// The loops are started once and parked between rounds on a reusable signal, so a round allocates nothing of its
/// own: bytes counted over a round are the contender's (and the runtime's), not the driver's. A step's latency is
/// the time from the call to its result (after the await for an asynchronous contender); it leaves out the
/// <c>Task.Yield</c> that follows a synchronous step.
/// </remarks>
internal sealed class StreamLoops : IDisposable
{
    /// <summary>Latencies above this (10 s, in Stopwatch ticks) are recorded as this.</summary>
    private static readonly long MaxLatency = 10 * Stopwatch.Frequency;

    /// <summary>Each loop's counter on its own 128-byte line, so the loops do not share cache lines.</summary>
    private const int Stride = 16;

    private readonly IStreamContender contender;
    private readonly Gate[] gates;
    private readonly LongHistogram[] histograms;
    private readonly long[] counts;
    private readonly ManualResetEventSlim done = new(false);
    private readonly Task[] loops;
    private int remaining;
    private long stepsEach;
    private long deadline;
    private bool record;
    private bool quit;
    private Exception? failure;

    public StreamLoops(IStreamContender contender)
    {
        this.contender = contender;
        int n = contender.Streams;
        gates = new Gate[n];
        histograms = new LongHistogram[n];
        counts = new long[n * Stride];
        loops = new Task[n];
        for (int s = 0; s < n; s++)
        {
            gates[s] = new Gate();
            histograms[s] = new LongHistogram(MaxLatency, 3);
        }

        for (int s = 0; s < n; s++)
        {
            loops[s] = Loop(s);
        }
    }

    public int Streams => gates.Length;

    /// <summary>
    /// One round: every loop steps until <paramref name="seconds"/> have passed since the release or it has taken
    /// <paramref name="steps"/> steps, whichever is first. Returns the steps taken by all loops and the round's wall time.
    /// </summary>
    /// <param name="steps">The most steps per loop.</param>
    /// <param name="seconds">The shared deadline, from the release; infinity for none.</param>
    /// <param name="recordLatency">Whether to record each step's latency (the histograms are cleared first).</param>
    /// <exception cref="TimeoutException">A loop did not finish within 60 s of the deadline (a lost wake-up, say).</exception>
    public (long Steps, double Seconds) Run(long steps, double seconds, bool recordLatency)
    {
        for (int s = 0; s < gates.Length; s++)
        {
            counts[s * Stride] = 0;
            if (recordLatency)
            {
                histograms[s].Reset();
            }
        }

        stepsEach = steps;
        record = recordLatency;
        done.Reset();
        long start = Stopwatch.GetTimestamp();
        deadline = double.IsPositiveInfinity(seconds) ? long.MaxValue : start + (long)(seconds * Stopwatch.Frequency);
        Volatile.Write(ref remaining, gates.Length);
        foreach (Gate gate in gates)
        {
            gate.Release();
        }

        double limit = double.IsPositiveInfinity(seconds) ? 600 : seconds + 60;
        if (!done.Wait(TimeSpan.FromSeconds(limit)))
        {
            throw new TimeoutException(
                $"{Volatile.Read(ref remaining)} of {gates.Length} {contender.Name} stream loops had not finished {limit:0} s after the round started.");
        }

        double elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
        if (Interlocked.Exchange(ref failure, null) is Exception error)
        {
            throw new InvalidOperationException($"A {contender.Name} stream loop failed.", error);
        }

        long total = 0;
        for (int s = 0; s < gates.Length; s++)
        {
            total += counts[s * Stride];
        }

        return (total, elapsed);
    }

    /// <summary>The fewest and the most steps one loop took in the last round: how evenly the contender served the streams.</summary>
    public (long Min, long Max) Spread()
    {
        long min = long.MaxValue, max = 0;
        for (int s = 0; s < gates.Length; s++)
        {
            min = Math.Min(min, counts[s * Stride]);
            max = Math.Max(max, counts[s * Stride]);
        }

        return (min, max);
    }

    /// <summary>The latencies of the last recorded round, all loops merged, in Stopwatch ticks.</summary>
    public LongHistogram Latencies()
    {
        var merged = new LongHistogram(MaxLatency, 3);
        foreach (LongHistogram histogram in histograms)
        {
            merged.Add(histogram);
        }

        return merged;
    }

    /// <summary>Ends the loops (they are parked between rounds) and waits for them.</summary>
    public void Dispose()
    {
        quit = true;
        remaining = gates.Length;
        done.Reset();
        foreach (Gate gate in gates)
        {
            gate.Release();
        }

        Task.WaitAll(loops, TimeSpan.FromSeconds(60));
        done.Dispose();
    }

    private async Task Loop(int s)
    {
        Gate gate = gates[s];
        LongHistogram histogram = histograms[s];
        bool yields = contender.YieldsAfterStep;
        while (true)
        {
            await gate.WaitAsync();
            gate.Reset();
            if (quit)
            {
                Finish();
                return;
            }

            long limit = stepsEach, end = deadline, taken = 0;
            bool recording = record;
            try
            {
                long now = Stopwatch.GetTimestamp();
                while (taken < limit && now < end)
                {
                    long t0 = now;
                    await contender.StepAsync(s);
                    now = Stopwatch.GetTimestamp();
                    if (recording)
                    {
                        histogram.RecordValue(Math.Min(now - t0, MaxLatency));
                    }

                    taken++;
                    if (yields)
                    {
                        await Task.Yield();
                        now = Stopwatch.GetTimestamp();
                    }
                }
            }
#pragma warning disable CA1031 // Any failure of a contender ends the round and is rethrown by Run.
            catch (Exception e)
#pragma warning restore CA1031
            {
                Interlocked.CompareExchange(ref failure, e, null);
            }

            counts[s * Stride] = taken;
            Finish();
        }
    }

    private void Finish()
    {
        if (Interlocked.Decrement(ref remaining) == 0)
        {
            done.Set();
        }
    }

    /// <summary>A reusable one-shot signal: a loop awaits it, the round releases it, the loop resets it before it reports back.</summary>
    private sealed class Gate : IValueTaskSource
    {
        private ManualResetValueTaskSourceCore<bool> core = new() { RunContinuationsAsynchronously = true };

        public ValueTask WaitAsync() => new(this, core.Version);

        public void Release() => core.SetResult(true);

        public void Reset() => core.Reset();

        void IValueTaskSource.GetResult(short token) => core.GetResult(token);

        ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => core.GetStatus(token);

        void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            core.OnCompleted(continuation, state, token, flags);
    }
}
