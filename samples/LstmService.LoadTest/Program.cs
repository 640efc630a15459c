using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using LstmService;
using LstmService.LoadTest;
using LstmService.V1;

LoadOptions options;
try
{
    options = LoadOptions.Parse(args);
}
catch (ArgumentException e)
{
    await Console.Error.WriteLineAsync($"LstmService.LoadTest: {e.Message}{Environment.NewLine}{LoadOptions.Usage}").ConfigureAwait(false);
    return 2;
}

if (options.ShowHelp)
{
    Console.WriteLine(LoadOptions.Usage);
    return 0;
}

var total = Stopwatch.StartNew();
TextWriter output = Console.Out;
string loadAtStart = HostInfo.LoadAverage();
var targets = new List<ServiceTarget>();
try
{
    if (options.Url is Uri url)
    {
        targets.Add(await ServiceTarget.ConnectAsync(url, options.Connections).ConfigureAwait(false));
    }
    else
    {
        foreach (ServeMode mode in options.Modes)
        {
            targets.Add(await ServiceTarget.StartAsync(options, mode, options.Connections).ConfigureAwait(false));
        }
    }

    if (options.Disconnects > 0)
    {
        return await Soak(targets, options, args, output).ConfigureAwait(false);
    }

    ModelInfo info = targets[0].Info;
    string model = string.Create(
        CultureInfo.InvariantCulture,
        $"{info.InputSize}×{info.HiddenSize}, {info.Layers} layer{(info.Layers == 1 ? "" : "s")}, {info.Precision.ToString().ToLowerInvariant()} weights");
    output.WriteLine($"## LstmService load test: {model}");
    output.WriteLine();
    output.WriteLine($"- host: {HostInfo.Describe()}");
    output.WriteLine($"- date: {DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)} UTC; load average (1/5/15 min) at the start: {loadAtStart}");
    output.WriteLine($"- command: `dotnet run -c Release --project samples/LstmService.LoadTest --{string.Concat(args.Select(a => " " + Quote(a)))}`");
    output.WriteLine(string.Create(
        CultureInfo.InvariantCulture,
        $"- each run: N gRPC bidi streams (calls of Run), each a closed loop (write a frame, await its output, repeat), over {options.Connections} HTTP/2 " +
        $"connection{(options.Connections == 1 ? "" : "s")} on loopback; {options.Warmup:0.#} s warm-up, then a {options.Seconds:0.#} s window; " +
        $"at most {options.MaxSteps} steps per run; service max batch {(options.Url is null ? options.MaxBatch : info.MaxBatch)}" +
        $"{(options.Url is null ? $", batch wait {options.BatchWaitMicroseconds} µs; the modes take turns at each N" : "")}; a forced full GC before each run"));
    output.WriteLine(options.Url is null
        ? "- in-process: client and service share this process, its thread pool and its GC, so the GC, allocation and CPU rows are the whole " +
          "process, client included; every service host of the run is alive throughout, idle when not under load"
        : "- --url: the service runs elsewhere, so the GC, allocation and CPU rows are this client process only");
    output.WriteLine();

    await JitWarmup(targets, options, output).ConfigureAwait(false);

    var results = new List<RunResult>();
    foreach (int streams in options.Streams)
    {
        var runs = new List<RunResult>();
        foreach (ServiceTarget target in targets)
        {
            runs.Add(await LoadRun.MeasureAsync(target, streams, options).ConfigureAwait(false));
        }

        Report.Table(output, runs);
        output.Flush();
        results.AddRange(runs);
    }

    Report.Targets(output, [.. results.Where(r => r.Streams == options.Streams.Max())]);
    output.WriteLine(
        "steps/s: steps whose output reached the client inside the window, all streams, over the window. end-to-end: per step, client side, " +
        "from the frame's write to its output's arrival (HdrHistogram, all streams merged). server step: the service's own " +
        "lstmkernels.service.step.duration, StepAsync to its completion, the wait for a batch included (read in-process with a MeterListener). " +
        "mean batch: Δ StepCount ÷ Δ BatchCount of the service's engine over the window (1 without batching). GC: collections in the window, " +
        "process-wide. allocated B/step: GC.GetTotalAllocatedBytes(true) over the window ÷ steps, process-wide (client and service). errors: " +
        "client calls that failed or returned a wrong frame / entries the service logged at Warning or above. CPU: process and " +
        "batcher engine thread CPU time over the window. pool work items / step: ThreadPool.CompletedWorkItemCount over steps. " +
        "pool threads: ThreadPool.ThreadCount after the run. More in samples/LstmService.LoadTest/README.md.");
    output.WriteLine();

    if (options.ChartPath is string chart)
    {
        string path = chart == LoadOptions.DefaultChart ? Path.Combine(RepositoryRoot(), chart) : Path.GetFullPath(chart);
        Chart.Save(
            results,
            $"End-to-end p99 per step: LstmService over gRPC\n{model}, closed loops on loopback",
            $"Steps/s, the same runs{(options.Url is null ? " (client and service in one process)" : "")}\n{HostInfo.Cpu()}, {Environment.ProcessorCount} cores, {DateTime.UtcNow:yyyy-MM-dd}",
            path);
        output.WriteLine($"Chart: {path}");
    }

    output.WriteLine(FormattableString.Invariant($"Load average (1/5/15 min) at the end: {HostInfo.LoadAverage()}; total time {total.Elapsed.TotalSeconds:0} s."));
    return results.Any(r => r.Errors > 0 || r.ServerLogEntries > 0) ? 1 : 0;
}
finally
{
    foreach (ServiceTarget target in targets)
    {
        if (target.Logs is { Count: > 0 } logs)
        {
            await Console.Error.WriteLineAsync($"{target.Label}: the service logged {logs.Count} warning(s) or error(s), first: {string.Join(" | ", logs.First)}").ConfigureAwait(false);
        }

        await target.DisposeAsync().ConfigureAwait(false);
    }
}

