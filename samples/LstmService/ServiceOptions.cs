using System.Globalization;
using LstmKernels;

namespace LstmService;

/// <summary>The service's settings, from the command line (<see cref="Parse"/>) or set directly by a test or a load test.</summary>
public sealed record class ServiceOptions
{
    /// <summary>The default port; the default address is loopback only.</summary>
    public const int DefaultPort = 5077;

    /// <summary>The command-line help.</summary>
    public const string Usage = """
        usage: LstmService [options]
          --model PATH          a PyTorch nn.LSTM state_dict (.safetensors, or .pt/.pth from torch.save) or an ONNX model
                                (.onnx, e.g. from torch.onnx.export); forward, any layers; proj_size allowed in float32
          --prefix NAME         the LSTM's prefix in the state_dict, e.g. "lstm." (default: none)
          --precision P         float32 | bfloat16 | int8: how the weights are stored (default float32)
          --step-threads T      auto | 1 | 2: threads one step (with batching, one batch) may use (LstmOptions.StepThreads);
                                auto (default): 2 with batching on a machine of 2+ cores when the model can, else 1
          --max-streams N       the most gRPC streams open at once; one more gets RESOURCE_EXHAUSTED (default 1024)
          --max-batch N         the most steps in one batch (default 64)
          --batch-wait-us N     how long the batcher's engine thread may wait for fuller batches, 0..10000 (default 0)
          --no-batching         one LstmSession per stream instead of one LstmBatcher for all
          --inline-continuations  with batching: after a batch, the handlers resume on the batcher's thread (default)
          --pool-continuations  with batching: after a batch, the handlers resume on the thread pool
          --port N              listen on http://127.0.0.1:N (default 5077)
          --urls URLS           listen on these URLs instead, ';'-separated (HTTP/2 without TLS), e.g. http://0.0.0.0:5077
          --drain-timeout S     on shutdown, how long to wait for open streams to finish their step in flight (default 10)
          --help                this text
        Without --model the service runs a deterministic model: 2 layers, input 64, hidden 256, seed 15.
        """;

    /// <summary>The safetensors file with an <c>nn.LSTM</c> state_dict, or null for <see cref="DefaultModel"/>.</summary>
    public string? ModelPath { get; init; }

    /// <summary>The LSTM's prefix in the state_dict (e.g. <c>"lstm."</c>).</summary>
    public string ModelPrefix { get; init; } = "";

    /// <summary>How the weights are stored.</summary>
    public WeightPrecision Precision { get; init; } = WeightPrecision.Float32;

    /// <summary>
    /// <see cref="LstmOptions.StepThreads"/> of the served model, or null (the default) to choose: 2 with batching on a
    /// machine of two or more cores, when the model takes the fused route (no projections, peepholes, clip or other
    /// activations); else 1. With batching, the batcher's one engine thread runs every batch and is the service's
    /// bottleneck (at 64 streams of 512×512 on 2 vCPUs it was 0.9 of a core busy while the process left half a core
    /// idle); a second step thread splits each batch's panels over that idle core. Without batching, 64 sessions already
    /// keep every core busy, so each step stays on one thread.
    /// </summary>
    public int? StepThreads { get; init; }

    /// <summary>The step threads the model is built with: <see cref="StepThreads"/>, or the automatic choice.</summary>
    public int ResolvedStepThreads => StepThreads ?? (Batching && Environment.ProcessorCount >= 2 ? 2 : 1);

    /// <summary>The most streams (gRPC calls of Run) open at once.</summary>
    public int MaxStreams { get; init; } = 1024;

    /// <summary>The most steps in one batch.</summary>
    public int MaxBatch { get; init; } = 64;

    /// <summary>The batcher's <see cref="LstmBatcherOptions.BatchWait"/>.</summary>
    public TimeSpan BatchWait { get; init; } = TimeSpan.Zero;

    /// <summary>One <see cref="LstmBatcher"/> for all streams (true) or one <see cref="LstmSession"/> per stream.</summary>
    public bool Batching { get; init; } = true;

