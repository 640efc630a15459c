using System.Globalization;

namespace LstmService.LoadTest;

/// <summary>The Markdown the load test prints: one table per stream count, the modes side by side, then the targets.</summary>
internal static class Report
{
    /// <summary>The issue's targets at the largest stream count: batching on against off.</summary>
    public const double ThroughputTarget = 2.5;

    /// <summary>The table of one stream count, a column per mode (the first column is the baseline of the ratios).</summary>
    public static void Table(TextWriter output, IReadOnlyList<RunResult> runs)
    {
        RunResult first = runs[0];
        RunResult? off = runs.FirstOrDefault(r => r.Mode == ServeMode.Off);
        output.WriteLine(Invariant($"### {first.Streams} stream{(first.Streams == 1 ? "" : "s")}"));
        output.WriteLine();
        output.WriteLine($"| | {string.Join(" | ", runs.Select(r => r.Label))} |");
        output.WriteLine($"| --- |{string.Concat(runs.Select(_ => " ---: |"))}");
        Row(output, "steps/s", runs, r => Rate(r.StepsPerSecond) + Ratio(r, off, x => x.StepsPerSecond));
        Row(output, "end-to-end p50 / p99 / p99.9", runs, r => $"{Time(r.ClientSeconds(50))} / {Time(r.ClientSeconds(99))} / {Time(r.ClientSeconds(99.9))}");
        Row(output, "p99 vs batching off", runs, r => off is null || ReferenceEquals(r, off) ? "—" : Invariant($"{r.ClientSeconds(99) / off.ClientSeconds(99):0.00}×"));
        Row(output, "server step p50 / p99", runs, r => r.ServerLatency is null ? "—" : $"{Time(r.ServerSeconds(50))} / {Time(r.ServerSeconds(99))}");
        Row(output, "mean batch", runs, r => r.MeanBatch is double b ? Invariant($"{b:0.00}") : "—");
        Row(output, "GC gen0 / gen1 / gen2 (process)", runs, r => Invariant($"{r.Gen0} / {r.Gen1} / {r.Gen2}"));
        Row(output, "allocated B/step (process)", runs, r => r.AllocatedBytes < 0 ? "— (DATAS)" : Invariant($"{r.BytesPerStep:0}"));
        Row(output, "errors: client / server log", runs, r => Invariant($"{r.Errors} / {(r.Mode == ServeMode.External ? "—" : r.ServerLogEntries)}"));
        Row(output, "steps/stream min–max", runs, r => Invariant($"{r.MinStreamSteps}–{r.MaxStreamSteps}{(r.Capped ? " (capped)" : "")}"));
        Row(output, "CPU cores busy: process / engine thread", runs, r => Invariant($"{r.ProcessCpu / r.Seconds:0.00} / {(r.Mode is ServeMode.Inline or ServeMode.Pool ? Invariant($"{r.EngineCpu / r.Seconds:0.00}") : "—")}"));
        Row(output, "pool work items / step", runs, r => Invariant($"{(double)r.WorkItems / Math.Max(1, r.Steps):0.0}"));
        Row(output, "lock contentions / s", runs, r => Invariant($"{r.Contentions / r.Seconds:0}"));
        Row(output, "pool threads", runs, r => Invariant($"{r.PoolThreads}"));
        output.WriteLine();
        foreach (RunResult run in runs.Where(r => r.FirstError is not null))
        {
            output.WriteLine($"First error, {run.Label}: {run.FirstError}");
        }
    }

    /// <summary>
    /// The issue's targets, at the largest stream count: each batching-on mode against batching off. Returns the
    /// batching-on modes that met them all.
    /// </summary>
    public static IReadOnlyList<ServeMode> Targets(TextWriter output, IReadOnlyList<RunResult> runs)
    {
        var met = new List<ServeMode>();
        RunResult? off = runs.FirstOrDefault(r => r.Mode == ServeMode.Off);
        if (off is null)
        {
            return met;
        }

        output.WriteLine(Invariant(
            $"Targets at {off.Streams} streams: batching on ≥ {ThroughputTarget}× the steps/s of batching off, end-to-end p99 no worse, 0 errors, 0 gen-2 collections in the window."));
        output.WriteLine();
        foreach (RunResult on in runs.Where(r => r.Mode is ServeMode.Inline or ServeMode.Pool))
        {
            double throughput = on.StepsPerSecond / off.StepsPerSecond;
            double p99 = on.ClientSeconds(99) / off.ClientSeconds(99);
            bool all = throughput >= ThroughputTarget && p99 <= 1 && on.Errors + on.ServerLogEntries == 0 && off.Errors + off.ServerLogEntries == 0 && on.Gen2 == 0;
            if (all)
            {
                met.Add(on.Mode);
            }

            output.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"- {on.Label}: {throughput:0.00}× the steps/s ({Mark(throughput >= ThroughputTarget)}), p99 {p99:0.00}× ({Mark(p99 <= 1)}), " +
                $"errors {on.Errors + on.ServerLogEntries} on / {off.Errors + off.ServerLogEntries} off ({Mark(on.Errors + on.ServerLogEntries + off.Errors + off.ServerLogEntries == 0)}), " +
                $"gen-2 {on.Gen2} ({Mark(on.Gen2 == 0)}): **{(all ? "met" : "not met")}**"));
        }

        output.WriteLine();
        return met;
    }

    /// <summary>Steps per second, three significant digits.</summary>
    public static string Rate(double perSecond) =>
        perSecond >= 1e5 ? Invariant($"{perSecond / 1e3:0} k") :
        perSecond >= 1e4 ? Invariant($"{perSecond / 1e3:0.0} k") :
        perSecond >= 1e3 ? Invariant($"{perSecond / 1e3:0.00} k") :
        Invariant($"{perSecond:0}");

    /// <summary>A time in seconds as µs or ms, three significant digits.</summary>
    public static string Time(double seconds)
    {
        if (double.IsNaN(seconds))
        {
            return "—";
        }

        double us = seconds * 1e6;
        return us < 10 ? Invariant($"{us:0.00} µs") : us < 100 ? Invariant($"{us:0.0} µs") : us < 1e3 ? Invariant($"{us:0} µs") :
            us < 1e4 ? Invariant($"{us / 1e3:0.00} ms") : us < 1e5 ? Invariant($"{us / 1e3:0.0} ms") : Invariant($"{us / 1e3:0} ms");
    }

    private static string Ratio(RunResult run, RunResult? off, Func<RunResult, double> value) =>
        off is null || ReferenceEquals(run, off) ? "" : Invariant($" ({value(run) / value(off):0.00}×)");

    private static string Mark(bool ok) => ok ? "yes" : "NO";

    private static void Row(TextWriter output, string name, IReadOnlyList<RunResult> runs, Func<RunResult, string> cell) =>
        output.WriteLine($"| {name} | {string.Join(" | ", runs.Select(cell))} |");

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
