using System.Diagnostics;
using System.Globalization;
using LstmKernels.Internal;

namespace LstmKernels.Benchmarks;

/// <summary>
/// <c>--routes</c>: each route choice of <see cref="RoutePolicy"/> as an interleaved A/B in one process, per step of a
/// <see cref="Steps"/>-step batch-1 sequence (or one step): the two choices forced through the cell's internal init
/// properties, timed alternately in rounds (a Stopwatch batch of about 10 ms each), the best of the rounds kept. What
/// the machine's policy picks is printed beside, so a row reads "does this host want what the functions give".
/// </summary>
internal static class RouteProbe
{
    private const int Steps = 64;
    private const int Rounds = 9;
    private const double BatchSeconds = 0.01;

    private static readonly CellShape[] Shapes = [new(64, 64), new(128, 128), new(192, 192), new(512, 128), new(224, 224), new(240, 240), new(256, 256), new(384, 384), new(512, 512), new(1024, 1024)];

    public static void Run(TextWriter output)
    {
        var total = Stopwatch.StartNew();
        RoutePolicy machine = RoutePolicy.Machine;
        output.WriteLine("# Route probe (interleaved A/B, best of " + Rounds.ToString(CultureInfo.InvariantCulture) + " rounds)");
        output.WriteLine();
        output.WriteLine(Machine.Describe());
        output.WriteLine();
        output.WriteLine("Route policy from these caches: " + machine.Describe() + ".");
        output.WriteLine();
        output.WriteLine($"Load average at the start: {Load()}.");
        output.WriteLine();
        output.WriteLine("| I x H | packed | choice | A | time A | B | time B | A ÷ B | the policy picks |");
        output.WriteLine("| --- | ---: | --- | --- | ---: | --- | ---: | ---: | --- |");
        RoutePolicy lookahead = machine with { LookaheadBudget = long.MaxValue, LookaheadMinInput = 0 };
        RoutePolicy split = machine with { SplitMinBytes = 0 };
        RoutePolicy pipeline = machine with { SplitMinBytes = long.MaxValue, PipelineMinWork = 0 };

        // Every route's generic code to tier 1 before the first row: the first shape is run once untimed.
        using (var discard = new StringWriter(CultureInfo.InvariantCulture))
        {
            Probe(discard, Shapes[0], machine, lookahead, split, pipeline);
        }

        foreach (CellShape shape in Shapes)
        {
            Probe(output, shape, machine, lookahead, split, pipeline);
        }

        output.WriteLine();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Load average at the end: {Load()}. Total time {total.Elapsed.TotalSeconds:0.0} s."));
    }

