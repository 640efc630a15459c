using BenchmarkDotNet.Attributes;

namespace LstmKernels.Benchmarks;

/// <summary>
/// One whole LSTM step, in place, three ways: the reference (baseline), the fused <see cref="LstmCell"/>, and the
/// unfused kernels (projection into a <c>[B, 4H]</c> buffer, then the pointwise stage), side by side.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(BenchConfig))]
public class CellStepBenchmarks
{
    // Set in Setup, once per parameter case.
    private StepModel model = null!;
    private StepState state = null!;

    public static IEnumerable<CellShape> Shapes => CellShape.Standard;

    [ParamsSource(nameof(Shapes), Priority = -1)]
    public CellShape Shape { get; set; }

    [Params(1, 16)]
    public int Batch { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        model = new StepModel(Shape, Batch);
        state = model.NewState();
    }

    [Benchmark(Baseline = true)]
    public void Reference() => model.Reference(state);

    [Benchmark]
    public void Fused() => model.Fused(state);

    [Benchmark]
    public void Unfused() => model.Unfused(state);
}
