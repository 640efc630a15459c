using BenchmarkDotNet.Attributes;

namespace LstmKernels.Benchmarks;

/// <summary>
/// Batch 1, one step: the read floor (baseline: the Ratio column reads "× the floor"), the fused cell (float32,
/// bfloat16, int8, and float32 on two threads) and ONNX Runtime's LSTM operator on the same weights, side by side
/// in one run. (Methods are not called LstmKernels: BenchmarkDotNet's generated code would take it for the namespace.)
/// </summary>
[MemoryDiagnoser]
[Config(typeof(BenchConfig))]
public class PeerStepBenchmarks : IDisposable
{
    private PeerModel model = null!;

    public static IEnumerable<CellShape> Shapes => CellShape.Standard;

    [ParamsSource(nameof(Shapes))]
    public CellShape Shape { get; set; }

    [GlobalSetup]
    public void Setup() => model = new PeerModel(Shape);

    [GlobalCleanup]
    public void Dispose()
    {
        model.Dispose();
        GC.SuppressFinalize(this);
    }

    [Benchmark(Baseline = true)]
    public float Floor() => model.StepFloor.Run();

    [Benchmark]
    public void Fused() => model.Step();

    [Benchmark]
    public void FusedBFloat16() => model.StepBFloat16();

    [Benchmark]
    public void FusedInt8() => model.StepInt8();

    [Benchmark]
    public void FusedTwoThreads() => model.StepTwoThreads();

    [Benchmark]
    public void OnnxRuntime() => model.OrtStep.Run();
}

/// <summary>
/// Batch 1, per step of a 64-step sequence: the recurrent read floor (baseline), <see cref="LstmCell.ForwardSequence"/>
/// and ONNX Runtime over the whole sequence; times are per step (<c>OperationsPerInvoke</c>).
/// </summary>
[MemoryDiagnoser]
[Config(typeof(BenchConfig))]
public class PeerSequenceBenchmarks : IDisposable
{
    private PeerModel model = null!;

    public static IEnumerable<CellShape> Shapes => CellShape.Standard;

    [ParamsSource(nameof(Shapes))]
    public CellShape Shape { get; set; }

    [GlobalSetup]
    public void Setup() => model = new PeerModel(Shape);

    [GlobalCleanup]
    public void Dispose()
    {
        model.Dispose();
        GC.SuppressFinalize(this);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = PeerModel.SequenceSteps)]
    public float Floor() => model.SequenceFloor();

    [Benchmark(OperationsPerInvoke = PeerModel.SequenceSteps)]
    public void Fused() => model.Sequence();

    [Benchmark(OperationsPerInvoke = PeerModel.SequenceSteps)]
    public void OnnxRuntime() => model.OrtSequence.Run();
}
