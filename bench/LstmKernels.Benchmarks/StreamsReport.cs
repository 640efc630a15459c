using System.Diagnostics;
using System.Globalization;
using HdrHistogram;

namespace LstmKernels.Benchmarks;

/// <summary>
/// Issue 13's streams benchmark, as a Markdown table for the quick report (<c>-- --streams</c> runs it alone): N live
/// streams, each a closed loop on the thread pool, served by one <see cref="LstmSession"/> each, by one
/// <see cref="LstmBatcher"/>, and by ONNX Runtime; the bare batch-N step is the ideal the batcher is held against.
/// </summary>
internal static class StreamsReport
{
    private static readonly int[] Sizes = [256, 512];
    private static readonly WeightPrecision[] Precisions = [WeightPrecision.Float32, WeightPrecision.BFloat16];
    private static readonly int[] StreamCounts = [1, 4, 16, 64];

    /// <summary>The rows with <see cref="LstmOptions.StepThreads"/> = 2: the largest size, float32.</summary>
    private static readonly int[] TwoThreadStreamCounts = [1, 16, 64];

    private const double WarmupSeconds = 0.2;
    private const double WindowSeconds = 0.5;

    /// <summary>A bound on steps per loop in a window, far above what the window allows; the deadline is what ends it.</summary>
    private const long MaxStepsPerLoop = 10_000_000;

    private const double AloneWarmupSeconds = 0.2;
    private const double AloneBudgetSeconds = 0.3;