// Tiered compilation (with PGO) needs seconds of this load on 2 busy cores to bring the gRPC stack, Kestrel and
// SocketsHttpHandler to their final code, and until it has, the first mode measured is the slowest (at 64 streams of
// 16x16, steps/s rose from 28 k in the first second to 121 k in the twelfth). So before anything is measured the modes
// take turns, 1 s each at the largest N, until a whole round JIT-compiles fewer than JitQuiet methods (at least two
// rounds, at most --jit-warmup seconds); the rates and the methods compiled in each turn are printed.
static async Task JitWarmup(IReadOnlyList<ServiceTarget> targets, LoadOptions options, TextWriter output)
{
    const int JitQuiet = 100;
    if (options.JitWarmup <= 0)
    {
        return;
    }

    int streams = options.Streams.Max();
    LoadOptions slice = options with { Warmup = 0, Seconds = 1 };
    var turns = targets.Select(_ => new List<string>()).ToArray();
    var clock = Stopwatch.StartNew();
    for (int round = 0; clock.Elapsed.TotalSeconds < options.JitWarmup; round++)
    {
        long roundMethods = 0;
        for (int t = 0; t < targets.Count; t++)
        {
            long methods = JitInfo.GetCompiledMethodCount();
            RunResult run = await LoadRun.MeasureAsync(targets[t], streams, slice).ConfigureAwait(false);
            methods = JitInfo.GetCompiledMethodCount() - methods;
            roundMethods += methods;
            turns[t].Add(string.Create(CultureInfo.InvariantCulture, $"{Report.Rate(run.StepsPerSecond)} ({methods})"));
            if (run.Errors > 0)
            {
                output.WriteLine($"JIT warm-up, {targets[t].Label}: {run.Errors} error(s), first: {run.FirstError}");
            }
        }

        if (round >= 1 && roundMethods < JitQuiet)
        {
            break;
        }
    }

    output.WriteLine(string.Create(
        CultureInfo.InvariantCulture,
        $"JIT warm-up, not measured ({clock.Elapsed.TotalSeconds:0} s; turns of 1 s at {streams} streams, steps/s and (methods JIT-compiled in the turn)): " +
        $"{string.Join("; ", targets.Select((t, k) => $"{t.Label}: {string.Join(", ", turns[k])}"))}"));
    output.WriteLine();
}

