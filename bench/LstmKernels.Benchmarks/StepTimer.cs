using System.Diagnostics;

namespace LstmKernels.Benchmarks;

/// <summary>Stopwatch timing for the quick report: warm up, then the median of several timed batches of calls.</summary>
internal static class StepTimer
{
    /// <summary>Long enough that Stopwatch resolution and the loop are noise, short enough for many batches.</summary>
    private const double BatchSeconds = 0.02;

    private const int MinBatches = 3;
    private const int MaxBatches = 15;

    /// <summary>Median seconds per call of <paramref name="step"/> on <paramref name="state"/>.</summary>
    /// <param name="step">The route; called at least once to warm up and <see cref="MinBatches"/> more times to measure.</param>
    /// <param name="state">What the route works on (a step state, an iteration count).</param>
    /// <param name="warmupSeconds">
    /// Time to run before measuring, so that the JIT has replaced tier-0 code with tier-1 code; at least one call.
    /// </param>
    /// <param name="budgetSeconds">Time to spend measuring; a route slower than this still gets three single-call batches.</param>
    public static double Median<TState>(Action<TState> step, TState state, double warmupSeconds, double budgetSeconds)
    {
        long start = Stopwatch.GetTimestamp();
        long calls = 0;
        do
        {
            step(state);
            calls++;
        }
        while (Stopwatch.GetElapsedTime(start).TotalSeconds < warmupSeconds);

        double estimate = Stopwatch.GetElapsedTime(start).TotalSeconds / calls;
        int perBatch = (int)Math.Clamp(BatchSeconds / estimate, 1, int.MaxValue);
        int batches = (int)Math.Clamp(budgetSeconds / (perBatch * estimate), MinBatches, MaxBatches);
        Span<double> times = stackalloc double[batches];
        for (int b = 0; b < batches; b++)
        {
            long t0 = Stopwatch.GetTimestamp();
            for (int n = 0; n < perBatch; n++)
            {
                step(state);
            }

            times[b] = Stopwatch.GetElapsedTime(t0).TotalSeconds / perBatch;
        }

        times.Sort();
        return times[batches / 2];
    }

    /// <summary>Bytes allocated on this thread per call, over enough calls to fill about <paramref name="seconds"/>.</summary>
    /// <param name="step">The route, already warmed up (its first call may legitimately allocate per-thread scratch).</param>
    /// <param name="state">What the route works on (a step state, an iteration count).</param>
    /// <param name="secondsPerCall">A measured time per call, to size the loop.</param>
    /// <param name="seconds">How long to run.</param>
    public static double AllocatedPerCall<TState>(Action<TState> step, TState state, double secondsPerCall, double seconds)
    {
        int calls = (int)Math.Clamp(seconds / secondsPerCall, 16, 100_000);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int n = 0; n < calls; n++)
        {
            step(state);
        }

        return (double)(GC.GetAllocatedBytesForCurrentThread() - before) / calls;
    }
}
