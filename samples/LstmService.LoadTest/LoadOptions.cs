using System.Globalization;
using LstmKernels;

namespace LstmService.LoadTest;

/// <summary>How the service is served in one column of the tables.</summary>
internal enum ServeMode
{
    /// <summary>One <see cref="LstmSession"/> per stream (<c>--no-batching</c>).</summary>
    Off,

    /// <summary>One <see cref="LstmBatcher"/>, handlers resume on its engine thread (<c>--inline-continuations</c>).</summary>
    Inline,

    /// <summary>One <see cref="LstmBatcher"/>, handlers resume on the thread pool (<c>--pool-continuations</c>).</summary>
    Pool,

    /// <summary>A service at <c>--url</c>, served however it is (read from its Info).</summary>
    External,
}

/// <summary>The load test's settings, from the command line.</summary>
internal sealed record class LoadOptions
{
    public const string Usage = """
        usage: LstmService.LoadTest [options]
          --streams N,N,...     concurrent gRPC streams per run, each a closed loop (default 1,16,64)
          --seconds S           the measured window of each run (default 5)
          --warmup S            streams run this long before each window (default 1)
          --jit-warmup S        before the first run, the modes take turns at the largest N, 1 s each, until a round
                                JIT-compiles under 100 methods, for at most S seconds (default 30; 0: none)
          --size N              I = H of every layer (default 512)
          --layers L            layers (default 1)
          --precision P         float32 | bfloat16 | int8 weights (default float32)
          --step-threads T      auto | 1 | 2: the model's LstmOptions.StepThreads; auto (default) is the service's own
                                default: 2 for the batching modes on 2+ cores, 1 without batching
          --max-batch N         the service's --max-batch (default 64)
          --batch-wait-us N     the service's --batch-wait-us (default 0)
          --modes M,M,...       off (one LstmSession per stream), inline (batcher, handlers resume on its engine thread),
                                pool (batcher, handlers resume on the thread pool); default off,inline,pool
          --connections C       HTTP/2 connections the streams are spread over (default 1)
          --max-steps N         a hard cap on the steps of one run, warm-up included (default 2000000)
          --url URL             load a running service at this loopback URL instead (one column, no server-side columns)
          --disconnects N       instead of the load runs: N clients per mode that open a stream and leave it abruptly
                                (connection reset mid-step or after a round trip, cancel, deadline), 16 at a time; after
                                every N/10 the active-streams gauge, the batcher's open slots and the memory (in-process only)
          --chart PATH          the chart (default docs/serving.png under the repository root; "none" for no chart)
          --help                this text
        Each run starts its streams, lets them run --warmup seconds, measures --seconds, then closes them. A run that
        passes its window by 30 s is cancelled and counted as errors.
        """;

    public IReadOnlyList<int> Streams { get; init; } = [1, 16, 64];

    public double Seconds { get; init; } = 5;

    public double Warmup { get; init; } = 1;

    public double JitWarmup { get; init; } = 30;

    public int Size { get; init; } = 512;

    public int Layers { get; init; } = 1;

    public WeightPrecision Precision { get; init; } = WeightPrecision.Float32;

    /// <summary>The model's step threads, or null for the service's automatic choice per mode.</summary>
    public int? StepThreads { get; init; }

    public int MaxBatch { get; init; } = 64;

    public int BatchWaitMicroseconds { get; init; }

    public IReadOnlyList<ServeMode> Modes { get; init; } = [ServeMode.Off, ServeMode.Inline, ServeMode.Pool];

    public int Connections { get; init; } = 1;

    public long MaxSteps { get; init; } = 2_000_000;

    public Uri? Url { get; init; }

    public int Disconnects { get; init; }

    public string? ChartPath { get; init; } = DefaultChart;

    public bool ShowHelp { get; init; }

    public const string DefaultChart = "docs/serving.png";

