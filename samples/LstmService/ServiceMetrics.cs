using System.Diagnostics.Metrics;
using Grpc.Core;

namespace LstmService;

/// <summary>
/// The service's instruments, on the meter <see cref="MeterName"/> (<c>dotnet-counters monitor --counters
/// LstmKernels.Service</c>). Created through <see cref="IMeterFactory"/>: each host has its own <see cref="Meter"/>
/// object, so a test or a load test that runs several hosts in one process listens to exactly one (see
/// <see cref="Meter"/>), while dotnet-counters and OpenTelemetry, which match by name, see all.
/// </summary>
public sealed class ServiceMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "LstmKernels.Service";

    /// <summary>Counter: steps run (one per frame answered).</summary>
    public const string Steps = "lstmkernels.service.steps";

    /// <summary>Counter: streams refused at open, tag <c>reason</c> = <c>stream_cap</c> or <c>shutting_down</c>.</summary>
    public const string RejectedStreams = "lstmkernels.service.rejected_streams";

    /// <summary>
    /// Counter: admitted streams that ended, tag <c>status</c>: <c>ok</c> (the client closed its side), <c>cancelled</c>
    /// (cancel, reset, disconnect, deadline), <c>invalid_argument</c> (a frame of the wrong length),
    /// <c>resource_exhausted</c> (a message over the size limit), <c>unavailable</c> (shutdown), <c>unknown</c> (a bug).
    /// </summary>
    public const string EndedStreams = "lstmkernels.service.ended_streams";

    /// <summary>Histogram, µs: one step as its stream sees it, from the call to its completion (with batching, queueing included).</summary>
    public const string StepDuration = "lstmkernels.service.step.duration";

    /// <summary>Observable counter: batches run (without batching, every step is a batch of one).</summary>
    public const string Batches = "lstmkernels.service.batches";

    /// <summary>Observable gauge: the mean batch size since the previous observation (steps / batches of the interval).</summary>
    public const string BatchSize = "lstmkernels.service.batch.size";

    /// <summary>Observable gauge: streams open now.</summary>
    public const string ActiveStreams = "lstmkernels.service.active_streams";

    private static readonly KeyValuePair<string, object?> StreamCap = new("reason", "stream_cap");
    private static readonly KeyValuePair<string, object?> ShuttingDown = new("reason", "shutting_down");

    // One boxed tag per status, made once: recording one allocates nothing.
    private static readonly KeyValuePair<string, object?>[] StatusTags =
    [
        .. Enum.GetValues<StatusCode>().OrderBy(c => (int)c).Select(c => new KeyValuePair<string, object?>("status", SnakeCase(c))),
    ];

    private readonly Counter<long> steps;
    private readonly Counter<long> rejected;
    private readonly Counter<long> ended;
    private readonly Histogram<double> stepDuration;
    private readonly LstmEngine engine;
    private readonly object batchGate = new();
    private long lastSteps;
    private long lastBatches;

    /// <summary>Creates the instruments.</summary>
    public ServiceMetrics(IMeterFactory meterFactory, LstmEngine engine)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        ArgumentNullException.ThrowIfNull(engine);
        this.engine = engine;
        Meter = meterFactory.Create(MeterName);
        steps = Meter.CreateCounter<long>(Steps, "{step}", "Steps run, one per frame answered.");
        rejected = Meter.CreateCounter<long>(RejectedStreams, "{stream}", "Streams refused at open (reason: stream_cap, shutting_down).");
        ended = Meter.CreateCounter<long>(EndedStreams, "{stream}", "Admitted streams that ended, by gRPC status.");
        stepDuration = Meter.CreateHistogram(
            StepDuration,
            "us",
            "One step as its stream sees it: from the call to its completion, queueing for a batch included.",
            tags: null,
            new InstrumentAdvice<double> { HistogramBucketBoundaries = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000] });
        Meter.CreateObservableCounter(Batches, () => engine.BatchCount, "{batch}", "Batches run; without batching every step is a batch of one.");
        Meter.CreateObservableGauge(BatchSize, ObserveBatchSize, "{step}", "Mean steps per batch since the previous observation.");
        Meter.CreateObservableGauge(ActiveStreams, () => engine.ActiveStreams, "{stream}", "Streams open now.");
    }

    /// <summary>This host's meter (to filter a <see cref="MeterListener"/> by instance).</summary>
    public Meter Meter { get; }

    /// <summary>Records one step and its duration. Allocation-free: no tags.</summary>
    public void RecordStep(double microseconds)
    {
        steps.Add(1);
        stepDuration.Record(microseconds);
    }

    /// <summary>Counts a stream refused at the cap (<paramref name="atCap"/>) or during shutdown.</summary>
    public void RecordRejected(bool atCap) => rejected.Add(1, atCap ? StreamCap : ShuttingDown);

    /// <summary>Counts an admitted stream that ended with <paramref name="status"/>.</summary>
    public void RecordEnded(StatusCode status) =>
        ended.Add(1, (int)status < StatusTags.Length ? StatusTags[(int)status] : new("status", status.ToString().ToUpperInvariant()));

    private static string SnakeCase(StatusCode code) => code switch
    {
        StatusCode.OK => "ok",
        StatusCode.InvalidArgument => "invalid_argument",
        StatusCode.DeadlineExceeded => "deadline_exceeded",
        StatusCode.NotFound => "not_found",
        StatusCode.AlreadyExists => "already_exists",
        StatusCode.PermissionDenied => "permission_denied",
        StatusCode.ResourceExhausted => "resource_exhausted",
        StatusCode.FailedPrecondition => "failed_precondition",
        StatusCode.OutOfRange => "out_of_range",
        StatusCode.DataLoss => "data_loss",
        _ => code.ToString().ToLowerInvariant(),
    };

    // Each observation reports the interval since the previous one; with two listeners they split the intervals.
    private IEnumerable<Measurement<double>> ObserveBatchSize()
    {
        long s = engine.StepCount, b = engine.BatchCount;
        double? mean = null;
        lock (batchGate)
        {
            if (b > lastBatches)
            {
                mean = (double)(s - lastSteps) / (b - lastBatches);
            }

            lastSteps = s;
            lastBatches = b;
        }

        return mean is double m ? [new Measurement<double>(m)] : [];
    }
}
