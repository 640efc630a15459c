using BenchmarkDotNet.Attributes;

namespace LstmKernels.Benchmarks;

/// <summary>The standard sizes with a <see cref="PeerModel"/> each (the cell, ONNX Runtime, the floors), built once per size.</summary>
/// <remarks>Methods are not called LstmKernels: BenchmarkDotNet's generated code would take that for the namespace.</remarks>
public abstract class PeerBenchmarksBase : IDisposable
{
    public static IEnumerable<CellShape> Shapes => CellShape.Standard;

    [ParamsSource(nameof(Shapes))]
    public CellShape Shape { get; set; }

    // Set in Setup, once per parameter case.
    private protected PeerModel Model { get; private set; } = null!;

    [GlobalSetup]
    public void Setup() => Model = new PeerModel(Shape);

    [GlobalCleanup]
    public void Dispose()
    {
        Model.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>
/// Batch 1, one step: the read floor (the packed weights read once by the fastest of <see cref="ReadFloor.Loops"/>;
/// baseline: the Ratio column reads "× the floor"), the compute floor (the step's FMAs on registers only), the fused
/// cell (float32, bfloat16, int8, and float32 on two threads) and ONNX Runtime's LSTM operator on the same weights (one
/// intra-op thread, and two against our two), side by side in one run.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(BenchConfig))]
public class PeerStepBenchmarks : PeerBenchmarksBase
{
    [Benchmark(Baseline = true)]
    public float Floor() => Model.StepFloor.Run();

    [Benchmark]
    public float FmaFloor() => Model.StepFma.Run();

    [Benchmark]
    public void Fused() => Model.Step();

    [Benchmark]
    public void FusedBFloat16() => Model.StepBFloat16();

    [Benchmark]
    public void FusedInt8() => Model.StepInt8();

    [Benchmark]
    public void FusedTwoThreads() => Model.StepTwoThreads();

    [Benchmark]
    public void OnnxRuntime() => Model.OrtStep.Run();

    [Benchmark]
    public void OnnxRuntimeTwoThreads() => Model.OrtStepTwoThreads.Run();
}

/// <summary>
/// Batch 1, per step of a 64-step sequence: the sequence floor (baseline: Wₕₕ read once by the fastest read loop plus the
/// input projection's 4H·I FMAs at the FMA peak, timed together), the recurrent read floor alone, the compute floor
/// (the step's FMAs, the same as a single step's), <see cref="LstmCell.ForwardSequence"/> (as shipped; with the
/// projection as a separate pass, i.e. without the lookahead route; and on two threads) and ONNX Runtime over the
/// whole sequence (one intra-op thread, and two); times are per step (<c>OperationsPerInvoke</c>).
/// </summary>
[MemoryDiagnoser]
[Config(typeof(BenchConfig))]
public class PeerSequenceBenchmarks : PeerBenchmarksBase
{
    [Benchmark(Baseline = true, OperationsPerInvoke = PeerModel.SequenceSteps)]
    public float Floor() => Model.SequenceFloor();

    [Benchmark(OperationsPerInvoke = PeerModel.SequenceSteps)]
    public float ReadFloor() => Model.SequenceReadFloor();

    [Benchmark(OperationsPerInvoke = PeerModel.SequenceSteps)]
    public float FmaFloor() => Model.SequenceFma();

    /// <summary>The step's pointwise stage alone (σ/tanh and the cell update of H units): work no floor counts.</summary>
    [Benchmark(OperationsPerInvoke = PeerModel.SequenceSteps)]
    public void Pointwise() => Model.Pointwise.RunSequence();

    [Benchmark(OperationsPerInvoke = PeerModel.SequenceSteps)]
    public void Fused() => Model.Sequence();

    [Benchmark(OperationsPerInvoke = PeerModel.SequenceSteps)]
    public void FusedSeparatePass() => Model.SequenceSeparatePass();

    [Benchmark(OperationsPerInvoke = PeerModel.SequenceSteps)]
    public void FusedTwoThreads() => Model.SequenceTwoThreads();

    [Benchmark(OperationsPerInvoke = PeerModel.SequenceSteps)]
    public void OnnxRuntime() => Model.OrtSequence.Run();

    [Benchmark(OperationsPerInvoke = PeerModel.SequenceSteps)]
    public void OnnxRuntimeTwoThreads() => Model.OrtSequenceTwoThreads.Run();
}

/// <summary>
/// Batch 4 and 16, per step of a 64-step sequence, one thread each: the compute floor (baseline: the step's B·4H·(I + H)
/// FMAs at the FMA peak), the read floor of Wₕₕ (at batch 4 and 512x512 and up, the larger one), the pointwise stage alone,
/// <see cref="LstmCell.ForwardSequence"/> and ONNX Runtime's LSTM over the same sequence.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(BenchConfig))]
public class PeerBatchSequenceBenchmarks : IDisposable
{
    public static IEnumerable<CellShape> Shapes => CellShape.Standard;

    [ParamsSource(nameof(Shapes))]
    public CellShape Shape { get; set; }

    [Params(4, 16)]
    public int Batch { get; set; }

    // Set in Setup, once per parameter case.
    private PeerBatchModel Model { get; set; } = null!;

    [GlobalSetup]
    public void Setup() => Model = new PeerBatchModel(Shape, Batch);

    [Benchmark(Baseline = true, OperationsPerInvoke = PeerModel.SequenceSteps)]
    public float FmaFloor() => Model.SequenceFma();

    [Benchmark(OperationsPerInvoke = PeerModel.SequenceSteps)]
    public float ReadFloor() => Model.SequenceReadFloor();

    /// <summary>The step's pointwise stage alone over [B, 4H]: work no floor counts.</summary>
    [Benchmark(OperationsPerInvoke = PeerModel.SequenceSteps)]
    public void Pointwise() => Model.Pointwise.RunSequence();

    [Benchmark(OperationsPerInvoke = PeerModel.SequenceSteps)]
    public void Fused() => Model.Sequence();

    [Benchmark(OperationsPerInvoke = PeerModel.SequenceSteps)]
    public void OnnxRuntime() => Model.OrtSequence.Run();

    [GlobalCleanup]
    public void Dispose()
    {
        Model.Dispose();
        GC.SuppressFinalize(this);
    }
}