    /// <exception cref="ArgumentException">An unknown option, a missing or bad value.</exception>
    public static LoadOptions Parse(IReadOnlyList<string> args)
    {
        var options = new LoadOptions();
        for (int k = 0; k < args.Count; k++)
        {
            string arg = args[k];
            options = arg switch
            {
                "--streams" => options with { Streams = IntList(args, ref k, 1, 1024) },
                "--seconds" => options with { Seconds = Real(args, ref k, 0.1, 600) },
                "--warmup" => options with { Warmup = Real(args, ref k, 0, 600) },
                "--jit-warmup" => options with { JitWarmup = Real(args, ref k, 0, 600) },
                "--size" => options with { Size = Int(args, ref k, 1, 8192) },
                "--layers" => options with { Layers = Int(args, ref k, 1, 16) },
                "--precision" => options with { Precision = CommandLine.ParsePrecision(CommandLine.Value(args, ref k)) },
                "--step-threads" => options with
                {
                    StepThreads = CommandLine.Value(args, ref k) switch
                    {
                        "auto" => null,
                        "1" => 1,
                        "2" => 2,
                        var other => throw new ArgumentException($"--step-threads takes auto, 1 or 2, not '{other}'."),
                    },
                },
                "--max-batch" => options with { MaxBatch = Int(args, ref k, 1, 1 << 16) },
                "--batch-wait-us" => options with { BatchWaitMicroseconds = Int(args, ref k, 0, 10_000) },
                "--modes" => options with { Modes = ParseModes(CommandLine.Value(args, ref k)) },
                "--connections" => options with { Connections = Int(args, ref k, 1, 64) },
                "--max-steps" => options with { MaxSteps = Int(args, ref k, 1, int.MaxValue) },
                "--url" => options with { Url = ParseUrl(CommandLine.Value(args, ref k)) },
                "--disconnects" => options with { Disconnects = Int(args, ref k, 1, 1_000_000) },
                "--chart" => options with { ChartPath = CommandLine.Value(args, ref k) is var path && path == "none" ? null : path },
                "--help" or "-h" => options with { ShowHelp = true },
                _ => throw new ArgumentException($"Unknown option '{arg}'."),
            };
        }

        if (options.Url is not null && options.Disconnects > 0)
        {
            throw new ArgumentException("--disconnects reads the service's gauge and memory, so it runs only on the in-process service, not with --url.");
        }

        return options.Url is null ? options : options with { Modes = [ServeMode.External] };
    }

    /// <summary>The service options of an in-process host in <paramref name="mode"/>.</summary>
    public ServiceOptions ServiceOptions(ServeMode mode) => new()
    {
        Urls = "http://127.0.0.1:0",
        Precision = Precision,
        MaxBatch = MaxBatch,
        BatchWait = TimeSpan.FromMicroseconds(BatchWaitMicroseconds),
        Batching = mode != ServeMode.Off,
        PoolContinuations = mode == ServeMode.Pool,
        StepThreads = StepThreads,
        MaxStreams = Math.Max(1024, Streams.Max()),
    };

    private static List<ServeMode> ParseModes(string text)
    {
        var modes = new List<ServeMode>();
        foreach (string name in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            ServeMode mode = name switch
            {
                "off" => ServeMode.Off,
                "inline" => ServeMode.Inline,
                "pool" => ServeMode.Pool,
                _ => throw new ArgumentException($"--modes takes off, inline and pool, not '{name}'."),
            };
            if (!modes.Contains(mode))
            {
                modes.Add(mode);
            }
        }

        return modes.Count > 0 ? modes : throw new ArgumentException("--modes needs at least one mode.");
    }

    private static Uri ParseUrl(string text)
    {
        // Loopback only: this tool puts a closed-loop load on whatever it is pointed at.
        if (!Uri.TryCreate(text, UriKind.Absolute, out Uri? url) || url.Scheme != Uri.UriSchemeHttp || !url.IsLoopback)
        {
            throw new ArgumentException($"--url takes a loopback http URL such as http://127.0.0.1:5077, not '{text}'.");
        }

        return url;
    }

    private static int Int(IReadOnlyList<string> args, ref int k, int min, int max)
    {
        string name = args[k];
        string text = CommandLine.Value(args, ref k);
        return ParseInt(name, text, min, max);
    }

    private static int ParseInt(string name, string text, int min, int max) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) && value >= min && value <= max
            ? value
            : throw new ArgumentException($"{name} takes whole numbers from {min} to {max}, not '{text}'.");

    private static double Real(IReadOnlyList<string> args, ref int k, double min, double max)
    {
        string name = args[k];
        string text = CommandLine.Value(args, ref k);
        return double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value) && value >= min && value <= max
            ? value
            : throw new ArgumentException($"{name} takes a number of seconds from {min} to {max}, not '{text}'.");
    }

    private static List<int> IntList(IReadOnlyList<string> args, ref int k, int min, int max)
    {
        string name = args[k];
        var values = new List<int>();
        foreach (string part in CommandLine.Value(args, ref k).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            values.Add(ParseInt(name, part, min, max));
        }

        return values.Count > 0 ? [.. values.Distinct().Order()] : throw new ArgumentException($"{name} needs at least one value.");
    }
}