    /// <summary>
    /// With batching: the batcher's <see cref="LstmBatcherOptions.RunContinuationsAsynchronously"/>. False (the
    /// default): after a batch, each handler resumes on the batcher's engine thread, which records the step, builds and
    /// writes the reply and asks for the next frame for every stream of the batch before it runs the next batch. None of
    /// that blocks: a write held by HTTP/2 flow control and a read with no frame yet return incomplete tasks, and the
    /// handler goes on later on the thread pool. Meanwhile the batcher stays busy, so frames that arrive queue up for
    /// the next batch instead of finding it idle and running alone. True: each handler resumes on the thread pool.
    /// </summary>
    /// <remarks>
    /// Measured with samples/LstmService.LoadTest (2 vCPUs, 512x512, 64 closed-loop streams, 21 runs): inline
    /// continuations gave the fuller batches in 18 runs, more steps/s in 16 and a lower p99 in 14 of 19 (medians 19.5 k
    /// against 17.7 k steps/s); see README.md, "Continuations".
    /// </remarks>
    public bool PoolContinuations { get; init; }

    /// <summary>The URLs Kestrel listens on, ';'-separated; port 0 picks a free port (read it from <c>WebApplication.Urls</c> after start).</summary>
    public string Urls { get; init; } = Invariant($"http://127.0.0.1:{DefaultPort}");

    /// <summary>The host's shutdown timeout: how long open streams get to finish their step in flight.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// After the drain, how long the connections stay open before Kestrel stops (only if streams were open): the time
    /// clients get to read their UNAVAILABLE trailers before the connection closes under them (see
    /// <see cref="LstmEngine.StoppingAsync"/>).
    /// </summary>
    public TimeSpan DrainLinger { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Whether <c>--help</c> was given.</summary>
    public bool ShowHelp { get; init; }

    /// <summary>Parses the command line.</summary>
    /// <exception cref="ArgumentException">An unknown option, a missing or bad value.</exception>
    public static ServiceOptions Parse(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var options = new ServiceOptions();
        bool port = false, urls = false;
        for (int k = 0; k < args.Count; k++)
        {
            string arg = args[k];
            switch (arg)
            {
                case "--model":
                    options = options with { ModelPath = CommandLine.Value(args, ref k) };
                    break;
                case "--prefix":
                    options = options with { ModelPrefix = CommandLine.Value(args, ref k) };
                    break;
                case "--precision":
                    options = options with { Precision = CommandLine.ParsePrecision(CommandLine.Value(args, ref k)) };
                    break;
                case "--step-threads":
                    options = options with
                    {
                        StepThreads = CommandLine.Value(args, ref k) switch
                        {
                            "auto" => null,
                            "1" => 1,
                            "2" => 2,
                            var other => throw new ArgumentException($"--step-threads takes auto, 1 or 2, not '{other}'."),
                        },
                    };
                    break;
                case "--max-streams":
                    options = options with { MaxStreams = Int(args, ref k, 1, 1 << 20) };
                    break;
                case "--max-batch":
                    options = options with { MaxBatch = Int(args, ref k, 1, 1 << 16) };
                    break;
                case "--batch-wait-us":
                    options = options with { BatchWait = TimeSpan.FromMicroseconds(Int(args, ref k, 0, 10_000)) };
                    break;
                case "--no-batching":
                    options = options with { Batching = false };
                    break;
                case "--pool-continuations":
                    options = options with { PoolContinuations = true };
                    break;
                case "--inline-continuations":
                    options = options with { PoolContinuations = false };
                    break;
                case "--port":
                    port = true;
                    options = options with { Urls = Invariant($"http://127.0.0.1:{Int(args, ref k, 0, 65535)}") };
                    break;
                case "--urls":
                    urls = true;
                    options = options with { Urls = CommandLine.Value(args, ref k) };
                    break;
                case "--drain-timeout":
                    options = options with { DrainTimeout = TimeSpan.FromSeconds(Int(args, ref k, 0, 3600)) };
                    break;
                case "--help" or "-h":
                    options = options with { ShowHelp = true };
                    break;
                default:
                    throw new ArgumentException($"Unknown option '{arg}'.");
            }
        }

        if (port && urls)
        {
            throw new ArgumentException("Give --port or --urls, not both.");
        }

        return options;
    }

    /// <summary>The precision's command-line name.</summary>
    public static string PrecisionName(WeightPrecision precision) => precision switch
    {
        WeightPrecision.BFloat16 => "bfloat16",
        WeightPrecision.Int8 => "int8",
        _ => "float32",
    };

    private static int Int(IReadOnlyList<string> args, ref int k, int min, int max)
    {
        string name = args[k];
        string text = CommandLine.Value(args, ref k);
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) || value < min || value > max)
        {
            throw new ArgumentException($"{name} takes a whole number from {min} to {max}, not '{text}'.");
        }

        return value;
    }

    private static string Invariant(FormattableString text) => FormattableString.Invariant(text);
}
