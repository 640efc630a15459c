using BenchmarkDotNet.Attributes;

namespace LstmKernels.Benchmarks;

/// <summary>
/// Issue 13's streams benchmark under BenchmarkDotNet: <see cref="Streams"/> closed-loop streams on the thread pool
/// (the <see cref="StreamLoops"/> of the quick report's streams table), served by one <see cref="LstmSession"/> each
/// (the baseline), by one <see cref="LstmBatcher"/> with maxBatch = <see cref="Streams"/> (default options, and with
/// continuations run on the batch's thread), by ONNX Runtime (one shared
/// single-step session, a binding and state per stream), against the bare batch step on one thread (the ideal).
/// </summary>
/// <remarks>
/// <para>
/// One operation is one step of one stream: every invocation takes <see cref="StepsPerInvoke"/> steps in all,
/// <see cref="StepsPerInvoke"/> / <see cref="Streams"/> per stream (8 each at 64 streams; the bare batch: as many batch
/// steps of all rows). <c>OperationsPerInvoke</c> must be a constant, so the total is fixed rather than the steps per stream.
/// </para>
/// <para>
/// ONNX Runtime's LSTM has no bfloat16 weights: its setup throws <see cref="NotSupportedException"/> for
/// <see cref="WeightPrecision.BFloat16"/>, and BenchmarkDotNet reports those cases as NA rather than timing a float32
/// model under a bfloat16 label.
/// </para>
/// </remarks>
[MemoryDiagnoser]
[Config(typeof(BenchConfig))]
public class StreamsBenchmarks : IDisposable
{
    /// <summary>Steps per invocation, all streams together: 8 per stream at the most streams.</summary>
    public const int StepsPerInvoke = 512;

    private IStreamContender? contender;
    private StreamLoops? loops;
    private BareBatch? bare;

    /// <summary>I = H.</summary>
    [Params(256, 512)]
    public int Size { get; set; }

    [Params(WeightPrecision.Float32, WeightPrecision.BFloat16)]
    public WeightPrecision Precision { get; set; }

    /// <summary>N, the concurrent streams (and the batcher's maxBatch).</summary>
    [Params(1, 16, 64)]
    public int Streams { get; set; }

    [GlobalSetup(Target = nameof(Sessions))]
    public void SetupSessions() => Start(new SessionStreams(Model(), Streams));

    [GlobalSetup(Target = nameof(Batcher))]
    public void SetupBatcher() => Start(new BatcherStreams(Model(), Streams));

    [GlobalSetup(Target = nameof(BatcherPoolContinuations))]
    public void SetupBatcherPoolContinuations() => Start(new BatcherStreams(Model(), Streams, asyncContinuations: true));

    [GlobalSetup(Target = nameof(OnnxRuntime))]
    public void SetupOnnxRuntime() => Start(new OrtStreams(Model(), Streams));

    [GlobalSetup(Target = nameof(BareBatch))]
    public void SetupBareBatch() => bare = new BareBatch(Model(), Streams);

    [GlobalCleanup]
    public void Dispose()
    {
        loops?.Dispose();
        contender?.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>One <see cref="LstmSession"/> per stream: a synchronous step, then <c>await Task.Yield()</c>.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = StepsPerInvoke)]
    public long Sessions() => Round();

    /// <summary>One <see cref="LstmStream"/> per stream of one batcher: <c>await stream.StepAsync(x, y)</c>.</summary>
    [Benchmark(OperationsPerInvoke = StepsPerInvoke)]
    public long Batcher() => Round();

    /// <summary>As <see cref="Batcher"/> with <see cref="LstmBatcherOptions.RunContinuationsAsynchronously"/> = true: continuations go to the thread pool.</summary>
    [Benchmark(OperationsPerInvoke = StepsPerInvoke)]
    public long BatcherPoolContinuations() => Round();

    /// <summary>All rows as one <see cref="LstmCell.Forward"/> batch in a loop on one thread: no streams, the ideal.</summary>
    [Benchmark(OperationsPerInvoke = StepsPerInvoke)]
    public void BareBatch()
    {
        for (int k = StepsPerInvoke / Streams; k > 0; k--)
        {
            bare!.Step();
        }
    }

    /// <summary>ONNX Runtime, one binding and state per stream over one shared single-step session (float32 only).</summary>
    [Benchmark(OperationsPerInvoke = StepsPerInvoke)]
    public long OnnxRuntime() => Round();

    private StreamsModel Model() => new(Size, Precision);

    private void Start(IStreamContender streams)
    {
        contender = streams;
        loops = new StreamLoops(streams);
    }

    private long Round() => loops!.Run(StepsPerInvoke / Streams, double.PositiveInfinity, recordLatency: false).Steps;
}