    private static void Probe(TextWriter output, CellShape shape, RoutePolicy machine, RoutePolicy lookahead, RoutePolicy split, RoutePolicy pipeline)
    {
        LstmParameters p = LstmParameters.CreateRandom(shape.Input, shape.Hidden, seed: 1);
        var policyCell = new LstmCell(p) { StepThreads = 2, Routes = machine };
        float[] xs = Data.Uniform(Steps * shape.Input, 1f, seed: 3);
        float[] x = Data.Uniform(shape.Input, 1f, seed: 2);
        float[] h = new float[shape.Hidden], c = new float[shape.Hidden];

        var withLookahead = new LstmCell(p) { Routes = lookahead };
        var separate = new LstmCell(p) { LookaheadEnabled = false };
        Pair(
            output, shape, withLookahead.PackedBytes, "1 thread, sequence", "lookahead", "separate pass",
            () => withLookahead.ForwardSequence(xs, h, c, [], h, c), () => separate.ForwardSequence(xs, h, c, [], h, c), Steps,
            new LstmCell(p).UsesLookahead(Steps, 1) ? "lookahead" : "separate pass");

        var splitting = new LstmCell(p) { StepThreads = 2, Routes = split };
        var pipelining = new LstmCell(p) { StepThreads = 2, Routes = pipeline };
        Pair(
            output, shape, splitting.PackedBytes, "2 threads, sequence", "split", "pipeline",
            () => splitting.ForwardSequence(xs, h, c, [], h, c), () => pipelining.ForwardSequence(xs, h, c, [], h, c), Steps,
            policyCell.UsesSplit(Steps) ? "split" : policyCell.UsesPipeline(Steps, 1) ? "pipeline" : "one thread");

        if (shape.Hidden >= 256)
        {
            // The projection chunk at batch 16: a small budget re-reads Wᵢₕ once per chunk more often; a large one lets the
            // chunk's projection leave the cache before its steps read it.
            const int Batch = 16;
            float[] xb = Data.Uniform(Steps * Batch * shape.Input, 1f, seed: 4);
            float[] hb = new float[Batch * shape.Hidden], cb = new float[Batch * shape.Hidden];
            var large = new LstmCell(p) { Routes = machine with { ProjectionBudgetBytes = 4L << 20 } };
            var small = new LstmCell(p) { Routes = machine with { ProjectionBudgetBytes = 1L << 20 } };
            Pair(
                output, shape, large.PackedBytes, "batch 16, sequence", "4 MiB chunk", "1 MiB chunk",
                () => large.ForwardSequence(xb, hb, cb, [], hb, cb), () => small.ForwardSequence(xb, hb, cb, [], hb, cb), Steps,
                string.Create(CultureInfo.InvariantCulture, $"{machine.ProjectionBudgetBytes >> 10} KiB"));
        }

        var stepTwo = new LstmCell(p) { StepThreads = 2, ParallelStepMinBytes = 0 };
        var stepOne = new LstmCell(p);
        Pair(
            output, shape, stepTwo.PackedBytes, "step, batch 1", "2 threads", "1 thread",
            () => stepTwo.Forward(x, h, c, h, c), () => stepOne.Forward(x, h, c, h, c), 1,
            policyCell.UsesParallelStep(1) ? "2 threads" : "1 thread");
    }

    private static void Pair(TextWriter output, CellShape shape, long bytes, string choice, string nameA, string nameB, Action a, Action b, int steps, string picks)
    {
        int perA = Calibrate(a), perB = Calibrate(b);
        double bestA = double.MaxValue, bestB = double.MaxValue;
        for (int round = 0; round < Rounds; round++)
        {
            bestA = Math.Min(bestA, Time(a, perA));
            bestB = Math.Min(bestB, Time(b, perB));
        }

        bestA /= steps;
        bestB /= steps;
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"| {shape} | {bytes / 1024} KiB | {choice} | {nameA} | {bestA * 1e6:0.00} µs | {nameB} | {bestB * 1e6:0.00} µs | {bestA / bestB:0.00} | {picks} |"));
        output.Flush();
    }

    /// <summary>Warms the route up (tier-1 code, its scratch) and returns the calls that fill about <see cref="BatchSeconds"/>.</summary>
    private static int Calibrate(Action route)
    {
        long start = Stopwatch.GetTimestamp();
        int calls = 0;
        do
        {
            route();
            calls++;
        }
        while (Stopwatch.GetElapsedTime(start).TotalSeconds < 0.2);

        double each = Stopwatch.GetElapsedTime(start).TotalSeconds / calls;
        return (int)Math.Clamp(BatchSeconds / each, 1, int.MaxValue);
    }

    private static double Time(Action route, int calls)
    {
        long start = Stopwatch.GetTimestamp();
        for (int n = 0; n < calls; n++)
        {
            route();
        }

        return Stopwatch.GetElapsedTime(start).TotalSeconds / calls;
    }

    /// <summary>The 1, 5 and 15 minute load averages of /proc/loadavg, or "unknown".</summary>
    internal static string Load()
    {
        const string LoadAverage = "/proc/loadavg";
        if (!File.Exists(LoadAverage))
        {
            return "unknown";
        }

        string[] parts = File.ReadAllText(LoadAverage).Split(' ');
        return parts.Length >= 3 ? $"{parts[0]}, {parts[1]}, {parts[2]}" : "unknown";
    }
}