// The --disconnects soak: per mode, the checkpoints of DisconnectSoak as a table, then the verdict. Fails (exit 1) when a
// slot was never freed, a client failed in a way no disconnect explains, or the service logged a warning or error.
static async Task<int> Soak(IReadOnlyList<ServiceTarget> targets, LoadOptions options, string[] args, TextWriter output)
{
    int chunk = Math.Max(1, options.Disconnects / 10);
    output.WriteLine($"## LstmService disconnect soak: {options.Disconnects} abrupt disconnects per mode");
    output.WriteLine();
    output.WriteLine($"- host: {HostInfo.Describe()}");
    output.WriteLine($"- date: {DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)} UTC");
    output.WriteLine($"- command: `dotnet run -c Release --project samples/LstmService.LoadTest --{string.Concat(args.Select(a => " " + Quote(a)))}`");
    output.WriteLine(
        $"- {options.Size}×{options.Size}, {options.Layers} layer(s); 16 clients at a time, each opens a stream and leaves it abruptly, in turn: its own " +
        "connection reset (TCP RST) after a frame is written, the same after a round trip and a second frame, a cancel (RST_STREAM) " +
        "with a frame in flight, a 50 ms deadline passing while the server waits for a frame. After every chunk: wait until the " +
        "service's active-streams gauge is 0, then a full compacting GC; heap and working set are the whole process (client included).");
    output.WriteLine();
    bool ok = true;
    foreach (ServiceTarget target in targets)
    {
        LstmEngine engine = target.Engine!;
        var (checkpoints, unexpected, first) = await DisconnectSoak.RunAsync(
            target.Address, target.Info.InputSize, options.Disconnects, chunk, parallel: 16,
            () => (engine.ActiveStreams, engine.Batcher?.OpenStreams ?? 0)).ConfigureAwait(false);
        output.WriteLine($"### {target.Label}");
        output.WriteLine();
        output.WriteLine("| disconnects | active streams | open batcher slots | managed heap (MB) | working set (MB) | elapsed (s) |");
        output.WriteLine("| ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (SoakCheckpoint c in checkpoints)
        {
            output.WriteLine(FormattableString.Invariant(
                $"| {c.Disconnects} | {c.ActiveStreams} | {c.OpenSlots} | {c.HeapBytes / 1048576.0:0.00} | {c.WorkingSetBytes / 1048576.0:0.0} | {c.Elapsed.TotalSeconds:0.0} |"));
        }

        SoakCheckpoint baseline = checkpoints[0], last = checkpoints[^1];
        int logged = target.Logs?.Count ?? 0;
        output.WriteLine();
        long growth = last.HeapBytes - baseline.HeapBytes;
        int span = Math.Max(1, last.Disconnects - baseline.Disconnects);
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"Heap from the first checkpoint to the last: {growth / 1024.0:+0.0;-0.0} KB over {span} disconnects ({(double)growth / span:+0;-0} B each); " +
            $"streams left open at the end: {last.ActiveStreams} (gauge), {last.OpenSlots} (batcher); unexpected client failures: {unexpected}; " +
            $"service warnings/errors logged: {logged}."));
        if (first is not null)
        {
            output.WriteLine($"First unexpected failure: {first}");
        }

        output.WriteLine();
        ok &= checkpoints.All(c => c.ActiveStreams == 0 && c.OpenSlots == 0) && unexpected == 0 && logged == 0;
    }

    return ok ? 0 : 1;
}

// The repository root (where LstmKernels.sln is), from the current directory up; the current directory if none.
static string RepositoryRoot()
{
    for (DirectoryInfo? d = new(Environment.CurrentDirectory); d is not null; d = d.Parent)
    {
        if (File.Exists(Path.Combine(d.FullName, "LstmKernels.sln")))
        {
            return d.FullName;
        }
    }

    return Environment.CurrentDirectory;
}

static string Quote(string arg) => arg.Length > 0 && !arg.Any(c => char.IsWhiteSpace(c) || c is '"' or '\'' or '$' or '`') ? arg : $"'{arg.Replace("'", "'\\''", StringComparison.Ordinal)}'";