    public static void Run(TextWriter output)
    {
        var total = Stopwatch.StartNew();
        ThreadPool.GetMinThreads(out int minWorkers, out _);
        output.WriteLine("## Streams: N closed-loop streams on one model");
        output.WriteLine();
        output.WriteLine(Machine.Describe());
        output.WriteLine();
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"Each of N streams is an async loop on the thread pool taking one step at a time; all start together and stop at a shared deadline " +
            $"({WarmupSeconds} s warm-up, then a {WindowSeconds} s window). sessions: one LstmSession per stream, a synchronous Step then " +
            $"`await Task.Yield()`; batcher: one LstmBatcher (maxBatch = N, default options), `await stream.StepAsync(x, y)` (continuations on the batch's thread); batcher, " +
            $"pool continuations: the same with RunContinuationsAsynchronously = true; bare batch: LstmCell.Forward on all N rows at once in a loop " +
            $"on one thread (the ideal, rows/s = N × batch steps/s); ONNX Runtime: one single-step batch-1 LSTM InferenceSession shared by all " +
            $"streams, one IoBinding and state per stream, Y_h/Y_c copied back into the state, a synchronous Run then `await Task.Yield()` " +
            $"(float32 only). Thread pool: left at its default minimum ({minWorkers} worker threads), as the loops never block. Raising the " +
            $"minimum to N + 4 was tried (2026-12-03, this machine): the pool then ran up to 68 threads that time-sliced the sessions' steps on " +
            $"2 cores (their p99 rose to 12–88 ms at 512x512), so it is not done. pool = ThreadPool.ThreadCount after the batcher's window."));
        output.WriteLine();
        output.WriteLine(
            "| I x H | weights | N | sessions steps/s | batcher steps/s | bare batch rows/s | ONNX Runtime steps/s | batcher/sessions | " +
            "batcher/ideal | mean batch | batcher steps/stream min–max | batcher, pool continuations steps/s (mean batch) | " +
            "sessions p50 / p99 | batcher p50 / p99 | sessions GC 0/1/2 | batcher GC 0/1/2 | sessions B/step | batcher B/step | pool |");
        output.WriteLine("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (int size in Sizes)
        {
            foreach (WeightPrecision precision in Precisions)
            {
                var model = new StreamsModel(size, precision);
                foreach (int n in StreamCounts)
                {
                    output.WriteLine(Row(model, n));
                    output.Flush();
                }
            }
        }

        // The same model with StepThreads = 2: a session's step and the batcher's batch step split their panels over
        // both cores (the bare batch cell too); no ONNX Runtime peer here, its peer runs one intra-op thread.
        var twoThreads = new StreamsModel(Sizes[^1], WeightPrecision.Float32, stepThreads: 2);
        foreach (int n in TwoThreadStreamCounts)
        {
            output.WriteLine(Row(twoThreads, n));
            output.Flush();
        }

        output.WriteLine();
        output.WriteLine(
            "2 thr: the model (and the bare batch cell) with StepThreads = 2. steps/s: every stream's steps in the window over its wall time. batcher/ideal = batcher steps/s ÷ bare batch rows/s. " +
            "steps/stream: the fewest and the most steps one stream took in the window. mean batch = Δ StepCount ÷ Δ BatchCount of the " +
            "batcher over the window. p50 / p99: HdrHistogram of each step from the call to " +
            "its result (after the await; it leaves out the sessions' Task.Yield), all streams merged. GC: collections during the window " +
            "(after a forced collection); B/step: GC.GetTotalAllocatedBytes(true) over the window ÷ steps (the whole process, the driver included; " +
            "the driver allocates nothing per step).");
        output.WriteLine();
        AloneTable(output);
        output.WriteLine();
        output.WriteLine(Invariant($"Streams total time {total.Elapsed.TotalSeconds:0.0} s."));
    }

    /// <summary>One stream, no concurrency: a bare session step against the batcher's synchronous step of a lone stream (always inline).</summary>
    private static void AloneTable(TextWriter output)
    {
        output.WriteLine(
            "One stream alone, synchronous on one thread (median of Stopwatch batches): a bare LstmSession.Step against LstmStream.Step of the " +
            "only stream of an LstmBatcher with maxBatch = 1 (it finds the batcher idle and runs inline). Target: batcher ≤ 1.1 × session + 2 µs.");
        output.WriteLine();
        output.WriteLine("| I x H | weights | session | batcher | batcher/session | target | met |");
        output.WriteLine("| --- | --- | ---: | ---: | ---: | ---: | --- |");
        foreach (int size in Sizes)
        {
            foreach (WeightPrecision precision in Precisions)
            {
                var model = new StreamsModel(size, precision);
                var sessions = new SessionStreams(model, 1);
                using var batcher = new BatcherStreams(model, 1);
                double session = StepTimer.Median(static s => s.First.Step(s.FirstInput, s.FirstOutput), sessions, AloneWarmupSeconds, AloneBudgetSeconds);
                double stream = StepTimer.Median(static b => b.StepFirst(), batcher, AloneWarmupSeconds, AloneBudgetSeconds);
                double target = (1.1 * session) + 2e-6;
                output.WriteLine(Invariant(
                    $"| {size}x{size} | {Weights(precision)} | {Micro(session)} | {Micro(stream)} | {stream / session:0.00} | {Micro(target)} | {(stream <= target ? "yes" : "no")} |"));
                output.Flush();
            }
        }
    }

    private static string Row(StreamsModel model, int n)
    {
        Window sessions;
        using (var contender = new SessionStreams(model, n))
        {
            sessions = Measure(contender, batcher: null);
        }

        Window batched;
        int poolThreads;
        using (var contender = new BatcherStreams(model, n))
        {
            batched = Measure(contender, contender.Batcher);
            poolThreads = ThreadPool.ThreadCount;
        }

        Window pool;
        using (var contender = new BatcherStreams(model, n, asyncContinuations: true))
        {
            pool = Measure(contender, contender.Batcher);
        }

        var bare = new BareBatch(model, n);
        double bareRows = n / StepTimer.Median(static b => b.Step(), bare, WarmupSeconds, WindowSeconds);
        string ort = "—";
        if (model.Precision == WeightPrecision.Float32 && model.StepThreads == 1)
        {
            using var contender = new OrtStreams(model, n);
            ort = Rate(Measure(contender, batcher: null).StepsPerSecond);
        }

        return string.Create(
            CultureInfo.InvariantCulture,
            $"| {model.Size}x{model.Size} | {Weights(model)} | {n} | {Rate(sessions.StepsPerSecond)} | {Rate(batched.StepsPerSecond)} | " +
            $"{Rate(bareRows)} | {ort} | {batched.StepsPerSecond / sessions.StepsPerSecond:0.00} | {batched.StepsPerSecond / bareRows:0.00} | " +
            $"{batched.MeanBatch:0.00} | {batched.Spread.Min}–{batched.Spread.Max} | {Rate(pool.StepsPerSecond)} ({pool.MeanBatch:0.00}) | " +
            $"{sessions.Latency} | {batched.Latency} | {sessions.Collections} | {batched.Collections} | " +
            $"{sessions.BytesPerStep:0.##} | {batched.BytesPerStep:0.##} | {poolThreads} |");
    }

    /// <summary>Starts the N loops, warms them up for one round, then measures one window.</summary>
    private static Window Measure(IStreamContender contender, LstmBatcher? batcher)
    {
        using var loops = new StreamLoops(contender);
        loops.Run(MaxStepsPerLoop, WarmupSeconds, recordLatency: false);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        int gen0 = GC.CollectionCount(0), gen1 = GC.CollectionCount(1), gen2 = GC.CollectionCount(2);
        long bytes = GC.GetTotalAllocatedBytes(precise: true);
        long batcherSteps = batcher?.StepCount ?? 0, batches = batcher?.BatchCount ?? 0;
        (long steps, double seconds) = loops.Run(MaxStepsPerLoop, WindowSeconds, recordLatency: true);
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - bytes;
        string collections = Invariant($"{GC.CollectionCount(0) - gen0}/{GC.CollectionCount(1) - gen1}/{GC.CollectionCount(2) - gen2}");
        double meanBatch = batcher is null ? double.NaN : (double)(batcher.StepCount - batcherSteps) / Math.Max(1, batcher.BatchCount - batches);
        return new Window(steps / seconds, LatencyText(loops.Latencies()), collections, (double)allocated / Math.Max(1, steps), meanBatch, loops.Spread());
    }

    private static string LatencyText(LongHistogram histogram) =>
        histogram.TotalCount == 0 ? "–" :
        Invariant($"{Micro(Seconds(histogram.GetValueAtPercentile(50)))} / {Micro(Seconds(histogram.GetValueAtPercentile(99)))}");

    private static double Seconds(long ticks) => (double)ticks / Stopwatch.Frequency;

    private static string Weights(WeightPrecision precision) => precision == WeightPrecision.Float32 ? "fp32" : "bf16";

    private static string Weights(StreamsModel model) => Weights(model.Precision) + (model.StepThreads == 2 ? ", 2 thr" : string.Empty);

    /// <summary>Steps (or rows) per second, three significant digits.</summary>
    private static string Rate(double perSecond) =>
        perSecond >= 1e6 ? Invariant($"{perSecond / 1e6:0.00} M") :
        perSecond >= 1e5 ? Invariant($"{perSecond / 1e3:0} k") :
        perSecond >= 1e4 ? Invariant($"{perSecond / 1e3:0.0} k") :
        Invariant($"{perSecond:0}");

    /// <summary>Microseconds, three significant digits (or whole microseconds above 1 ms).</summary>
    private static string Micro(double seconds)
    {
        double us = seconds * 1e6;
        return us < 10 ? Invariant($"{us:0.00} µs") : us < 100 ? Invariant($"{us:0.0} µs") : Invariant($"{us:0} µs");
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private readonly record struct Window(double StepsPerSecond, string Latency, string Collections, double BytesPerStep, double MeanBatch, (long Min, long Max) Spread);
}
